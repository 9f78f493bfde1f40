"""The door's `$n` SQL (`TenantTransaction.fetch`/`fetchrow`/`fetchval`/
`execute`, and `tenancy.fetch` on either kind of connection) runs inside the
tenant transaction (same role, same claims) and fails exactly like
SQLAlchemy's; a write's SQLAlchemy connection shares the door's transaction."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tenancy import fetch, tenant_door, tenant_transaction
from app.http.problems import ProblemError, is_connection_loss, sqlstate_of
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


# Failing statements (with their arguments) and whether they need a write.
FAILURES: list[tuple[str, tuple[Any, ...], bool]] = [
    ("SELECT 1/0", (), False),  # 22012: a plain DBAPIError
    ("SELEC 1", (), False),  # 42601: ProgrammingError
    ("SELECT * FROM no_such_table", (), False),  # 42P01: ProgrammingError
    ("SELECT $1::int", ("x",), False),  # the driver cannot encode the argument
    ("INSERT INTO tags (name, tag_type) VALUES ('x', 'theme')", (), False),  # 25006
    ("INSERT INTO tags (name, tag_type) VALUES (NULL, 'theme')", (), True),  # 23502: Integrity
]


@pytest.mark.parametrize(("statement", "args", "write"), FAILURES)
async def test_the_door_raises_what_sqlalchemy_raises(
    engine: AsyncEngine, alice: Creator, statement: str, args: tuple[Any, ...], write: bool
) -> None:
    """The door translates asyncpg's errors itself (SQLAlchemy has no public
    hook for it): the class, SQLSTATE, disconnect flag and the chain the
    problem map reads must be what SQLAlchemy's own execution gives."""

    async def through_sqlalchemy() -> DBAPIError:
        async with tenant_door(engine, alice.principal, read_only=not write, sqlalchemy=True) as d:
            assert d.connection is not None
            try:
                await d.connection.exec_driver_sql(statement, args)
            except DBAPIError as error:
                return error
        raise AssertionError(f"{statement} did not fail")

    async def through_the_door() -> DBAPIError:
        async with tenant_door(engine, alice.principal, read_only=not write) as door:
            try:
                await door.execute(statement, *args)
            except DBAPIError as error:
                return error
        raise AssertionError(f"{statement} did not fail")

    expected, got = await through_sqlalchemy(), await through_the_door()
    assert type(got) is type(expected), (type(got), type(expected))
    assert sqlstate_of(got) == sqlstate_of(expected)
    assert got.connection_invalidated == expected.connection_invalidated
    assert is_connection_loss(got) == is_connection_loss(expected)


async def test_a_lost_connection_is_reported_alike_by_both_drivers(
    engine: AsyncEngine, database: str, alice: Creator
) -> None:
    """What SQLAlchemy raises for a connection killed under it, the door
    raises too: a DBAPIError marked `connection_invalidated`, a loss (503)."""
    admin = await asyncpg.connect(database.replace("postgresql+asyncpg", "postgresql", 1))
    causes: dict[bool, BaseException | None] = {}
    try:
        for sqlalchemy in (True, False):
            with pytest.raises(ProblemError) as lost:
                async with tenant_door(
                    engine, alice.principal, read_only=True, sqlalchemy=sqlalchemy
                ) as door:
                    pid = await door.fetchval("SELECT pg_backend_pid()")
                    await admin.execute("SELECT pg_terminate_backend($1)", pid)
                    await asyncio.sleep(0.05)
                    if door.connection is not None:
                        await door.connection.exec_driver_sql("SELECT 1")
                    else:
                        await door.execute("SELECT 1")
            assert lost.value.status == 503
            causes[sqlalchemy] = lost.value.__cause__
    finally:
        await admin.close()
    expected, got = causes[True], causes[False]
    assert isinstance(expected, DBAPIError) and isinstance(got, DBAPIError)
    assert type(got) is type(expected)
    assert got.connection_invalidated and expected.connection_invalidated


async def test_the_door_runs_fetchrow_fetchval_and_execute_as_the_caller(
    engine: AsyncEngine, alice: Creator
) -> None:
    async with tenant_door(engine, alice.principal, read_only=False) as door:
        assert await door.fetchval("SELECT current_mind_id()") == alice.mind_id
        row = await door.fetchrow("SELECT current_user AS who, $1::int AS n", 7)
        assert row is not None and (row["who"], row["n"]) == ("authenticated", 7)
        assert await door.fetchrow("SELECT 1 WHERE false") is None
        status = await door.execute("CREATE TEMP TABLE probe (n int) ON COMMIT DROP")
        assert status == "CREATE TABLE"
        assert await door.execute("INSERT INTO probe VALUES ($1), ($2)", 1, 2) == "INSERT 0 2"


