"""`Idempotency-Key` on POSTs (creating ones, restore, move): replay, reuse
(422), in use (409), expiry, scope."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import SERVICE
from app.db.tenancy import fetchval, tenant_transaction
from app.http.problems import PROBLEM_MEDIA_TYPE
from app.idempotency import _LOCK
from tests.factories import Creator, create_content, new_project

PROJECT = {"slug": "course", "name": "Course", "project_type": "course"}
REPORT = {"research_type": "sources", "report_data": {"n": 1}, "title": "Fontes"}


def keyed(who: Creator, key: str) -> dict[str, str]:
    return {**who.headers, "Idempotency-Key": key}


async def count(engine: AsyncEngine, table: str) -> int:
    async with tenant_transaction(engine, SERVICE, read_only=True) as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_a_repeat_replays_the_first_answer_and_writes_nothing(
    client: httpx.AsyncClient, alice: Creator, engine: AsyncEngine
) -> None:
    key = str(uuid.uuid4())
    first = await client.post("/v1/projects", headers=keyed(alice, key), json=PROJECT)
    assert first.status_code == 201, first.text
    # Same body in another key order and spacing: still the same request.
    again = await client.post(
        "/v1/projects",
        headers={**keyed(alice, key), "content-type": "application/json"},
        content=b'{"project_type": "course",  "name": "Course", "slug": "course"}',
    )
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await count(engine, "content_projects") == 1

    # Without a key the same body is a new request: the slug is taken.
    plain = await client.post("/v1/projects", headers=alice.headers, json=PROJECT)
    assert plain.status_code == 409


async def test_the_same_key_with_another_body_is_refused(
    client: httpx.AsyncClient, alice: Creator, engine: AsyncEngine
) -> None:
    key = "run-42/project"
    assert (
        await client.post("/v1/projects", headers=keyed(alice, key), json=PROJECT)
    ).status_code == 201
    other = await client.post(
        "/v1/projects", headers=keyed(alice, key), json={**PROJECT, "slug": "other"}
    )
    assert other.status_code == 422
    assert other.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert other.json()["type"].endswith("idempotency-key-reused")
    assert await count(engine, "content_projects") == 1


async def test_a_repeat_while_the_first_runs_is_409(
    client: httpx.AsyncClient, alice: Creator, engine: AsyncEngine
) -> None:
    key = str(uuid.uuid4())
    # The first request, still running: its transaction holds the key's lock.
    async with tenant_transaction(engine, alice.principal, read_only=False) as first:
        assert await fetchval(first, _LOCK, key)
        response = await client.post("/v1/projects", headers=keyed(alice, key), json=PROJECT)
        assert response.status_code == 409
        assert response.json()["type"].endswith("idempotency-key-in-use")
        assert response.headers["retry-after"] == "1"
    assert await count(engine, "content_projects") == 0
    # Once it is over, the key is free again.
    assert (
        await client.post("/v1/projects", headers=keyed(alice, key), json=PROJECT)
    ).status_code == 201


async def test_keys_expire_after_24_hours(
    client: httpx.AsyncClient, alice: Creator, engine: AsyncEngine
) -> None:
    project = await client.post("/v1/projects", headers=alice.headers, json=PROJECT)
    path = f"/v1/projects/{project.json()['id']}/market-research"
    key = str(uuid.uuid4())
    first = await client.post(path, headers=keyed(alice, key), json=REPORT)
    assert (await client.post(path, headers=keyed(alice, key), json=REPORT)).json() == first.json()
    assert await count(engine, "market_research") == 1

    async with tenant_transaction(engine, SERVICE, read_only=False) as conn:
        await conn.execute(
            text("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
        )
    later = await client.post(path, headers=keyed(alice, key), json=REPORT)
    assert later.status_code == 201
    assert later.json()["id"] != first.json()["id"]
    assert await count(engine, "market_research") == 2
    assert await count(engine, "idempotency_keys") == 1  # the expired one went


async def test_keys_belong_to_their_caller(
    client: httpx.AsyncClient, alice: Creator, bob: Creator, engine: AsyncEngine
) -> None:
    key = "shared-key"
    assert (
        await client.post("/v1/projects", headers=keyed(alice, key), json=PROJECT)
    ).status_code == 201
    # Bob's key of the same name is his own: no replay of Alice's project, no 422.
    bobs = await client.post(
        "/v1/projects", headers=keyed(bob, key), json={**PROJECT, "slug": "bobs"}
    )
    assert bobs.status_code == 201
    assert bobs.json()["slug"] == "bobs"
    async with tenant_transaction(engine, bob.principal, read_only=True) as conn:
        rows = (await conn.execute(text("SELECT key FROM idempotency_keys"))).all()
    assert len(rows) == 1  # RLS: Alice's key is invisible to Bob


async def test_a_refused_write_keeps_no_key(client: httpx.AsyncClient, alice: Creator) -> None:
    key = str(uuid.uuid4())
    missing = f"/v1/projects/{uuid.uuid4()}/market-research"
    assert (await client.post(missing, headers=keyed(alice, key), json=REPORT)).status_code == 404
    project = await client.post("/v1/projects", headers=alice.headers, json=PROJECT)
    assert project.status_code == 201
    # The failed request left nothing behind: the key serves another request.
    path = f"/v1/projects/{project.json()['id']}/market-research"
    assert (await client.post(path, headers=keyed(alice, key), json=REPORT)).status_code == 201


async def test_every_post_takes_the_header(client: httpx.AsyncClient) -> None:
    """Every POST: the creating ones, restore and move (issue 20, item 9),
    a revision's restore (issue 23)."""
    spec = (await client.get("/openapi.json")).json()
    posts = [(path, item["post"]) for path, item in spec["paths"].items() if "post" in item]
    assert len([p for p, op in posts if "201" in op["responses"]]) == 6
    assert {
        "/v1/contents/{content_id}/restore",
        "/v1/contents/{content_id}/move",
        "/v1/projects/{project_id}/revisions/{number}/restore",
    } <= {path for path, _ in posts}
    for path, operation in posts:
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in names, path
        assert "409" in operation["responses"], path


async def test_a_malformed_key_is_a_422(client: httpx.AsyncClient, alice: Creator) -> None:
    response = await client.post("/v1/projects", headers=keyed(alice, "x" * 256), json=PROJECT)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]


async def test_restore_and_move_replay_their_first_answer(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    project = await new_project(client, alice)
    first_lesson = await create_content(client, alice, project, "1-1-a")
    second_lesson = await create_content(client, alice, project, "1-2-b")
    content = f"/v1/contents/{second_lesson['id']}"
    assert (await client.delete(content, headers=alice.headers)).status_code == 204

    key = str(uuid.uuid4())
    restored = await client.post(f"{content}/restore", headers=keyed(alice, key))
    assert restored.status_code == 200, restored.text
    assert (await client.delete(content, headers=alice.headers)).status_code == 204
    replayed = await client.post(f"{content}/restore", headers=keyed(alice, key))
    assert replayed.status_code == 200
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == restored.json()
    assert (await client.get(content, headers=alice.headers)).status_code == 404  # not again

    move = f"/v1/contents/{first_lesson['id']}/move"
    key = str(uuid.uuid4())
    moved = await client.post(move, headers=keyed(alice, key), json={"position": 2})
    assert moved.status_code == 204, moved.text
    again = await client.post(move, headers=keyed(alice, key), json={"position": 2})
    assert again.status_code == 204 and again.content == b""
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post(move, headers=keyed(alice, key), json={"position": 1})
    assert other.status_code == 422  # the same key for another move
