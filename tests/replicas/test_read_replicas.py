"""Reads on a real streaming replica, with read-your-writes (issue 21).

The replica replays 2 s behind the primary (`recovery_min_apply_delay`), so
a read it serves right after a write would miss the write: only the
consistency token the write answered with, sent back by the Python client,
keeps the caller's own next read on the primary until the replica caught up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app.db.engine import create_engine
from app.main import create_app
from app.settings import Settings
from creatoros_client import AsyncClient
from tests.factories import Creator, create_content, new_project, provision
from tests.helpers import client_for, metric_value
from tests.replica import StreamingPair, streaming_pair

PAIRS = 100


@pytest.fixture(scope="module")
def pair() -> Iterator[StreamingPair]:
    with streaming_pair(apply_delay="2s") as made:
        yield made


@pytest.fixture
def replica_settings(settings: Settings, pair: StreamingPair) -> Settings:
    """The suite's settings (tests/conftest.py), reading from the replica."""
    return settings.model_copy(update={"database_read_url": pair.replica_url})


@pytest.fixture
async def app_client(
    replica_settings: Settings, pair: StreamingPair
) -> AsyncIterator[httpx.AsyncClient]:
    async for http in client_for(create_app(replica_settings, database_url=pair.primary_url)):
        yield http


@pytest.fixture
async def creator(pair: StreamingPair, replica_settings: Settings) -> Creator:
    engine = create_engine(pair.primary_url, replica_settings)
    try:
        return await provision(engine, f"c{id(engine):x}")
    finally:
        await engine.dispose()


def outline(title: str) -> list[dict[str, Any]]:
    return [
        {"slug": "curso", "title": title, "content_type": "course_outline",
         "children": [{"slug": "modulo-1", "title": "Módulo 1", "content_type": "course_module"}]},
    ]  # fmt: skip


async def test_a_write_then_a_read_through_the_client_sees_the_write_every_time(
    app_client: httpx.AsyncClient, creator: Creator
) -> None:
    api = AsyncClient("http://test", token=creator.token, http=app_client)
    project = await api.projects.create({"slug": "ryw", "name": "RYW", "project_type": "course"})
    fresh = 0
    for i in range(PAIRS):
        await api.trees.put(project.id, outline(f"versão {i}"))
        read = (await api.trees.get(project.id)).tree
        assert read is not None
        fresh += read.nodes[0].title == f"versão {i}"
    assert fresh == PAIRS
    # The token is what did it: the same read without it is served by the
    # replica, which has not replayed the last write yet (nor, when the loop
    # took under 2 s, even the project: then it answers 404).
    stale = await app_client.get(f"/v1/projects/{project.id}/tree", headers=creator.headers)
    assert stale.status_code in (200, 404)
    if stale.status_code == 200:
        assert stale.json()["nodes"][0]["title"] != f"versão {PAIRS - 1}"


async def test_anonymous_reads_are_served_by_the_replica(
    replica_settings: Settings, creator: Creator, pair: StreamingPair
) -> None:
    app = create_app(replica_settings, database_url=pair.primary_url)
    reads = 40
    async for http in client_for(app):
        project = await new_project(http, creator, "anon")
        lesson_id = (await create_content(http, creator, project))["id"]
        for status in ("reviewed", "published"):
            moved = await http.patch(
                f"/v1/contents/{lesson_id}", headers=creator.headers, json={"status": status}
            )
            assert moved.status_code == 200, moved.text
        await asyncio.sleep(3)  # the replica replays the publication (2 s behind)
        before = await commits(pair)
        for _ in range(reads):
            answer = await http.get(f"/v1/contents/{lesson_id}")
            assert answer.status_code == 200, answer.text
        metrics = (await http.get("/metrics")).text
    # The app is gone with its pools: each server backend flushed its counts as it ended.
    await asyncio.sleep(1)
    after = await commits(pair)
    served = {where: after[where] - before[where] for where in after}
    assert served["replica"] >= reads, served
    # The primary's few: the app's writes above, whose counts its backends
    # flushed only as they ended, and a count's own transaction.
    assert served["primary"] < reads // 2, served
    assert metric_value(metrics, "creatoros_db_reads_total", target="replica") >= reads


async def commits(pair: StreamingPair) -> dict[str, int]:
    return {
        "replica": await pair.xact_commits(pair.replica),
        "primary": await pair.xact_commits(pair.primary),
    }


async def test_reads_go_to_the_primary_while_the_replica_is_down(
    app_client: httpx.AsyncClient, creator: Creator, pair: StreamingPair
) -> None:
    made = await app_client.post(
        "/v1/projects", headers=creator.headers,
        json={"slug": "down", "name": "Down", "project_type": "course"},
    )  # fmt: skip
    assert made.status_code == 201
    # The write's token, as the client sends it back: the project is there.
    headers = {**creator.headers, "X-Consistency-Token": made.headers["X-Consistency-Token"]}
    path = f"/v1/projects/{made.json()['id']}/tree"
    assert (await app_client.get(path, headers=headers)).status_code == 200
    pair.stop_replica()
    try:
        statuses = [(await app_client.get(path, headers=headers)).status_code for _ in range(20)]
        statuses += [(await app_client.get("/v1/search", params={"q": "x"})).status_code]
        assert statuses == [200] * 21
        metrics = (await app_client.get("/metrics")).text
        assert metric_value(metrics, "creatoros_db_replica_fallbacks_total", reason="down") >= 1
    finally:
        pair.start_replica()


async def test_a_browser_may_read_and_send_the_token_and_the_trace(
    replica_settings: Settings, creator: Creator, pair: StreamingPair
) -> None:
    origin = "https://app.creatoros.dev"
    configured = replica_settings.model_copy(update={"cors_origins": [origin]})
    async for http in client_for(create_app(configured, database_url=pair.primary_url)):
        preflight = await http.options(
            "/v1/projects",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "x-consistency-token, traceparent",
            },
        )
        assert preflight.status_code == 200, preflight.text
        made = await http.post(
            "/v1/projects", headers={**creator.headers, "Origin": origin},
            json={"slug": "cors", "name": "Cors", "project_type": "course"},
        )  # fmt: skip
        assert made.status_code == 201
        exposed = made.headers["access-control-expose-headers"].lower()
        assert "x-consistency-token" in exposed and "traceparent" in exposed
        assert made.headers["x-consistency-token"]
