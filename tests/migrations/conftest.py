"""Migration tests run on every server at hand: the embedded PostgreSQL 18 and
the machine's PostgreSQL 15 (Supabase runs 15 and 17)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.helpers import Db
from tests.pg import PgServer


@pytest.fixture(params=["embedded", "pg15"])
async def blank_db(request: pytest.FixtureRequest) -> AsyncIterator[Db]:
    """An empty database on each server in turn."""
    fixture = "pg_server" if request.param == "embedded" else "pg15_server"
    server: PgServer = request.getfixturevalue(fixture)
    name = await server.create_database()
    try:
        yield Db(server, name)
    finally:
        await server.drop_database(name)
