"""The tenant transaction is the only door, and a forgotten switch is loud."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.auth import PUBLIC_READ, SERVICE
from app.db.engine import LOGIN_ROLE, guard_login_role
from app.db.sessions import WriteSession, read_session, user_read_session, write_transaction
from app.db.tenancy import tenant_transaction
from app.http.problems import sqlstate_of
from app.main import create_app
from app.settings import Settings
from tests.factories import Creator
from tests.helpers import client_for


def depends_on(dependant: Dependant, target: object) -> bool:
    return any(d.call is target or depends_on(d, target) for d in dependant.dependencies)


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every endpoint, including those of included routers (FastAPI keeps
    those behind a wrapper holding the original router)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += api_routes(route.original_router.routes)
        elif hasattr(route, "routes"):
            found += api_routes(route.routes)
    return found


# Infrastructure endpoints that touch no tenant data (readyz reads only
# alembic_version, as the login role).
OUTSIDE_TENANCY = {"/healthz", "/readyz"}
SESSIONS = (read_session, user_read_session, write_transaction)


@pytest.mark.pure
def test_every_endpoint_gets_its_connection_from_the_tenant_transaction(
    settings: Settings,
) -> None:
    app = create_app(settings, database_url="postgresql+asyncpg://unused@/none")
    routes = [r for r in api_routes(app.routes) if r.include_in_schema]
    assert len(routes) >= 11, [r.path for r in routes]
    missing = [
        r.path
        for r in routes
        if r.path not in OUTSIDE_TENANCY
        and not any(depends_on(r.dependant, door) for door in SESSIONS)
    ]
    assert missing == []


def test_each_endpoint_takes_the_session_its_method_and_audience_call_for(
    settings: Settings,
) -> None:
    """The session names who may call: a GET whose OpenAPI says the token is
    optional (PUBLIC_READ) reads as anyone, any other GET needs a user, and
    everything else is a write by a user. (Read sessions are READ ONLY
    whatever the method, so only GETs may take one.)"""
    app = create_app(settings, database_url="postgresql+asyncpg://unused@/none")
    wrong = []
    for r in api_routes(app.routes):
        if r.path in OUTSIDE_TENANCY or not r.include_in_schema:
            continue
        if r.methods <= {"GET", "HEAD"}:
            public = (r.openapi_extra or {}).get("security") == PUBLIC_READ["security"]
            expected = read_session if public else user_read_session
        else:
            expected = write_transaction
        taken = [door.__name__ for door in SESSIONS if depends_on(r.dependant, door)]
        if taken != [expected.__name__]:
            wrong.append((r.path, sorted(r.methods), taken))
    assert wrong == []


@pytest.mark.parametrize("table", ["contents", "content_projects", "minds", "user_profiles"])
async def test_a_query_that_skips_the_role_switch_is_refused(
    engine: AsyncEngine, alice: Creator, table: str
) -> None:
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT current_user")) == LOGIN_ROLE
        with pytest.raises(DBAPIError) as refused:
            await conn.execute(text(f"SELECT * FROM {table}"))
    assert sqlstate_of(refused.value) == "42501"  # insufficient_privilege


async def test_the_login_role_can_bypass_nothing(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT rolsuper, rolbypassrls, rolinherit,"
                    " pg_has_role(current_user, (SELECT relowner FROM pg_class"
                    "   WHERE oid = 'public.contents'::regclass), 'USAGE') AS owns"
                    " FROM pg_roles WHERE rolname = current_user"
                )
            )
        ).one()
    assert not row.rolsuper and not row.rolbypassrls and not row.owns
    assert not row.rolinherit, "NOINHERIT: the API roles' rights only after a switch"


async def test_a_privileged_database_url_is_dropped_to_the_login_role(
    database: str, settings: Settings
) -> None:
    """docker-compose style: DATABASE_URL is the superuser. Sessions still act
    as the login role, so a forgotten switch still fails."""
    engine = create_async_engine(database)
    try:
        guard_login_role(engine, settings)
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT current_user")) == LOGIN_ROLE
            with pytest.raises(DBAPIError):
                await conn.execute(text("SELECT * FROM contents"))
        async with tenant_transaction(engine, SERVICE, read_only=True) as conn:
            assert await conn.scalar(text("SELECT current_user")) == "service_role"
    finally:
        await engine.dispose()


async def test_role_and_claims_do_not_outlive_the_transaction(
    engine: AsyncEngine, alice: Creator
) -> None:
    async with tenant_transaction(engine, alice.principal, read_only=True) as conn:
        assert await conn.scalar(text("SELECT current_user")) == "authenticated"
        assert await conn.scalar(text("SELECT auth.uid()")) == alice.user_id
        assert await conn.scalar(text("SELECT current_mind_id()")) == alice.mind_id
    # The same pooled connection, next use: nothing of Alice is left.
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT current_user")) == LOGIN_ROLE
        claims = await conn.scalar(text("SELECT current_setting('request.jwt.claims', true)"))
        assert not claims


async def test_reads_run_in_a_read_only_transaction(engine: AsyncEngine, alice: Creator) -> None:
    async with engine.connect():
        pass
    with pytest.raises(DBAPIError) as refused:
        async with tenant_transaction(engine, alice.principal, read_only=True) as conn:
            await conn.execute(text("INSERT INTO content_projects (slug, name) VALUES ('x', 'X')"))
    assert sqlstate_of(refused.value) == "25006"  # read_only_sql_transaction
    # …and the connection is writable again for the next (write) transaction.
    async with tenant_transaction(engine, alice.principal, read_only=False) as conn:
        await conn.execute(text("INSERT INTO content_projects (slug, name) VALUES ('x', 'X')"))


async def test_the_http_method_decides_read_only(
    settings: Settings, api_url: str, alice: Creator
) -> None:
    """Through the dependency every endpoint uses: GET and HEAD transactions
    are READ ONLY, the others are not."""
    app = create_app(settings, database_url=api_url)
    probe = APIRouter()

    @probe.api_route("/probe", methods=["GET", "HEAD", "POST", "PATCH"])
    async def transaction_mode(conn: WriteSession, response: Response) -> dict[str, str]:
        mode = str(await conn.scalar(text("SHOW transaction_read_only")))
        response.headers["X-Read-Only"] = mode
        return {"read_only": mode}

    app.include_router(probe)
    async for client in client_for(app):
        for method, expected in (("GET", "on"), ("HEAD", "on"), ("POST", "off"), ("PATCH", "off")):
            answer = await client.request(method, "/probe", headers=alice.headers)
            assert answer.status_code == 200, method
            assert answer.headers["x-read-only"] == expected, method


async def test_an_unknown_role_never_reaches_the_database(engine: AsyncEngine) -> None:
    from app.auth import Principal

    with pytest.raises(ValueError, match="not an API role"):
        async with tenant_transaction(engine, Principal(role="postgres"), read_only=True):
            pass
