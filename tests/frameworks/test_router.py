"""Frameworks over HTTP, as two creators and service_role."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import SERVICE
from app.db.tenancy import tenant_transaction
from app.http.problems import PROBLEM_MEDIA_TYPE
from tests.factories import Creator, create_content, new_project, token_headers
from tests.helpers import (
    after,
    assert_hidden_like_missing,
    assert_invalid,
    operations_under,
    walk_pages,
)

AIDA = {
    "slug": "aida",
    "name": "AIDA",
    "framework_type": "marketing",
    "framework_schema": {"type": "object", "required": ["attention", "action"]},
}


async def create(client: httpx.AsyncClient, who: Creator, **overrides: object) -> dict:
    response = await client.post("/v1/frameworks", headers=who.headers, json={**AIDA, **overrides})
    assert response.status_code == 201, response.text
    return response.json()


async def insert_global(engine: AsyncEngine, slug: str = "gps", name: str = "GPS") -> str:
    async with tenant_transaction(engine, SERVICE, read_only=False) as conn:
        inserted = await conn.scalar(
            text("INSERT INTO content_frameworks (slug, name) VALUES (:slug, :name) RETURNING id"),
            {"slug": slug, "name": name},
        )
    return str(inserted)


async def test_create_get_list_update_delete(client: httpx.AsyncClient, alice: Creator) -> None:
    response = await client.post("/v1/frameworks", headers=alice.headers, json=AIDA)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/frameworks/{created['id']}"
    assert created["owner_mind_id"] == str(alice.mind_id)
    assert created["is_global"] is False
    assert created["is_active"] is True
    assert created["framework_schema"] == AIDA["framework_schema"]

    url = f"/v1/frameworks/{created['id']}"
    assert (await client.get(url, headers=alice.headers)).json() == created
    listed = await client.get("/v1/frameworks", headers=alice.headers)
    assert [f["id"] for f in listed.json()["items"]] == [created["id"]]
    assert listed.json()["next_cursor"] is None

    patched = await client.patch(url, headers=alice.headers, json={"is_active": False})
    assert patched.status_code == 200, patched.text
    assert patched.json()["is_active"] is False
    assert patched.json()["name"] == AIDA["name"], "PATCH is partial"
    assert after(patched.json()["updated_at"], created["updated_at"]), "the trigger bumps it"
    cleared = await client.patch(url, headers=alice.headers, json={"framework_schema": None})
    assert cleared.json()["framework_schema"] is None
    unchanged = await client.patch(url, headers=alice.headers, json={})
    assert unchanged.status_code == 200 and unchanged.json() == cleared.json()

    assert (await client.delete(url, headers=alice.headers)).status_code == 204
    assert (await client.get(url, headers=alice.headers)).status_code == 404
    assert (await client.delete(url, headers=alice.headers)).status_code == 404


async def test_another_creators_framework_is_404_exactly_like_a_missing_one(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    framework = await create(client, alice)
    missing = uuid.uuid4()
    await assert_hidden_like_missing(
        client,
        bob.headers,
        f"/v1/frameworks/{framework['id']}",
        f"/v1/frameworks/{missing}",
        (("GET", None), ("PATCH", {"name": "mine now"}), ("DELETE", None)),
    )
    assert (await client.get("/v1/frameworks", headers=bob.headers)).json()["items"] == []
    still = await client.get(f"/v1/frameworks/{framework['id']}", headers=alice.headers)
    assert still.json() == framework


async def test_slugs_are_unique_per_owner(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    first = await create(client, alice)
    await create(client, bob)
    again = await client.post("/v1/frameworks", headers=alice.headers, json=AIDA)
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert "bob" not in again.text
    other = await create(client, alice, slug="aida-2")
    renamed = await client.patch(
        f"/v1/frameworks/{other['id']}", headers=alice.headers, json={"slug": "aida"}
    )
    assert renamed.status_code == 409
    listed = await client.get("/v1/frameworks", headers=alice.headers)
    assert sorted(f["slug"] for f in listed.json()["items"]) == ["aida", "aida-2"]
    assert first["id"] in {f["id"] for f in listed.json()["items"]}


async def test_global_frameworks_are_read_only_to_creators(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    gps = await insert_global(engine)
    url = f"/v1/frameworks/{gps}"
    for who in (alice, bob):
        listed = (await client.get("/v1/frameworks", headers=who.headers)).json()["items"]
        assert [(f["id"], f["is_global"], f["owner_mind_id"]) for f in listed] == [
            (gps, True, None)
        ]
    before = (await client.get(url, headers=alice.headers)).json()
    patched = await client.patch(url, headers=alice.headers, json={"name": "Mine"})
    assert patched.status_code == 403
    assert patched.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert patched.json()["detail"] == "global frameworks are managed by service_role"
    assert (await client.delete(url, headers=bob.headers)).status_code == 403
    assert (await client.get(url, headers=bob.headers)).json() == before

    # A creator may have a framework of their own under a global one's slug.
    own = await create(client, alice, slug="gps", name="My GPS")
    by_slug = await client.get("/v1/frameworks", headers=alice.headers, params={"slug": "gps"})
    assert {f["id"] for f in by_slug.json()["items"]} == {gps, own["id"]}
    by_slug = await client.get("/v1/frameworks", headers=bob.headers, params={"slug": "gps"})
    assert [f["id"] for f in by_slug.json()["items"]] == [gps]


async def test_service_role_manages_global_frameworks(client: httpx.AsyncClient) -> None:
    service = token_headers(None, "service_role")
    created = await client.post("/v1/frameworks", headers=service, json=AIDA)
    assert created.status_code == 201, created.text
    assert created.json()["is_global"] is True and created.json()["owner_mind_id"] is None
    url = f"/v1/frameworks/{created.json()['id']}"
    patched = await client.patch(url, headers=service, json={"name": "AIDA v2"})
    assert patched.status_code == 200 and patched.json()["name"] == "AIDA v2"
    duplicate = await client.post("/v1/frameworks", headers=service, json=AIDA)
    assert duplicate.status_code == 409, "two global frameworks may not share a slug"
    assert (await client.delete(url, headers=service)).status_code == 204


async def test_a_user_without_a_mind_cannot_create_one(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/frameworks", headers=token_headers(uuid.uuid4()), json=AIDA)
    assert response.status_code == 403
    assert response.json()["type"].endswith("/no-mind")


async def test_deleting_a_framework_detaches_its_contents(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator
) -> None:
    framework = await create(client, alice)
    project = await new_project(client, alice, name="Course")
    lesson = await create_content(client, alice, project, "l1", title="L1")
    async with tenant_transaction(engine, alice.principal, read_only=False) as conn:
        await conn.execute(
            text("UPDATE contents SET framework_id = :f WHERE id = :c"),
            {"f": framework["id"], "c": lesson["id"]},
        )
    url = f"/v1/frameworks/{framework['id']}"
    assert (await client.delete(url, headers=alice.headers)).status_code == 204
    async with tenant_transaction(engine, alice.principal, read_only=True) as conn:
        framework_id = await conn.scalar(
            text("SELECT framework_id FROM contents WHERE id = :c"), {"c": lesson["id"]}
        )
    assert framework_id is None
    still = await client.get(f"/v1/contents/{lesson['id']}", headers=alice.headers)
    assert still.status_code == 200


async def test_bad_input_is_a_422_problem_and_changes_nothing(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    bad = [
        {**AIDA, "framework_type": "pedagogy"},
        {**AIDA, "slug": "Not A Slug"},
        {**AIDA, "name": ""},
        {**AIDA, "name": "nul\u0000byte"},
        {**AIDA, "description": "nul\u0000byte"},
        {**AIDA, "framework_schema": {"title": "nul\u0000"}},
        {**AIDA, "framework_schema": ["not", "an", "object"]},
        {**AIDA, "owner_mind_id": str(alice.mind_id)},  # never chosen by a tenant
        {**AIDA, "owner_mind_id": None},  # nor made global
        {**AIDA, "is_global": True},
        {"slug": "only-a-slug"},
    ]
    for body in bad:
        assert_invalid(await client.post("/v1/frameworks", headers=alice.headers, json=body), body)
    assert (await client.get("/v1/frameworks", headers=alice.headers)).json()["items"] == []

    framework = await create(client, alice)
    url = f"/v1/frameworks/{framework['id']}"
    for body in (
        {"framework_type": "nope"},
        {"name": "a\u0000b"},
        {"owner_mind_id": None},
        {"name": None},
        {"is_active": None},
        {"slug": None},
    ):
        assert_invalid(await client.patch(url, headers=alice.headers, json=body), body)
    assert (await client.get(url, headers=alice.headers)).json() == framework
    assert (await client.get("/v1/frameworks/not-a-uuid", headers=alice.headers)).status_code == 422
    bad_filter = await client.get(
        "/v1/frameworks", headers=alice.headers, params={"framework_type": "nope"}
    )
    assert bad_filter.status_code == 422


async def test_anonymous_callers_are_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/frameworks")).status_code == 401
    assert (await client.post("/v1/frameworks", json=AIDA)).status_code == 401


async def test_keyset_pagination_walks_every_framework_once(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator
) -> None:
    made = {(await create(client, alice, slug=f"f-{i}"))["id"] for i in range(7)}
    made.add(await insert_global(engine))
    seen = await walk_pages(client, "/v1/frameworks", alice.headers)
    assert sorted(seen) == sorted(made) and len(seen) == len(made)
    bad_cursor = await client.get("/v1/frameworks", headers=alice.headers, params={"cursor": "zz"})
    assert bad_cursor.status_code == 422
    too_big = await client.get("/v1/frameworks", headers=alice.headers, params={"limit": 500})
    assert too_big.status_code == 422


async def test_filters(client: httpx.AsyncClient, alice: Creator) -> None:
    await create(client, alice, slug="aida")
    await create(client, alice, slug="bloom", framework_type="pedagogical", is_active=False)
    pedagogical = await client.get(
        "/v1/frameworks", headers=alice.headers, params={"framework_type": "pedagogical"}
    )
    assert [f["slug"] for f in pedagogical.json()["items"]] == ["bloom"]
    active = await client.get("/v1/frameworks", headers=alice.headers, params={"is_active": True})
    assert [f["slug"] for f in active.json()["items"]] == ["aida"]
    inactive = await client.get(
        "/v1/frameworks", headers=alice.headers, params={"is_active": "false"}
    )
    assert [f["slug"] for f in inactive.json()["items"]] == ["bloom"]
    by_slug = await client.get("/v1/frameworks", headers=alice.headers, params={"slug": "aida"})
    assert [f["slug"] for f in by_slug.json()["items"]] == ["aida"]


async def test_openapi_documents_every_operation(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operations = operations_under(spec, "/v1/frameworks")
    assert set(operations) == {
        "createFramework", "listFrameworks", "getFramework", "updateFramework", "deleteFramework",
    }  # fmt: skip
    assert all(op["tags"] == ["frameworks"] and op["summary"] for op in operations.values())
    assert "is_global" in spec["components"]["schemas"]["Framework"]["properties"]
