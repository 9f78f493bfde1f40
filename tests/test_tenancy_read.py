"""The read path (`tenancy.tenant_door(read_only=True)`, the `ReadSession` of the GET
endpoints): the tenant transaction run straight on the pooled connection's
asyncpg driver must be the same door as the SQLAlchemy one — the caller's
role and claims, READ ONLY, row level security, the same errors, a 503 for
a lost connection, and the pool's accounting."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import ANONYMOUS, Principal
from app.db.tenancy import fetch, sql_literal, tenant_door, tenant_transaction
from app.http.observability import request_id_var
from app.http.problems import NotFound, ProblemError, sqlstate_of
from app.main import create_app
from app.projects.service import ROWS as PROJECTS
from app.settings import Settings
from tests.factories import Creator, new_project
from tests.helpers import client_for, gauge
from tests.pg import PgServer


async def test_a_read_runs_as_the_caller_read_only_and_names_its_request(
    engine: AsyncEngine, alice: Creator
) -> None:
    token = request_id_var.set("read-path-probe")
    try:
        async with tenant_door(engine, alice.principal, read_only=True) as reader:
            (row,) = await fetch(
                reader,
                "SELECT current_user, current_setting('request.jwt.claims', true)::jsonb ->> 'sub',"
                " current_setting('transaction_read_only'), current_mind_id(),"
                " current_setting('application_name')",
            )
    finally:
        request_id_var.reset(token)
    assert tuple(row) == (
        "authenticated", str(alice.user_id), "on", alice.mind_id, "creatoros read-path-probe"
    )  # fmt: skip
    # Nothing of Alice outlives the transaction on the pooled connection.
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        who = await raw.driver_connection.fetchrow(  # type: ignore[union-attr]
            "SELECT current_user, current_setting('request.jwt.claims', true)"
        )
    assert who[0] == "authenticator" and not who[1]


# Claims a Supabase user can write into their own token (`user_metadata`):
# whatever they hold must arrive as exactly that JSON, never as SQL.
HOSTILE = (
    "it's",
    "a\\",
    "\\'",
    "'; RESET ROLE; SELECT '",
    "$$ $x$",
    "E'\\x41'",
    "\\u0041",
    "\x01\t\n\r",
    "ação 🎓",
    "--",
    "/* */",
    "\\\\''",
)


@pytest.mark.parametrize("conforming", ["on", "off"])
async def test_literals_mean_their_exact_text_under_either_string_setting(
    pg_server: PgServer, conforming: str
) -> None:
    conn = await asyncpg.connect(pg_server.dsn("postgres"))
    try:
        await conn.execute(f"SET standard_conforming_strings = {conforming}")
        for value in HOSTILE:
            assert await conn.fetchval(f"SELECT {sql_literal(value)}") == value
    finally:
        await conn.close()
    with pytest.raises(ValueError, match="NUL"):
        sql_literal("a\x00b")


async def test_the_switch_carries_hostile_claims_exactly(
    engine: AsyncEngine, alice: Creator
) -> None:
    claims = {**alice.principal.claims, "user_metadata": dict(enumerate(HOSTILE))}
    principal = Principal(role="authenticated", claims=claims)
    async with tenant_door(engine, principal, read_only=True) as reader:
        (row,) = await fetch(
            reader, "SELECT current_user, current_setting('request.jwt.claims'), current_mind_id()"
        )
    assert (row[0], row[1], row[2]) == ("authenticated", principal.claims_json, alice.mind_id)


async def test_a_read_sees_what_row_level_security_shows_the_caller(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    project = uuid.UUID(await new_project(client, alice, "secret", name="Secret"))
    for who, visible in ((alice.principal, True), (bob.principal, False), (ANONYMOUS, False)):
        async with tenant_door(engine, who, read_only=True) as reader:
            assert (await PROJECTS.get(reader, project) is not None) is visible, who.role
            with pytest.raises(ProblemError) as missing:
                await PROJECTS.require(reader, uuid.uuid4())
            assert missing.value.status == 404


async def test_a_read_cannot_write_and_fails_as_sqlalchemy_does(
    engine: AsyncEngine, alice: Creator
) -> None:
    with pytest.raises(DBAPIError) as refused:
        async with tenant_door(engine, alice.principal, read_only=True) as reader:
            await fetch(reader, "INSERT INTO tags (name, tag_type) VALUES ('x', 'theme')")
    assert sqlstate_of(refused.value) == "25006"  # → 405 in the problem map
    with pytest.raises(DBAPIError) as timed_out:
        async with tenant_door(engine, alice.principal, read_only=True) as reader:
            await fetch(reader, "SELECT set_config('statement_timeout', '50ms', true)")
            await fetch(reader, "SELECT pg_sleep(2)")
    assert sqlstate_of(timed_out.value) == "57014"  # → 503
    # The pool is not poisoned: the next reads and writes work.
    async with tenant_door(engine, alice.principal, read_only=True) as reader:
        assert len(await fetch(reader, "SELECT 1")) == 1
    async with tenant_transaction(engine, alice.principal, read_only=False) as conn:
        assert len(await fetch(conn, "SELECT 1")) == 1


async def test_an_unknown_role_never_reaches_the_database(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="not an API role"):
        async with tenant_door(engine, Principal(role="postgres"), read_only=True):
            pass


async def test_a_connection_lost_during_a_read_is_a_503_and_is_not_reused(
    engine: AsyncEngine, database: str, alice: Creator
) -> None:
    admin = await asyncpg.connect(database.replace("postgresql+asyncpg", "postgresql", 1))
    try:
        with pytest.raises(ProblemError) as lost:
            async with tenant_door(engine, alice.principal, read_only=True) as reader:
                (pid,) = await fetch(reader, "SELECT pg_backend_pid()")
                await admin.execute("SELECT pg_terminate_backend($1)", pid[0])
                await asyncio.sleep(0.05)
                await fetch(reader, "SELECT 1")
        assert lost.value.status == 503 and lost.value.headers == {"Retry-After": "2"}
        async with tenant_door(engine, alice.principal, read_only=True) as reader:
            (again,) = await fetch(reader, "SELECT pg_backend_pid()")
        assert again[0] != pid[0]
    finally:
        await admin.close()


async def test_the_pool_gauges_count_a_read_in_progress(
    settings: Settings, api_url: str, alice: Creator
) -> None:
    app: FastAPI = create_app(settings, database_url=api_url)
    async for client in client_for(app):
        assert gauge((await client.get("/metrics")).text, "db_pool_in_use") == 0
        async with tenant_door(app.state.engine, alice.principal, read_only=True) as reader:
            await fetch(reader, "SELECT 1")
            assert gauge((await client.get("/metrics")).text, "db_pool_in_use") == 1
        assert gauge((await client.get("/metrics")).text, "db_pool_in_use") == 0
        # …also when the read failed.
        with pytest.raises(DBAPIError):
            async with tenant_door(app.state.engine, alice.principal, read_only=True) as reader:
                await fetch(reader, "SELECT 1/0")
        assert gauge((await client.get("/metrics")).text, "db_pool_in_use") == 0
        with pytest.raises(ProblemError):
            async with tenant_door(app.state.engine, alice.principal, read_only=True) as reader:
                raise NotFound("not here")
        assert gauge((await client.get("/metrics")).text, "db_pool_in_use") == 0


async def test_a_failed_switch_fails_as_sqlalchemy_does_and_leaves_no_connection_behind(
    engine: AsyncEngine, alice: Creator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.db.tenancy

    monkeypatch.setattr(
        app.db.tenancy, "_SWITCH_TEMPLATE", "SELECT {0}::text, {1}::text, {2}::text, {3}::text, 1/0"
    )
    with pytest.raises(DBAPIError) as failed:
        async with tenant_door(engine, alice.principal, read_only=True):
            pass
    assert sqlstate_of(failed.value) == "22012"
    assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    monkeypatch.undo()
    async with tenant_door(engine, alice.principal, read_only=True) as reader:
        assert len(await fetch(reader, "SELECT 1")) == 1
