"""Test harness: one real PostgreSQL per run, migrations applied once into a
template database, and a fresh copy of it for every test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import Principal, mint_token, principal_for
from app.db import migrations
from app.db.engine import LOGIN_ROLE, create_engine
from app.main import create_app
from app.ops.admin import provision_mind
from app.settings import Settings
from tests.pg import PgServer, embedded_server, server_from_url

TEMPLATE_DATABASE = "creatoros_template"
TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The run's server: `TEST_DATABASE_URL` (a superuser URL), else embedded."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield server_from_url(url)
        return
    with embedded_server() as server:
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


async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def login_url(url: str) -> str:
    """The same database, logged in as the service's login role: tenancy is
    only tested through it (a superuser would bypass RLS and hide leaks)."""
    return (
        make_url(url)
        .set(username=LOGIN_ROLE, password=os.environ.get("TEST_AUTHENTICATOR_PASSWORD"))
        .render_as_string(hide_password=False)
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


@dataclass(frozen=True)
class Creator:
    """A provisioned creator: a mind, its user, and a valid token."""

    slug: str
    mind_id: uuid.UUID
    user_id: uuid.UUID
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def principal(self) -> Principal:
        return principal_for(self.user_id)


async def provision(engine: AsyncEngine, slug: str) -> Creator:
    mind = await provision_mind(engine, slug=slug, name=slug.title(), user_id=None)
    token = mint_token(TEST_JWT_SECRET, user_id=mind.user_id)
    return Creator(slug, mind.mind_id, mind.user_id, token)


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
