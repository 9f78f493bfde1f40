"""The client against a real server: uvicorn on the test's database, on a
port that can be stopped and started again (the outbox tests need the API
to go away and come back)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from app.main import create_app
from app.settings import Settings
from tests.test_cli import free_port
from tests.trees.courses import FIXTURES

COURSES = ("claude-code", "github-essencial", "prompt-engineer")


class LiveServer:
    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        app = create_app(self.settings, database_url=self.database_url)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        self._server, self._thread = server, thread

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
            self._server = self._thread = None


@pytest.fixture
def live(settings: Settings, api_url: str) -> Iterator[LiveServer]:
    server = LiveServer(settings, api_url)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def courses(tmp_path: Path) -> Path:
    """A copy of the fixture folders, so a test may break one (never the originals)."""
    where = tmp_path / "courses"
    for name in COURSES:
        shutil.copytree(FIXTURES / name, where / name, symlinks=True)
    return where
