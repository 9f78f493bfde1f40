"""Audiences over HTTP, as two creators: owner only."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import SERVICE
from app.db.tenancy import tenant_transaction
from app.http.problems import PROBLEM_MEDIA_TYPE
from tests.factories import AUDIENCE, Creator, create_audience, new_project, token_headers
from tests.helpers import (
    after,
    assert_hidden_like_missing,
    assert_invalid,
    operations_under,
    walk_pages,
)


async def test_create_get_list_update_delete(client: httpx.AsyncClient, alice: Creator) -> None:
    response = await client.post("/v1/audiences", headers=alice.headers, json=AUDIENCE)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/audiences/{created['id']}"
    assert created["owner_mind_id"] == str(alice.mind_id)
    assert created["demographics"] == AUDIENCE["demographics"]

    url = f"/v1/audiences/{created['id']}"
    assert (await client.get(url, headers=alice.headers)).json() == created
    listed = await client.get("/v1/audiences", headers=alice.headers)
    assert [a["id"] for a in listed.json()["items"]] == [created["id"]]
    assert listed.json()["next_cursor"] is None

    patched = await client.patch(url, headers=alice.headers, json={"technical_level": "expert"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["technical_level"] == "expert"
    assert patched.json()["psychographics"] == AUDIENCE["psychographics"], "PATCH is partial"
    assert after(patched.json()["updated_at"], created["updated_at"]), "the trigger bumps it"
    cleared = await client.patch(
        url, headers=alice.headers, json={"technical_level": None, "demographics": None}
    )
    assert cleared.json()["technical_level"] is None and cleared.json()["demographics"] is None
    assert (await client.patch(url, headers=alice.headers, json={})).json() == cleared.json()

    assert (await client.delete(url, headers=alice.headers)).status_code == 204
    assert (await client.get(url, headers=alice.headers)).status_code == 404
    assert (await client.delete(url, headers=alice.headers)).status_code == 404


async def test_a_minimal_audience(client: httpx.AsyncClient, alice: Creator) -> None:
    created = await client.post(
        "/v1/audiences", headers=alice.headers, json={"slug": "all", "name": "Everyone"}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["technical_level"] is None and body["demographics"] is None


async def test_another_creators_audience_is_404_exactly_like_a_missing_one(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    audience = await create_audience(client, alice)
    missing = uuid.uuid4()
    await assert_hidden_like_missing(
        client,
        bob.headers,
        f"/v1/audiences/{audience['id']}",
        f"/v1/audiences/{missing}",
        (("GET", None), ("PATCH", {"name": "mine now"}), ("DELETE", None)),
    )
    assert (await client.get("/v1/audiences", headers=bob.headers)).json()["items"] == []
    by_slug = await client.get("/v1/audiences", headers=bob.headers, params={"slug": "devs-br"})
    assert by_slug.json()["items"] == []
    still = await client.get(f"/v1/audiences/{audience['id']}", headers=alice.headers)
    assert still.json() == audience


async def test_slugs_are_unique_per_owner(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    await create_audience(client, alice)
    theirs = await create_audience(client, bob)
    assert theirs["owner_mind_id"] == str(bob.mind_id)
    again = await client.post("/v1/audiences", headers=alice.headers, json=AUDIENCE)
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert "bob" not in again.text
    other = await create_audience(client, alice, slug="devs-pt")
    renamed = await client.patch(
        f"/v1/audiences/{other['id']}", headers=alice.headers, json={"slug": "devs-br"}
    )
    assert renamed.status_code == 409
    listed = await client.get("/v1/audiences", headers=alice.headers)
    assert sorted(a["slug"] for a in listed.json()["items"]) == ["devs-br", "devs-pt"]


async def test_an_audience_a_project_targets_cannot_be_deleted(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator
) -> None:
    audience = await create_audience(client, alice)
    project = await new_project(client, alice, name="Course")
    async with tenant_transaction(engine, alice.principal, read_only=False) as conn:
        await conn.execute(
            text("UPDATE content_projects SET target_audience_id = :a WHERE id = :p"),
            {"a": audience["id"], "p": project},
        )
    url = f"/v1/audiences/{audience['id']}"
    refused = await client.delete(url, headers=alice.headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("/in-use")
    assert (await client.get(url, headers=alice.headers)).json() == audience
    await client.delete(f"/v1/projects/{project}", headers=alice.headers)
    assert (await client.delete(url, headers=alice.headers)).status_code == 204


async def test_only_a_mind_can_own_an_audience(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    no_mind = token_headers(uuid.uuid4())
    service = token_headers(None, "service_role")
    for headers in (no_mind, service):
        response = await client.post("/v1/audiences", headers=headers, json=AUDIENCE)
        assert response.status_code == 403, response.text
        assert response.json()["type"].endswith("/no-mind")
    async with tenant_transaction(engine, SERVICE, read_only=True) as conn:
        assert await conn.scalar(text("SELECT count(*) FROM audience_profiles")) == 0


async def test_bad_input_is_a_422_problem_and_changes_nothing(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    bad = [
        {**AUDIENCE, "technical_level": "guru"},
        {**AUDIENCE, "slug": "Not A Slug"},
        {**AUDIENCE, "name": ""},
        {**AUDIENCE, "name": "nul\u0000byte"},
        {**AUDIENCE, "description": "nul\u0000byte"},
        {**AUDIENCE, "demographics": {"country": "B\u0000R"}},
        {**AUDIENCE, "psychographics": {"k\u0000": 1}},
        {**AUDIENCE, "learning_preferences": ["video"]},
        {**AUDIENCE, "owner_mind_id": str(alice.mind_id)},  # never chosen by a tenant
        {"slug": "only-a-slug"},
    ]
    for body in bad:
        assert_invalid(await client.post("/v1/audiences", headers=alice.headers, json=body), body)
    assert (await client.get("/v1/audiences", headers=alice.headers)).json()["items"] == []

    audience = await create_audience(client, alice)
    url = f"/v1/audiences/{audience['id']}"
    for body in (
        {"technical_level": "guru"},
        {"name": None},
        {"slug": None},
        {"owner_mind_id": str(uuid.uuid4())},
        {"demographics": {"x": "\u0000"}},
    ):
        assert_invalid(await client.patch(url, headers=alice.headers, json=body), body)
    assert (await client.get(url, headers=alice.headers)).json() == audience
    assert (await client.get("/v1/audiences/not-a-uuid", headers=alice.headers)).status_code == 422


async def test_anonymous_callers_are_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/audiences")).status_code == 401
    assert (await client.post("/v1/audiences", json=AUDIENCE)).status_code == 401


async def test_keyset_pagination_walks_every_audience_once(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    made = {(await create_audience(client, alice, slug=f"a-{i}"))["id"] for i in range(7)}
    await create_audience(client, bob)
    seen = await walk_pages(client, "/v1/audiences", alice.headers)
    assert sorted(seen) == sorted(made) and len(seen) == len(made)
    bad_cursor = await client.get("/v1/audiences", headers=alice.headers, params={"cursor": "zz"})
    assert bad_cursor.status_code == 422


async def test_filters(client: httpx.AsyncClient, alice: Creator) -> None:
    await create_audience(client, alice, slug="juniors", technical_level="beginner")
    await create_audience(client, alice, slug="seniors", technical_level="expert")
    experts = await client.get(
        "/v1/audiences", headers=alice.headers, params={"technical_level": "expert"}
    )
    assert [a["slug"] for a in experts.json()["items"]] == ["seniors"]
    by_slug = await client.get("/v1/audiences", headers=alice.headers, params={"slug": "juniors"})
    assert [a["slug"] for a in by_slug.json()["items"]] == ["juniors"]


async def test_openapi_documents_every_operation(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operations = operations_under(spec, "/v1/audiences")
    assert set(operations) == {
        "createAudience", "listAudiences", "getAudience", "updateAudience", "deleteAudience",
    }  # fmt: skip
    assert all(op["tags"] == ["audiences"] and op["summary"] for op in operations.values())
