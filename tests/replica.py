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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from app.db import migrations
from bench import standby
from tests.helpers import login_url
from tests.pg import PgServer, _embedded

REPLICATION_ROLE = "replicator"
DATABASE = "creatoros_replicated"


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

    def start_replica(self) -> None:
        standby.start(self.replica_pgdata, user=self.system_user)

    def stop_replica(self, mode: str = "fast") -> None:
        standby.pg_ctl(self.replica_pgdata, "-w", "-m", mode, "stop", user=self.system_user)

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
        [standby.pg_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql],
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
        standby.allow_replication(pgdata, REPLICATION_ROLE)
        _psql(primary, "SELECT pg_reload_conf()")
        asyncio.run(primary.execute(f"CREATE DATABASE {DATABASE}"))
        migrations.upgrade(primary.url(DATABASE))

        replica_pgdata = root / "replica"
        replica_pgdata.mkdir(mode=0o700)
        if server.system_user:
            shutil.chown(replica_pgdata, user=server.system_user)
        standby.base_backup(
            socket_dir=Path(info.socket_dir), port=str(info.port), role=REPLICATION_ROLE,
            target=replica_pgdata, user=server.system_user,
            conf=f"hot_standby = on\nrecovery_min_apply_delay = '{apply_delay}'\n",
        )  # fmt: skip
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
