"""Projects over HTTP, as two creators."""

from __future__ import annotations

import uuid

import httpx

from app.http.problems import PROBLEM_MEDIA_TYPE
from tests.factories import Creator, grant_persona
from tests.helpers import assert_hidden_like_missing, assert_invalid, walk_pages

COURSE = {"slug": "claude-code", "name": "Claude Code na prática", "project_type": "course"}


async def create(client: httpx.AsyncClient, who: Creator, **overrides: object) -> dict:
    response = await client.post("/v1/projects", headers=who.headers, json={**COURSE, **overrides})
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_get_list_update_delete(client: httpx.AsyncClient, alice: Creator) -> None:
    created = await create(client, alice)
    assert created["creator_mind_id"] == str(alice.mind_id)
    assert created["status"] == "planning"

    got = await client.get(f"/v1/projects/{created['id']}", headers=alice.headers)
    assert got.json() == created

    listed = await client.get("/v1/projects", headers=alice.headers)
    assert [p["id"] for p in listed.json()["items"]] == [created["id"]]
    assert listed.json()["next_cursor"] is None

    patched = await client.patch(
        f"/v1/projects/{created['id']}", headers=alice.headers, json={"status": "in_progress"}
    )
    assert patched.status_code == 200
    assert patched.json()["status"] == "in_progress"
    assert patched.json()["name"] == COURSE["name"], "PATCH is partial"

    deleted = await client.delete(f"/v1/projects/{created['id']}", headers=alice.headers)
    assert deleted.status_code == 204
    gone = await client.get(f"/v1/projects/{created['id']}", headers=alice.headers)
    assert gone.status_code == 404


