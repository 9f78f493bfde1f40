"""A real server on a real port, for tools that speak HTTP (schemathesis, a
generated client)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.settings import Settings
from tests.live import LiveServer
from tests.node import install_node_tools


@pytest.fixture
def live_server(settings: Settings, api_url: str) -> Iterator[str]:
    server = LiveServer(settings, api_url)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def node_tools() -> Path:
    """clients/typescript with its pinned tools installed (`npm ci` at most once)."""
    return install_node_tools()
