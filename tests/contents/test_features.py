"""Status workflow, metadata merge, restore, minds, tags, parents, filters."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import SERVICE
from app.db.tenancy import tenant_transaction
from tests.factories import Creator, create_content, new_project


async def new_content(client: httpx.AsyncClient, who: Creator, **extra: object) -> dict:
    """A lesson in a project of its own."""
    project = await new_project(client, who, f"p-{uuid.uuid4().hex[:8]}")
    return await create_content(client, who, project, **extra)


async def test_the_status_workflow(client: httpx.AsyncClient, alice: Creator) -> None:
    content = await new_content(client, alice)
    url = f"/v1/contents/{content['id']}"

    async def move(to: str) -> httpx.Response:
        return await client.patch(url, headers=alice.headers, json={"status": to})

    refused = await move("published")  # draft cannot skip review
    assert refused.status_code == 409
    assert "allowed: archived, reviewed" in refused.json()["detail"]
    assert (await move("reviewed")).json()["published_at"] is None
    published = (await move("published")).json()
    assert published["status"] == "published" and published["published_at"]
    again = (await move("published")).json()  # a repeat is a no-op, same stamp
    assert again["published_at"] == published["published_at"]
    assert (await move("draft")).status_code == 409
    assert (await move("archived")).json()["status"] == "archived"
    assert (await move("draft")).json()["status"] == "draft"
    unknown = await move("deleted")
    assert unknown.status_code == 422


async def test_metadata_merges_as_a_json_merge_patch(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    content = await new_content(
        client, alice, metadata={"a": 1, "nested": {"x": 1, "y": 2}, "gone": True}
    )
    url = f"/v1/contents/{content['id']}"
    patched = await client.patch(
        url, headers=alice.headers,
        json={"metadata": {"b": 2, "nested": {"y": None, "z": 3}, "gone": None}},
    )  # fmt: skip
    assert patched.json()["metadata"] == {"a": 1, "b": 2, "nested": {"x": 1, "z": 3}}


async def test_two_concurrent_metadata_merges_keep_both_keys(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator
) -> None:
    """The old persister read, merged in Python and wrote back: concurrent
    updates lost each other's keys. Here both transactions are open at once,
    the second waits on the row lock, and both keys survive."""
    content = await new_content(client, alice, metadata={"seed": 0})
    first_wrote = asyncio.Event()

    async def patch(key: str, wait_for: asyncio.Event | None) -> None:
        async with tenant_transaction(engine, alice.principal, read_only=False) as conn:
            if wait_for is not None:
                await wait_for.wait()
            await conn.execute(
                text(
                    "UPDATE contents SET metadata = jsonb_merge_patch(metadata, CAST(:p AS jsonb))"
                    " WHERE id = :id"
                ),
                {"p": f'{{"{key}": true}}', "id": content["id"]},
            )
            if wait_for is None:
                first_wrote.set()
                await asyncio.sleep(0.2)  # hold the row lock while the other one waits

    await asyncio.gather(patch("first", None), patch("second", first_wrote))
    got = await client.get(f"/v1/contents/{content['id']}", headers=alice.headers)
    assert got.json()["metadata"] == {"seed": 0, "first": True, "second": True}

    # And through HTTP, many at once.
    keys = [f"k{i}" for i in range(20)]
    await asyncio.gather(*(
        client.patch(f"/v1/contents/{content['id']}", headers=alice.headers,
                     json={"metadata": {k: i}})
        for i, k in enumerate(keys)
    ))  # fmt: skip
    final = (await client.get(f"/v1/contents/{content['id']}", headers=alice.headers)).json()
    assert set(keys) <= set(final["metadata"])


async def test_soft_delete_and_restore(client: httpx.AsyncClient, alice: Creator) -> None:
    content = await new_content(client, alice)
    url = f"/v1/contents/{content['id']}"
    assert (await client.delete(url, headers=alice.headers)).status_code == 204
    assert (await client.get(url, headers=alice.headers)).status_code == 404
    restored = await client.post(f"{url}/restore", headers=alice.headers)
    assert restored.status_code == 200
    assert restored.json()["id"] == content["id"]
    assert (await client.get(url, headers=alice.headers)).status_code == 200
    assert (await client.post(f"{url}/restore", headers=alice.headers)).status_code == 200
    missing = await client.post(f"/v1/contents/{uuid.uuid4()}/restore", headers=alice.headers)
    assert missing.status_code == 404


async def test_another_creator_cannot_restore(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    content = await new_content(client, alice)
    url = f"/v1/contents/{content['id']}"
    await client.delete(url, headers=alice.headers)
    assert (await client.post(f"{url}/restore", headers=bob.headers)).status_code == 404
    assert (await client.get(url, headers=alice.headers)).status_code == 404


async def test_minds_of_a_content(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    content = await new_content(client, alice)
    url = f"/v1/contents/{content['id']}/minds"
    put = await client.put(f"{url}/{alice.mind_id}", headers=alice.headers, json={"role": "author"})
    assert put.status_code == 200 and put.json()["role"] == "author"
    again = await client.put(
        f"{url}/{alice.mind_id}", headers=alice.headers, json={"role": "co_author"}
    )
    assert again.json()["role"] == "co_author"
    assert (await client.put(f"{url}/{bob.mind_id}", headers=alice.headers,
                             json={"role": "guest"})).status_code == 200  # fmt: skip
    listed = (await client.get(url, headers=alice.headers)).json()
    assert {m["mind_id"]: m["role"] for m in listed} == {
        str(alice.mind_id): "co_author", str(bob.mind_id): "guest",
    }  # fmt: skip

    # A private mind of someone else is as unknown as a missing one.
    async with tenant_transaction(engine, SERVICE, read_only=False) as conn:
        await conn.execute(
            text("UPDATE minds SET privacy_level = 'private' WHERE id = :m"), {"m": bob.mind_id}
        )
    await client.delete(f"{url}/{bob.mind_id}", headers=alice.headers)
    private = await client.put(f"{url}/{bob.mind_id}", headers=alice.headers,
                               json={"role": "guest"})  # fmt: skip
    missing = await client.put(f"{url}/{uuid.uuid4()}", headers=alice.headers,
                               json={"role": "guest"})  # fmt: skip
    assert private.status_code == missing.status_code == 422
    assert private.json()["detail"].endswith("does not exist")

    bad_role = await client.put(f"{url}/{alice.mind_id}", headers=alice.headers,
                                json={"role": "villain"})  # fmt: skip
    assert bad_role.status_code == 422
    theirs = await client.put(f"{url}/{bob.mind_id}", headers=bob.headers, json={"role": "host"})
    assert theirs.status_code == 404
    assert (await client.delete(f"{url}/{alice.mind_id}", headers=alice.headers)).status_code == 204
    assert (await client.delete(f"{url}/{alice.mind_id}", headers=alice.headers)).status_code == 404


async def test_tags_of_a_content(client: httpx.AsyncClient, alice: Creator, bob: Creator) -> None:
    content = await new_content(client, alice)
    other = await new_content(client, alice, slug="other")
    url = f"/v1/contents/{content['id']}/tags"
    put = await client.put(url, headers=alice.headers, json={"tags": ["python", "ai", "python"]})
    assert put.status_code == 200
    assert put.json()["tags"] == ["ai", "python"]
    replaced = await client.put(url, headers=alice.headers, json={"tags": ["ai", " automação "]})
    assert replaced.json()["tags"] == ["ai", "automação"]
    assert (await client.get(url, headers=alice.headers)).json()["tags"] == ["ai", "automação"]

    tagged = await client.get("/v1/contents", headers=alice.headers, params={"tag": "ai"})
    assert [c["id"] for c in tagged.json()["items"]] == [content["id"]]
    assert other["id"] not in {c["id"] for c in tagged.json()["items"]}

    assert (await client.put(url, headers=bob.headers, json={"tags": ["x"]})).status_code == 404
    assert (await client.put(url, headers=alice.headers, json={"tags": [""]})).status_code == 422
    cleared = await client.put(url, headers=alice.headers, json={"tags": []})
    assert cleared.json()["tags"] == []


async def test_reparenting_refuses_cycles_and_other_projects(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    project = await new_project(client, alice, "tree")
    other = await new_project(client, alice, "other-tree")

    async def node(slug: str, parent: str | None = None, in_project: str = project) -> str:
        # articles may hold anything: only cycles and projects are in question
        made = await create_content(
            client, alice, in_project, slug, content_type="article", parent_content_id=parent
        )
        return str(made["id"])

    root = await node("root")
    child = await node("child", root)
    grandchild = await node("grandchild", child)
    elsewhere = await node("elsewhere", in_project=other)

    for new_parent, expected in (
        (grandchild, "cycle"),
        (root, None),
        (elsewhere, "invalid-parent"),
    ):
        if expected is None:
            continue
        response = await client.patch(
            f"/v1/contents/{root}", headers=alice.headers, json={"parent_content_id": new_parent}
        )
        assert response.status_code == 422, response.text
        assert response.json()["type"].endswith(expected)
    self_parent = await client.patch(
        f"/v1/contents/{child}", headers=alice.headers, json={"parent_content_id": child}
    )
    assert self_parent.status_code == 422
    moved = await client.patch(
        f"/v1/contents/{grandchild}", headers=alice.headers, json={"parent_content_id": root}
    )
    assert moved.json()["parent_content_id"] == root
    rooted = await client.patch(
        f"/v1/contents/{grandchild}", headers=alice.headers, json={"parent_content_id": None}
    )
    assert rooted.json()["parent_content_id"] is None


async def test_new_columns_round_trip(client: httpx.AsyncClient, alice: Creator) -> None:
    content = await new_content(
        client, alice, keywords=["claude", "automação"], fidelity_score=0.87, ai_generated=True
    )
    assert content["keywords"] == ["claude", "automação"]
    assert content["fidelity_score"] == 0.87  # a JSON number, as the schema says
    listed = await client.get("/v1/contents", headers=alice.headers)
    assert listed.json()["items"][0]["fidelity_score"] == 0.87
    unknown_framework = await client.patch(
        f"/v1/contents/{content['id']}", headers=alice.headers,
        json={"framework_id": str(uuid.uuid4())},
    )  # fmt: skip
    assert unknown_framework.status_code == 422
    filtered = await client.get(
        "/v1/contents", headers=alice.headers, params={"ai_generated": "true"}
    )
    assert [c["id"] for c in filtered.json()["items"]] == [content["id"]]
