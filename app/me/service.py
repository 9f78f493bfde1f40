from __future__ import annotations

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection

# The database answers who the claims make the caller: current_mind_id() is
# the function the RLS policies use, so this is exactly what they see.
_WHO_AM_I = text(
    "SELECT m.id AS mind_id, m.slug AS mind_slug, m.display_name"
    " FROM public.minds m WHERE m.id = public.current_mind_id()"
)


async def current_mind(conn: AsyncConnection) -> RowMapping | None:
    return (await conn.execute(_WHO_AM_I)).mappings().one_or_none()
