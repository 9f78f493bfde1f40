from __future__ import annotations

import httpx
import pytest

from app.db.migrations import head_revision
from app.http.problems import PROBLEM_MEDIA_TYPE


async def test_healthz_answers_without_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ready_on_a_migrated_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "revision": head_revision()}


async def test_readyz_refuses_an_unmigrated_database(make_client, empty_database: str) -> None:
    async for client in make_client(empty_database):
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    problem = response.json()
    assert problem["status"] == 503
    assert "creatoros db upgrade" in problem["detail"]


@pytest.mark.pure
async def test_readyz_refuses_an_unreachable_database(make_client) -> None:
    unreachable = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    async for client in make_client(unreachable):
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("the database cannot be reached")
    assert "Traceback" not in response.text


async def test_unknown_path_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["title"] == "Not Found"