async def test_another_creators_project_is_404_exactly_like_a_missing_one(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    project = await create(client, alice)
    missing = uuid.uuid4()
    await assert_hidden_like_missing(
        client,
        bob.headers,
        f"/v1/projects/{project['id']}",
        f"/v1/projects/{missing}",
        (("GET", None), ("PATCH", {"name": "mine now"}), ("DELETE", None)),
    )
    listed = await client.get("/v1/projects", headers=bob.headers)
    assert listed.json()["items"] == []
    still = await client.get(f"/v1/projects/{project['id']}", headers=alice.headers)
    assert still.json()["name"] == COURSE["name"]


async def test_a_second_creator_may_use_the_same_slug(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    await create(client, alice)
    await create(client, bob)
    again = await client.post("/v1/projects", headers=alice.headers, json=COURSE)
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert "bob" not in again.text


async def test_the_persona_reads_but_cannot_change(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    await grant_persona(client, bob, alice)
    project = await create(client, alice, persona_mind_id=str(bob.mind_id))
    url = f"/v1/projects/{project['id']}"
    assert (await client.get(url, headers=bob.headers)).status_code == 200
    assert (await client.patch(url, headers=bob.headers, json={"name": "x"})).status_code == 403
    assert (await client.delete(url, headers=bob.headers)).status_code == 403
    content = {"project_id": project["id"], "slug": "l1", "title": "L1",
               "content_type": "course_lesson"}  # fmt: skip
    assert (await client.post("/v1/contents", headers=bob.headers, json=content)).status_code == 403


async def test_bad_input_is_a_422_problem_and_changes_nothing(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    bad = [
        {**COURSE, "project_type": "podcast"},
        {**COURSE, "slug": "Not A Slug"},
        {**COURSE, "name": ""},
        {**COURSE, "name": "nul\u0000byte"},
        {**COURSE, "creator_mind_id": str(alice.mind_id)},  # never chosen by a tenant
        {**COURSE, "project_metadata": {"k": "nul\u0000"}},
        {"slug": "only-a-slug"},
    ]
    for body in bad:
        assert_invalid(await client.post("/v1/projects", headers=alice.headers, json=body), body)
    not_json = await client.post(
        "/v1/projects", headers={**alice.headers, "content-type": "application/json"},
        content=b"{not json",
    )  # fmt: skip
    assert not_json.status_code == 422
    assert (await client.get("/v1/projects", headers=alice.headers)).json()["items"] == []
    assert (await client.get("/v1/projects/not-a-uuid", headers=alice.headers)).status_code == 422


async def test_a_persona_that_does_not_exist_is_422(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    response = await client.post(
        "/v1/projects", headers=alice.headers, json={**COURSE, "persona_mind_id": str(uuid.uuid4())}
    )
    assert response.status_code == 422
    assert "Traceback" not in response.text


async def test_keyset_pagination_walks_every_project_once(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    made = {(await create(client, alice, slug=f"p-{i}"))["id"] for i in range(7)}
    seen = await walk_pages(client, "/v1/projects", alice.headers)
    assert sorted(seen) == sorted(made) and len(seen) == len(made)
    bad_cursor = await client.get("/v1/projects", headers=alice.headers, params={"cursor": "zz"})
    assert bad_cursor.status_code == 422
    too_big = await client.get("/v1/projects", headers=alice.headers, params={"limit": 500})
    assert too_big.status_code == 422


async def test_filters(client: httpx.AsyncClient, alice: Creator) -> None:
    await create(client, alice, slug="a-course")
    await create(client, alice, slug="a-book", project_type="book")
    books = await client.get("/v1/projects", headers=alice.headers, params={"project_type": "book"})
    assert [p["slug"] for p in books.json()["items"]] == ["a-book"]
    by_slug = await client.get("/v1/projects", headers=alice.headers, params={"slug": "a-course"})
    assert [p["slug"] for p in by_slug.json()["items"]] == ["a-course"]


async def test_put_by_slug_creates_then_updates_in_place(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    body = {"name": "Claude Code", "project_type": "course", "project_metadata": {"v": 1, "a": 1}}
    first = await client.put("/v1/projects/by-slug/claude-code", headers=alice.headers, json=body)
    assert first.status_code == 201, first.text
    rerun = await client.put(
        "/v1/projects/by-slug/claude-code", headers=alice.headers,
        json={**body, "name": "Claude Code 2", "project_metadata": {"v": 2, "a": None}},
    )  # fmt: skip
    assert rerun.status_code == 200
    assert rerun.json()["id"] == first.json()["id"]
    assert rerun.json()["name"] == "Claude Code 2"
    assert rerun.json()["project_metadata"] == {"v": 2}
    assert rerun.json()["status"] == "planning", "status kept when not sent"
    listed = await client.get("/v1/projects", headers=alice.headers)
    assert len(listed.json()["items"]) == 1

    theirs = await client.put("/v1/projects/by-slug/claude-code", headers=bob.headers, json=body)
    assert theirs.status_code == 201
    assert theirs.json()["id"] != first.json()["id"]
    bad = await client.put("/v1/projects/by-slug/Bad Slug", headers=alice.headers, json=body)
    assert bad.status_code == 422


async def test_put_by_slug_with_nothing_new_writes_nothing(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    body = {"name": "Same", "project_type": "course", "project_metadata": {"a": {"b": 1}}}
    first = await client.put("/v1/projects/by-slug/same", headers=alice.headers, json=body)
    again = await client.put("/v1/projects/by-slug/same", headers=alice.headers, json=body)
    assert again.status_code == 200
    assert again.json() == first.json(), "updated_at kept: the row was not rewritten"
    changed = await client.put(
        "/v1/projects/by-slug/same", headers=alice.headers, json={**body, "name": "Other"}
    )
    assert changed.json()["updated_at"] > first.json()["updated_at"]


async def test_concurrent_put_by_slug_never_duplicates(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    import asyncio

    body = {"name": "Race", "project_type": "book"}
    answers = await asyncio.gather(*(
        client.put("/v1/projects/by-slug/race", headers=alice.headers, json=body)
        for _ in range(10)
    ))  # fmt: skip
    assert {a.status_code for a in answers} <= {200, 201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.status_code == 201 for a in answers) == 1


async def test_project_metadata_patch_merges(client: httpx.AsyncClient, alice: Creator) -> None:
    project = await create(client, alice, project_metadata={"keep": 1, "drop": 2})
    patched = await client.patch(
        f"/v1/projects/{project['id']}", headers=alice.headers,
        json={"project_metadata": {"drop": None, "new": {"deep": True}}},
    )  # fmt: skip
    assert patched.json()["project_metadata"] == {"keep": 1, "new": {"deep": True}}
