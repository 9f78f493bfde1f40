"""What several test modules share and is not a thing a test makes (those are
in `tests/factories.py`): the app's HTTP client, the connections a test opens
besides the app's, readers of /metrics, problem assertions, the `creatoros`
process's environment, and the migration steps. A test module imports these
from here, never from another test module (`tests/test_layout.py` checks)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import SERVICE, Principal
from app.db import migrations
from app.db.engine import LOGIN_ROLE
from app.db.tenancy import tenant_transaction
from app.http.problems import PROBLEM_MEDIA_TYPE
from app.search import sql as search_sql
from tests.pg import PgServer

if TYPE_CHECKING:
    from tests.factories import Creator

# The secret the test app's settings sign and check tokens with.
TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


# --- the app and the database, as a test reaches them ---------------------


async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on `app`, inside its lifespan (engine, pool, indexer)."""
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


def superuser_dsn(database: str) -> str:
    """The test database's SQLAlchemy URL as a plain asyncpg DSN (the
    superuser the harness created it as: RLS does not apply)."""
    return make_url(database).set(drivername="postgresql").render_as_string(hide_password=False)


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
    """A superuser connection that collects the plans auto_explain logs, to
    read the plans of the statements PostgreSQL runs inside functions."""
    conn = await asyncpg.connect(superuser_dsn(database))
    admin = Superuser(conn)
    conn.add_log_listener(lambda _conn, message: admin.plans.append(str(message.message)))
    try:
        yield admin
    finally:
        await conn.close()


async def act_as(conn: asyncpg.Connection, who: Principal) -> None:
    """In the connection's open transaction: the role and claims the
    service's tenant switch gives `who` (a superuser connection, so the
    role can be RESET afterwards)."""
    claims = json.dumps({"sub": str(who.user_id) if who.user_id else None, "role": who.role})
    await conn.execute(
        "SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true)",
        who.role,
        claims,
    )


async def explain_as(conn: asyncpg.Connection, who: Creator, statement: str, *args: Any) -> Any:
    """EXPLAIN (ANALYZE, BUFFERS) of `statement` run as `who` would run it
    (role and claims, in a transaction of its own): the plan's top node."""
    async with conn.transaction():
        await act_as(conn, who.principal)
        (plan,) = json.loads(
            await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", *args)
        )
    return plan["Plan"]


async def search_work(database: str, who: Creator, q: str) -> tuple[int, int]:
    """(shared buffers, rows) of the API's search statement as `who`, from
    EXPLAIN (ANALYZE, BUFFERS): the buffers count everything the search
    function reads, index pages, heap, TOAST and the GIN pending list.
    Measured on the second run, with the function's plans cached."""
    args = (q, None, None, None, None, None, 21, "<mark>", "</mark>")
    async with superuser(database) as admin:
        found = (0, 0)
        for _ in range(2):
            top = await explain_as(admin.conn, who, search_sql.SEARCH, *args)
            found = (top["Shared Hit Blocks"] + top["Shared Read Blocks"], top["Actual Rows"])
        return found


# Blocks this transaction fetched from `contents` and its TOAST table (rows),
# and from their indexes: the backend's own counters, exact and immediate.
CONTENTS_READS = """
WITH rel AS (
    SELECT c.oid, c.relkind FROM pg_catalog.pg_class c
    WHERE c.oid IN ('public.contents'::regclass,
                    (SELECT reltoastrelid FROM pg_catalog.pg_class
                     WHERE oid = 'public.contents'::regclass))
)
SELECT coalesce(sum(pg_stat_get_xact_blocks_fetched(rel.oid)), 0)::bigint AS rows,
       coalesce((SELECT sum(pg_stat_get_xact_blocks_fetched(i.indexrelid))
                 FROM pg_catalog.pg_index i WHERE i.indrelid IN (SELECT oid FROM rel)), 0)::bigint
           AS indexes
FROM rel
"""


@dataclass(frozen=True)
class ContentsReads:
    """What one statement read of `contents`, in blocks."""

    found: int  # the rows it answered
    rows: int  # heap and TOAST pages: the contents' rows and bodies
    indexes: int  # index pages: the descents of every lookup


async def contents_reads(
    database: str, who: Principal, statement: str, *args: Any
) -> ContentsReads:
    """The blocks of `contents` a statement fetches as `who`, split into rows
    and indexes, on its second run (plans cached). Another tenant's data
    makes an index taller, which every descent pays, but should never put
    its rows on the statement's path."""
    async with superuser(database) as admin:
        for _ in range(2):
            async with admin.conn.transaction():
                await act_as(admin.conn, who)
                found = await admin.conn.fetch(statement, *args)
                await admin.conn.execute("RESET role")
                rows, indexes = await admin.conn.fetchrow(CONTENTS_READS)
    return ContentsReads(len(found), rows, indexes)


async def search_reads(database: str, who: Creator, q: str) -> ContentsReads:
    """`contents_reads` of the API's search statement (a page of 21)."""
    args = (q, None, None, None, None, None, 21, "<mark>", "</mark>")
    return await contents_reads(database, who.principal, search_sql.SEARCH, *args)


