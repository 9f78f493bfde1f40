"""Plans of the statements PostgreSQL runs inside functions (auto_explain),
as the tests of the search index and of its indexer read them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg
from sqlalchemy.engine import make_url

# Only a superuser loads auto_explain: run it before any role switch, in a
# transaction (the settings are LOCAL).
EXPLAIN_NESTED = (
    "LOAD 'auto_explain'; SET LOCAL auto_explain.log_min_duration = 0;"
    " SET LOCAL auto_explain.log_nested_statements = on;"
    " SET LOCAL client_min_messages = log"
)


@dataclass
class Superuser:
    """A superuser connection to the test database, and the plans (server log
    messages) it has received."""

    conn: asyncpg.Connection
    plans: list[str] = field(default_factory=list)


@asynccontextmanager
async def superuser(database: str) -> AsyncIterator[Superuser]:
    dsn = make_url(database).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    admin = Superuser(conn)
    conn.add_log_listener(lambda _conn, message: admin.plans.append(str(message.message)))
    try:
        yield admin
    finally:
        await conn.close()
