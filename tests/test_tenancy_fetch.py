"""`tenancy.fetch`: the hot reads' raw asyncpg path runs inside the tenant
transaction (same role, same claims) and fails exactly like SQLAlchemy's."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tenancy import fetch, tenant_transaction
from app.http.problems import sqlstate_of
from tests.factories import Creator


async def test_fetch_runs_as_the_caller_inside_the_transaction(
    engine: AsyncEngine, alice: Creator
) -> None:
    async with tenant_transaction(engine, alice.principal, read_only=True) as conn:
        (row,) = await fetch(
            conn,
            "SELECT current_user, current_setting('request.jwt.claims', true)::jsonb ->> 'sub',"
            " current_setting('transaction_read_only'), current_mind_id()",
        )
    assert tuple(row) == ("authenticated", str(alice.user_id), "on", alice.mind_id)


async def test_fetch_errors_are_sqlalchemy_errors_with_their_sqlstate(
    engine: AsyncEngine, alice: Creator
) -> None:
    with pytest.raises(DBAPIError) as timed_out:
        async with tenant_transaction(engine, alice.principal, read_only=True) as conn:
            await conn.exec_driver_sql("SET LOCAL statement_timeout = '50ms'")
            await fetch(conn, "SELECT pg_sleep(2)")
    assert sqlstate_of(timed_out.value) == "57014"  # → 503 in the problem map

    with pytest.raises(DBAPIError) as read_only:
        async with tenant_transaction(engine, alice.principal, read_only=True) as conn:
            await fetch(conn, "INSERT INTO tags (name, tag_type) VALUES ('x', 'theme')")
    assert sqlstate_of(read_only.value) == "25006"

    # The pool is not poisoned: the next transaction works.
    async with tenant_transaction(engine, alice.principal, read_only=True) as conn:
        assert len(await fetch(conn, "SELECT 1")) == 1
