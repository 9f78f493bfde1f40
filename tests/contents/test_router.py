"""Contents over HTTP, as two creators."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tenancy import tenant_transaction
from tests.factories import Creator, create_content, lesson, new_project


async def test_create_get_update_soft_delete(client: httpx.AsyncClient, alice: Creator) -> None:
    project = await new_project(client, alice)
    created = await client.post("/v1/contents", headers=alice.headers, json=lesson(project))
    assert created.status_code == 201, created.text
    content = created.json()
    assert content["status"] == "draft" and content["ai_generated"] is False
    assert created.headers["location"] == f"/v1/contents/{content['id']}"

    url = f"/v1/contents/{content['id']}"
    assert (await client.get(url, headers=alice.headers)).json() == content
    patched = await client.patch(url, headers=alice.headers, json={"title": "1.1 Novo"})
    assert patched.json()["title"] == "1.1 Novo" and patched.json()["content"] == "# Olá\n"

    assert (await client.delete(url, headers=alice.headers)).status_code == 204
    assert (await client.get(url, headers=alice.headers)).status_code == 404
    assert (await client.delete(url, headers=alice.headers)).status_code == 404
    listed = await client.get("/v1/contents", headers=alice.headers)
    assert listed.json()["items"] == []


async def test_contents_of_another_creator_are_invisible(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    project = await new_project(client, alice)
    content = (
        await client.post("/v1/contents", headers=alice.headers, json=lesson(project))
    ).json()
    url = f"/v1/contents/{content['id']}"
    for method, body in (("GET", None), ("PATCH", {"title": "x"}), ("DELETE", None)):
        response = await client.request(method, url, headers=bob.headers, json=body)
        assert response.status_code == 404, method
    # Writing into Alice's project answers as if it did not exist.
    into_theirs = await client.post("/v1/contents", headers=bob.headers, json=lesson(project))
    into_nothing = await client.post(
        "/v1/contents", headers=bob.headers, json=lesson(str(uuid.uuid4()))
    )
    assert into_theirs.status_code == into_nothing.status_code == 404
    assert into_theirs.json()["title"] == into_nothing.json()["title"]
    assert (await client.get("/v1/contents", headers=bob.headers)).json()["items"] == []


async def test_published_contents_are_readable_by_others(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    project = await new_project(client, alice)
    draft = await create_content(client, alice, project)
    public = await create_content(client, alice, project, "pub")
    async with tenant_transaction(engine, alice.principal, read_only=False) as conn:
        await conn.execute(
            text("UPDATE contents SET status = 'published' WHERE id = :id"), {"id": public["id"]}
        )
    assert (
        await client.get(f"/v1/contents/{public['id']}", headers=bob.headers)
    ).status_code == 200
    assert (await client.get(f"/v1/contents/{draft['id']}", headers=bob.headers)).status_code == 404
    listed = await client.get("/v1/contents", headers=bob.headers)
    assert [c["id"] for c in listed.json()["items"]] == [public["id"]]


async def test_parent_must_be_in_the_same_project(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    first = await new_project(client, alice, "first")
    second = await new_project(client, alice, "second")
    module = await create_content(client, alice, first, "m1", content_type="course_module")
    ok = await client.post(
        "/v1/contents", headers=alice.headers,
        json=lesson(first, "l1", parent_content_id=module["id"], sequence_order=1),
    )  # fmt: skip
    assert ok.status_code == 201
    elsewhere = await client.post(
        "/v1/contents", headers=alice.headers,
        json=lesson(second, "l1", parent_content_id=module["id"]),
    )  # fmt: skip
    assert elsewhere.status_code == 422
    orphan = await client.post(
        "/v1/contents", headers=alice.headers,
        json=lesson(first, "l2", parent_content_id=str(uuid.uuid4())),
    )  # fmt: skip
    assert orphan.status_code == 422


async def test_slugs_are_unique_per_project(client: httpx.AsyncClient, alice: Creator) -> None:
    first = await new_project(client, alice, "first")
    second = await new_project(client, alice, "second")
    assert (await client.post("/v1/contents", headers=alice.headers,
                              json=lesson(first))).status_code == 201  # fmt: skip
    assert (await client.post("/v1/contents", headers=alice.headers,
                              json=lesson(second))).status_code == 201  # fmt: skip
    again = await client.post("/v1/contents", headers=alice.headers, json=lesson(first))
    assert again.status_code == 409


async def test_bad_content_is_422(client: httpx.AsyncClient, alice: Creator) -> None:
    project = await new_project(client, alice)
    for body in (
        lesson(project, content_type="podcast"),
        lesson(project, fidelity_score=1.5),
        lesson(project, content="a\u0000b"),
        lesson(project, metadata={"nested": ["\u0000"]}),
        lesson(project, sequence_order=-1),
        lesson(project, creator_mind_id=str(alice.mind_id)),
    ):
        response = await client.post("/v1/contents", headers=alice.headers, json=body)
        assert response.status_code == 422, (body, response.text)
    assert (await client.get("/v1/contents", headers=alice.headers)).json()["items"] == []


async def test_reads_serialize_exactly_as_the_response_models(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    """A content get and a list page are serialized from their rows, not from
    models (app.http.schemas.rows_response): the bytes must be those the models
    give, field order, decimals, dates, JSON fields and nulls included."""
    from app.contents.schemas import Content
    from app.http.pagination import Page

    project = await new_project(client, alice)
    full = lesson(
        project, "1-2-full", fidelity_score=0.875, sequence_order=3, file_path="a/b.md",
        metadata={"z": [1, {"é": None}], "a": True}, keywords=["ia", "código"],
    )  # fmt: skip
    ids = []
    for body in (full, lesson(project, "1-3-bare", content=None)):
        created = await client.post("/v1/contents", headers=alice.headers, json=body)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    published = await client.patch(
        f"/v1/contents/{ids[0]}", headers=alice.headers, json={"status": "reviewed"}
    )
    assert published.status_code == 200
    for content_id in ids:
        got = await client.get(f"/v1/contents/{content_id}", headers=alice.headers)
        assert got.content == Content.model_validate_json(got.content).model_dump_json().encode()
    listed = await client.get(
        "/v1/contents", headers=alice.headers, params={"project_id": project, "limit": 1}
    )
    page = Page[Content].model_validate_json(listed.content)
    assert page.next_cursor is not None and len(page.items) == 1
    assert listed.content == page.model_dump_json().encode()
    assert page.items[0].fidelity_score is not None and str(page.items[0].fidelity_score) == "0.88"
