"""The service under test: the app in a uvicorn subprocess on 127.0.0.1.

A subprocess, not a thread: the app must not share a GIL (or an event loop)
with the load generator and the floor, or each would slow the other down and
the comparison would mean nothing. uvicorn runs as `creatoros serve` runs it
(one worker, uvloop and httptools — uvicorn's defaults when installed —
with `app.http.server.server_options`, and its access log on at INFO); only
the database URL differs: the login role `authenticator` on the bench's
database, as `app.db.engine.api_database_url` gives it for the embedded
server.

Run directly (`python -m bench.server`) it is the child: it reads
BENCH_API_DATABASE_URL, BENCH_PORT, BENCH_PROFILE (a cProfile output file,
from `--profile`) and the usual settings (JWT_SECRET, DB_POOL_SIZE,
LOG_LEVEL) from its environment.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Service:
    base_url: str
    pid: int
    log_path: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_service(
    database_url: str,
    *,
    jwt_secret: str,
    pool_size: int,
    log_dir: Path,
    profile: Path | None = None,
    workers: int = 1,
    name: str = "uvicorn",
    extra_env: dict[str, str] | None = None,
    checkout: Path = REPO_ROOT,
    python: str = sys.executable,
) -> Iterator[Service]:
    """Start the app, wait until /readyz says the database is there; on exit
    SIGTERM it (uvicorn shuts down gracefully) and wait, killing if stuck.

    `checkout` and `python` serve another checkout's code with its own venv
    (`python -m bench.compare`: before and after a change); that checkout's
    `bench.server` must read the same environment as this one."""
    port = free_port()
    env = {
        **os.environ,
        "BENCH_API_DATABASE_URL": database_url,
        "BENCH_PORT": str(port),
        "JWT_SECRET": jwt_secret,
        "DB_POOL_SIZE": str(pool_size),
        "BENCH_WORKERS": str(workers),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(checkout), os.environ.get("PYTHONPATH")])),
    }
    env.update(extra_env or {})
    env.pop("DATABASE_URL", None)
    if profile is not None:
        env["BENCH_PROFILE"] = str(profile.resolve())
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        # Its own session: Ctrl-C in the terminal reaches only the bench, which
        # then stops the server in order (and the server's pool before the database).
        process = subprocess.Popen(
            [python, "-m", "bench.server"],
            env=env,
            cwd=checkout,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_ready(base_url, process, log_path)
        yield Service(base_url, process.pid, log_path)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the service exited with {process.returncode}:\n{log_path.read_text()[-3000:]}"
            )
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the service did not become ready:\n{log_path.read_text()[-3000:]}")


def app_factory() -> object:
    """The app of each worker process when BENCH_WORKERS > 1."""
    from app.http.logs import configure_logging
    from app.main import create_app
    from app.settings import Settings

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    configure_logging(settings)
    return create_app(settings, database_url=os.environ["BENCH_API_DATABASE_URL"])


def _child() -> None:
    import uvicorn

    from app.http.logs import configure_logging, uvicorn_logging
    from app.http.server import server_options
    from app.main import create_app
    from app.settings import Settings

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    configure_logging(settings)
    workers = int(os.environ.get("BENCH_WORKERS", "1"))
    if workers > 1:
        # As `creatoros serve --workers N`: N processes on one port (uvicorn's
        # supervisor stops them gracefully on SIGTERM).
        uvicorn.run(
            "bench.server:app_factory",
            factory=True,
            host="127.0.0.1",
            port=int(os.environ["BENCH_PORT"]),
            workers=workers,
            proxy_headers=True,
            timeout_graceful_shutdown=settings.shutdown_timeout,
            **uvicorn_logging(settings),
            **server_options(settings),
        )
        return

    def _exit_normally(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    # As `creatoros serve`: SIGTERM means a graceful shutdown, then a normal exit.
    signal.signal(signal.SIGTERM, _exit_normally)
    config = uvicorn.Config(
        create_app(settings, database_url=os.environ["BENCH_API_DATABASE_URL"]),
        host="127.0.0.1",
        port=int(os.environ["BENCH_PORT"]),
        workers=1,
        proxy_headers=True,
        timeout_graceful_shutdown=settings.shutdown_timeout,
        **uvicorn_logging(settings),
        **server_options(settings),
    )
    server = uvicorn.Server(config)
    config.load()
    factory = config.get_loop_factory()
    http = config.http_protocol_class
    # The parent reads this line to report what actually served the requests.
    print(
        f"bench.server: loop={getattr(factory, '__module__', None)}"
        f".{getattr(factory, '__qualname__', factory)}"
        f" http={getattr(http, '__module__', '')}.{getattr(http, '__name__', http)}"
        f" pool={settings.db_pool_size} workers={config.workers}",
        flush=True,
    )
    profile = os.environ.get("BENCH_PROFILE")
    if not profile:
        server.run()
        return
    # `--profile`: where the service's time goes (slows it down; not for numbers).
    import cProfile

    profiler = cProfile.Profile()
    try:
        profiler.runcall(server.run)
    finally:
        profiler.dump_stats(profile)


if __name__ == "__main__":
    _child()