async def count_deferred(engine: AsyncEngine) -> int:
    """Contents whose search indexing is deferred (as service_role: all of them)."""
    async with tenant_transaction(engine, SERVICE, read_only=True) as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM contents WHERE search_deferred")))


async def search(
    client: httpx.AsyncClient, who: Creator | None, q: str, **params: Any
) -> httpx.Response:
    """GET /v1/search as `who` (None: no token)."""
    headers = who.headers if who is not None else {}
    return await client.get("/v1/search", headers=headers, params={"q": q, **params})


async def hits(client: httpx.AsyncClient, who: Creator | None, q: str, **params: Any) -> list[Any]:
    """Every item a search finds for `who` (one page of up to 200)."""
    response = await search(client, who, q, limit=200, **params)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


# --- answers --------------------------------------------------------------


def gauge(text: str, name: str) -> float:
    """The value of the `creatoros_<name>` sample in a /metrics answer."""
    line = next(x for x in text.splitlines() if x.startswith(f"creatoros_{name} "))
    return float(line.split()[-1])


def metric_value(text: str, name: str, **labels: str) -> float:
    """The value of the sample `name{labels}` in a /metrics answer (0 when absent)."""
    selector = ",".join(f'{key}="{value}"' for key, value in labels.items())
    wanted = f"{name}{{{selector}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    return 0.0


def after(later: str, earlier: str) -> bool:
    """Whether one ISO timestamp of an answer is later than another."""
    return datetime.fromisoformat(later) > datetime.fromisoformat(earlier)


def assert_problem(response: httpx.Response, status: int, context: object = None) -> Any:
    """The answer is an `application/problem+json` of `status`; returns the problem."""
    assert response.status_code == status, (context, response.text)
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE, context
    return response.json()


def assert_invalid(response: httpx.Response, context: object = None) -> Any:
    """A 422 problem that names what was invalid (`errors`); returns the problem."""
    problem = assert_problem(response, 422, context)
    assert problem["errors"], context
    return problem


async def assert_hidden_like_missing(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    theirs: str,
    missing: str,
    requests: tuple[tuple[str, Any], ...],
) -> None:
    """Each (method, body) on another tenant's row at `theirs` answers the
    same 404 as on the `missing` one: nothing tells the row exists."""
    for method, body in requests:
        hidden = await client.request(method, theirs, headers=headers, json=body)
        nothing = await client.request(method, missing, headers=headers, json=body)
        assert hidden.status_code == nothing.status_code == 404, method
        assert hidden.json()["title"] == nothing.json()["title"]


async def walk_pages(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], limit: int = 3
) -> list[str]:
    """The ids of every item a keyset-paginated list gives, page by page."""
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(url, headers=headers, params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def operations_under(spec: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The OpenAPI operations of the paths under `prefix`, by operationId."""
    return {
        op["operationId"]: op
        for path, item in spec["paths"].items()
        if path.startswith(prefix)
        for op in item.values()
    }


# --- the `creatoros` command as a process ----------------------------------

CREATOROS = str(Path(sys.executable).with_name("creatoros"))
READY_WITHIN_SECONDS = 60


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh machine: none of the service's settings."""
    names = ("DATABASE_URL", "JWT_SECRET", "JWT_JWKS_URL", "JWT_JWKS_FILE", "TEST_DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if k not in names}
    env["CREATOROS_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def unavailable(reason: str) -> NoReturn:
    """A tool the test needs is missing: skip, saying why, except in CI
    (`CI=true`), which must have it and so fails."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason + ": required in CI", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, proc: subprocess.Popen[str]) -> float:
    """Seconds until `base`/readyz answers 200; fails the test if `proc`
    exits first or it takes longer than READY_WITHIN_SECONDS."""
    started = time.monotonic()
    while time.monotonic() - started < READY_WITHIN_SECONDS:
        if proc.poll() is not None:
            pytest.fail(
                f"creatoros serve exited early:\n{proc.stdout.read() if proc.stdout else ''}"
            )
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"/readyz not 200 within {READY_WITHIN_SECONDS}s")


# --- programs a test needs that a machine may lack -------------------------


def required_program(candidates: Sequence[str], missing: str) -> str:
    """The first of `candidates` (a name on PATH or a path) that exists.

    Without one the test is skipped with `missing` as its reason, except in
    CI (`CI=true`), where it fails: `.ci/run` installs these programs
    (pgbouncer, chromium), and a test that CI skipped silently would prove
    nothing."""
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    unavailable(missing)


# --- migrations -----------------------------------------------------------


@dataclass(frozen=True)
class Db:
    """A database on one of the servers the migration tests run on."""

    server: PgServer
    name: str

    @property
    def dsn(self) -> str:
        return self.server.dsn(self.name)

    @property
    def url(self) -> str:
        return self.server.url(self.name)


async def upgrade(db: Db, revision: str = "head") -> None:
    await asyncio.to_thread(migrations.upgrade, db.url, revision)


async def downgrade(db: Db, revision: str, *, allow_data_loss: bool = False) -> None:
    await asyncio.to_thread(migrations.downgrade, db.url, revision, allow_data_loss=allow_data_loss)
