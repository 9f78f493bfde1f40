"""The caller, and the persona grants it gives and holds."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import DBAPIError

from app.db.rows import Row, TableRows, fetchrow, no_mind
from app.db.tenancy import Reader
from app.http.problems import ConstraintViolation, NotFound, sqlstate_of
from app.me import sql

GRANTS = TableRows(
    sql.persona_grants, "persona grant", "only the mind that gave a grant can revoke it"
)  # fmt: skip

# The grants the caller gave and those it holds, a page at a time (RLS: the
# owner and the grantee see a grant).
list_grants = GRANTS.page


async def current_mind(conn: Reader) -> Row | None:
    return await fetchrow(conn, sql.WHO_AM_I)


async def grant_persona(conn: Reader, grantee: uuid.UUID) -> tuple[Row, bool]:
    """Let `grantee` name the caller's mind as persona; idempotent. Answers
    the grant and whether it is new."""
    await sql.GRANTEE.check(conn, {"mind_id": grantee})
    try:
        row = await fetchrow(conn, sql.GRANT, grantee)
    except DBAPIError as exc:
        code = sqlstate_of(exc)
        if code in ("42501", "23502"):  # the policy, or no mind to be the owner
            raise no_mind("persona grants") from exc
        if code == "23514":
            raise ConstraintViolation(
                "a mind needs no grant to be its own projects' persona"
            ) from exc
        raise
    if row is not None:
        return row, True
    existing = await fetchrow(conn, sql.GRANTED, grantee)
    assert existing is not None  # the conflict that left it alone is the caller's grant
    return existing, False


async def revoke_persona(conn: Reader, grantee: uuid.UUID) -> None:
    """Take the grant back: the grantee's projects that name the caller's mind
    are kept, and stop being readable by it at once."""
    if await fetchrow(conn, sql.REVOKE, grantee) is None:
        raise NotFound(f"you have not granted your persona to mind {grantee}")
