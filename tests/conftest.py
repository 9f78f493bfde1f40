"""Test harness: one real PostgreSQL per run, migrations applied once into a
template database, and a fresh copy of it for every test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import migrations
from app.db.engine import create_engine
from app.main import create_app
from app.settings import Settings
from tests.factories import Creator, provision
from tests.helpers import TEST_JWT_SECRET, client_for, login_url
from tests.pg import (
    PgServer,
    embedded_server,
    machine_pg15,
    pg15_unavailable_reason,
    server_from_url,
)

TEMPLATE_DATABASE = "creatoros_template"

# The fixtures that start or reach a PostgreSQL server. A test marked `pure`
# (`pytest -m pure`: the tests that need no database) may use none of them.
SERVER_FIXTURES = frozenset({"pg_server", "pg15_server", "blank_db", "outage"})
_pure_test_running = False


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a test marked `pure` that asks for a server, before one starts:
    by its fixtures here, and in `pg_server` for one it asks for at run time."""
    global _pure_test_running
    _pure_test_running = item.get_closest_marker("pure") is not None
    used = SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    if _pure_test_running and used:
        pytest.fail(f"marked pure but uses {sorted(used)}: it needs a database", pytrace=False)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The run's server: `TEST_DATABASE_URL` (a superuser URL), else embedded.
    Started by the first test that needs it, so `-m pure` never starts it."""
    if _pure_test_running:
        pytest.fail("a test marked pure started PostgreSQL", pytrace=False)
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield server_from_url(url)
        return
    with embedded_server() as server:
        yield server


@pytest.fixture(scope="session")
def pg15_server() -> Iterator[PgServer]:
    """The machine's PostgreSQL 15 (Supabase runs 15 and 17), skipped where absent."""
    reason = pg15_unavailable_reason()
    if reason:
        pytest.skip(reason)
    with machine_pg15() as server:
        yield server


@pytest.fixture(scope="session")
def template_database(pg_server: PgServer) -> str:
    """Migrate once; every test copies the result (a file copy, not a migration)."""

    async def recreate() -> None:
        await pg_server.drop_database(TEMPLATE_DATABASE)
        await pg_server.execute(f"CREATE DATABASE {TEMPLATE_DATABASE}")

    pg_server.run(recreate)
    migrations.upgrade(pg_server.url(TEMPLATE_DATABASE))
    return TEMPLATE_DATABASE


@pytest.fixture
async def database(pg_server: PgServer, template_database: str) -> AsyncIterator[str]:
    """A migrated database of the test's own; yields its SQLAlchemy URL."""
    name = await pg_server.create_database(template=template_database)
    try:
        yield pg_server.url(name)
    finally:
        await pg_server.drop_database(name)


@pytest.fixture
async def empty_database(pg_server: PgServer) -> AsyncIterator[str]:
    """A database with nothing in it, not even the migrations."""
    name = await pg_server.create_database()
    try:
        yield pg_server.url(name)
    finally:
        await pg_server.drop_database(name)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=None,
        data_dir=tmp_path / "data",
        jwt_secret=TEST_JWT_SECRET,
        # No background search indexer: rows a tree write defers stay deferred
        # until a test indexes them (tests/search), so each test knows which
        # of search's two paths it exercises.
        search_index_interval=0,
    )


@pytest.fixture
def api_url(database: str) -> str:
    return login_url(database)


@pytest.fixture
async def client(settings: Settings, api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app, which runs on the test's own database."""
    async for c in client_for(create_app(settings, database_url=api_url)):
        yield c


@pytest.fixture
async def engine(settings: Settings, api_url: str) -> AsyncIterator[AsyncEngine]:
    """The login role's engine on the test database, as the app builds it."""
    engine = create_engine(api_url, settings)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def alice(engine: AsyncEngine) -> Creator:
    return await provision(engine, "alice")


@pytest.fixture
async def bob(engine: AsyncEngine) -> Creator:
    return await provision(engine, "bob")


@pytest.fixture
def make_client(settings: Settings):  # type: ignore[no-untyped-def]
    """For tests that need the app on another database (an empty one, say)."""

    def make(url: str) -> AsyncIterator[httpx.AsyncClient]:
        return client_for(create_app(settings, database_url=url))

    return make