COUNT = "SELECT count(*) FROM content_projects WHERE slug = $1"


async def test_a_write_s_sqlalchemy_connection_shares_the_door_s_transaction(
    engine: AsyncEngine, alice: Creator
) -> None:
    slug = f"shared-{uuid.uuid4().hex[:8]}"
    insert = text(
        "INSERT INTO content_projects (slug, name, project_type) VALUES (:slug, 'S', 'course')"
    )
    with pytest.raises(RuntimeError):
        async with tenant_door(engine, alice.principal, read_only=False, sqlalchemy=True) as door:
            assert door.connection is not None
            await door.connection.execute(insert, {"slug": slug})
            # The door sees the SQLAlchemy connection's row: one transaction.
            found = await door.fetchval(
                "SELECT count(*) FROM content_projects WHERE slug = $1", slug
            )
            assert found == 1
            # A savepoint through SQLAlchemy works inside the door's transaction.
            with pytest.raises(DBAPIError):
                async with door.connection.begin_nested():
                    await door.connection.execute(text("SELECT 1/0"))
            assert await door.fetchval("SELECT 1") == 1
            raise RuntimeError("roll it all back")
    async with tenant_door(engine, alice.principal, read_only=True) as door:
        assert (
            await door.fetchval("SELECT count(*) FROM content_projects WHERE slug = $1", slug) == 0
        )
    async with tenant_door(engine, alice.principal, read_only=False, sqlalchemy=True) as door:
        assert door.connection is not None
        await door.connection.execute(insert, {"slug": slug})
    async with tenant_door(engine, alice.principal, read_only=True) as door:
        assert (
            await door.fetchval("SELECT count(*) FROM content_projects WHERE slug = $1", slug) == 1
        )


@pytest.mark.parametrize("sqlalchemy", [False, True])
@pytest.mark.parametrize("outcome", ["commit", "error", "failed statement"])
async def test_no_transaction_outlives_the_door(
    engine: AsyncEngine, alice: Creator, sqlalchemy: bool, outcome: str
) -> None:
    """SQLAlchemy's reset on return cannot see the door's transaction (the
    door opened it on the driver): the door itself must end it, every way."""
    pids = []
    failing = pytest.raises((LookupError, DBAPIError))
    with failing if outcome != "commit" else contextlib.nullcontext():
        async with tenant_door(
            engine, alice.principal, read_only=False, sqlalchemy=sqlalchemy
        ) as d:
            pids.append(await d.fetchval("SELECT pg_backend_pid()"))
            if outcome == "failed statement":
                await d.execute("SELECT 1/0")
            elif outcome == "error":
                raise LookupError("the endpoint failed")
    # Every pooled connection (the one just used among them) is idle, not in a transaction.
    pool_size = engine.pool.size()  # type: ignore[attr-defined]
    raws = [await engine.raw_connection() for _ in range(pool_size)]
    try:
        drivers: list[asyncpg.Connection] = [raw.driver_connection for raw in raws]  # type: ignore[misc]
        assert pids[0] in [await d.fetchval("SELECT pg_backend_pid()") for d in drivers]
        assert not any(d.is_in_transaction() for d in drivers)
    finally:
        for raw in raws:
            raw.close()


async def test_a_connection_that_died_while_idle_is_replaced_without_an_error(
    engine: AsyncEngine, database: str, alice: Creator
) -> None:
    """A restart kills every idle connection: each one that had served before
    is dropped at its BEGIN and the next tried, so the request succeeds."""

    async def pid() -> int:
        async with tenant_door(engine, alice.principal, read_only=True) as door:
            value: int = await door.fetchval("SELECT pg_backend_pid()")
            return value

    pids = set(await asyncio.gather(*(pid() for _ in range(3))))
    admin = await asyncpg.connect(database.replace("postgresql+asyncpg", "postgresql", 1))
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        await asyncio.sleep(0.2)
    finally:
        await admin.close()
    for _ in range(3):
        assert await pid() not in pids
