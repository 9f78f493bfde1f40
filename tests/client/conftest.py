"""The client against a real server: uvicorn on the test's database, on a
port that can be stopped and started again (the outbox tests need the API
to go away and come back)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.settings import Settings
from tests.live import LiveServer
from tests.trees.courses import FIXTURES

COURSES = ("claude-code", "github-essencial", "prompt-engineer")


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
