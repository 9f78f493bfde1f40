from __future__ import annotations

from app.db.rows import Row
from app.db.tenancy import Reader, fetch

# The database answers who the claims make the caller: current_mind_id() is
# the function the RLS policies use, so this is exactly what they see.
_WHO_AM_I = (
    "SELECT m.id AS mind_id, m.slug AS mind_slug, m.display_name"
    " FROM public.minds m WHERE m.id = public.current_mind_id()"
)


async def current_mind(conn: Reader) -> Row | None:
    rows = await fetch(conn, _WHO_AM_I)
    return dict(rows[0]) if rows else None
