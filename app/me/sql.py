"""The statements behind /v1/me and its persona grants."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from app.db.models import Mind, PersonaGrant
from app.db.rows import Reference

# Who the claims make the caller: current_mind_id() is the function the RLS
# policies use, so this is exactly what they see.
WHO_AM_I = (
    "SELECT m.id AS mind_id, m.slug AS mind_slug, m.display_name"
    " FROM public.minds m WHERE m.id = public.current_mind_id()"
)

persona_grants = cast(Table, PersonaGrant.__table__)

# The grantee must be a mind the caller can see (a public one): the foreign
# key alone would accept a private mind by its UUID, and tell that it exists.
GRANTEE = Reference(cast(Table, Mind.__table__), "mind_id", "mind")

_GRANT_COLUMNS = "id, owner_mind_id, grantee_mind_id, created_at"

# $1 the grantee. The owner is the caller (the column's default,
# current_mind_id(), which the insert policy checks); a repeat changes nothing
# and answers nothing (then GRANTED answers the grant).
GRANT = (
    "INSERT INTO public.persona_grants (grantee_mind_id) VALUES ($1)"
    " ON CONFLICT (owner_mind_id, grantee_mind_id) DO NOTHING"
    f" RETURNING {_GRANT_COLUMNS}"
)

# $1 the grantee: the caller's grant to it.
GRANTED = (
    f"SELECT {_GRANT_COLUMNS} FROM public.persona_grants"
    " WHERE owner_mind_id = public.current_mind_id() AND grantee_mind_id = $1"
)

# $1 the grantee: the caller's grant to it, revoked.
REVOKE = (
    "DELETE FROM public.persona_grants"
    " WHERE owner_mind_id = public.current_mind_id() AND grantee_mind_id = $1 RETURNING id"
)
