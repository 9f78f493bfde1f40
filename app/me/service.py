from __future__ import annotations

from app.db.rows import Row, fetchrow
from app.db.tenancy import Reader
from app.me import sql


async def current_mind(conn: Reader) -> Row | None:
    return await fetchrow(conn, sql.WHO_AM_I)
