"""A real PgBouncer in transaction mode in front of the test server.

Debian's `pgbouncer` (`.ci/run` installs it). Outside CI a machine without
it skips the tests that need it, saying why; in CI (`CI=true`) they fail.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.helpers import required_program
from tests.pg import PgServer

PGBOUNCER_PATHS = ("pgbouncer", "/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


def pgbouncer_binary() -> str:
    """The binary, or skip (fail in CI) with the reason."""
    return required_program(
        PGBOUNCER_PATHS,
        "PgBouncer is not installed (Debian: apt-get install pgbouncer; .ci/run does it)",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_address(server: PgServer) -> tuple[str, int]:
    """Where PgBouncer finds the test server: a unix socket dir or a host."""
    parts = urlsplit(server.base_url)
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    port = int(query.get("port", [parts.port or 5432])[0])
    return host, port


@dataclass(frozen=True)
class Bouncer:
    port: int

    def url(self, database: str, user: str = "authenticator") -> str:
        """A SQLAlchemy URL to `database` through the pooler."""
        return f"postgresql+asyncpg://{user}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str, user: str = "authenticator") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"


@contextmanager
def pgbouncer(server: PgServer, *, pool_size: int = 2) -> Iterator[Bouncer]:
    """PgBouncer in transaction mode, `pool_size` server connections per
    database and user, on a free port; stopped afterwards."""
    binary = pgbouncer_binary()
    host, server_port = _server_address(server)
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="creatoros-pgbouncer-"))
    workdir.chmod(0o755)
    users = workdir / "users.txt"
    users.write_text('"authenticator" ""\n"postgres" ""\n')
    config = workdir / "pgbouncer.ini"
    config.write_text(
        f"""[databases]
* = host={host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {users}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = {workdir / "pgbouncer.log"}
"""
    )
    for path in (users, config):
        path.chmod(0o644)
    command = [binary, "-q", str(config)]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        user = "embedded_postgres"
        try:
            pwd.getpwnam(user)
        except KeyError:
            user = "nobody"
        shutil.chown(workdir, user=user)
        command = [binary, "-q", "-u", user, str(config)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = workdir / "pgbouncer.log"
                    output = process.stdout.read().decode() if process.stdout else ""
                    raise RuntimeError(
                        f"pgbouncer did not start: {output} "
                        f"{log.read_text() if log.exists() else ''}"
                    ) from None
                time.sleep(0.05)
        yield Bouncer(port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(workdir, ignore_errors=True)
