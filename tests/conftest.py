"""Test harness: one real PostgreSQL per run, migrations applied once into a
template database, and a fresh copy of it for every test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app import migrations
from app.main import create_app
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
    )


async def _client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
async def client(settings: Settings, database: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app, which runs on the test's own database."""
    async for c in _client_for(create_app(settings, database_url=database)):
        yield c


@pytest.fixture
def make_client(settings: Settings):  # type: ignore[no-untyped-def]
    """For tests that need the app on another database (an empty one, say)."""

    def make(url: str) -> AsyncIterator[httpx.AsyncClient]:
        return _client_for(create_app(settings, database_url=url))

    return make
