"""Market research over HTTP: it follows its project."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import SERVICE
from app.db.tenancy import tenant_transaction
from app.http.problems import PROBLEM_MEDIA_TYPE
from tests.factories import Creator, grant_persona, new_project
from tests.helpers import after, assert_hidden_like_missing, assert_invalid, walk_pages

REPORT = {
    "research_type": "competitive_analysis",
    "title": "Cursos de Claude Code",
    "report_data": {"competitors": [{"name": "Curso X", "price_brl": 497}]},
    "body": "# Concorrentes\n\n- Curso X\n",
    "competitors_count": 1,
}


async def create(
    client: httpx.AsyncClient, who: Creator, project_id: str, **overrides: object
) -> dict:
    response = await client.post(
        f"/v1/projects/{project_id}/market-research",
        headers=who.headers,
        json={**REPORT, **overrides},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_get_list_update_delete(client: httpx.AsyncClient, alice: Creator) -> None:
    project = await new_project(client, alice)
    response = await client.post(
        f"/v1/projects/{project}/market-research", headers=alice.headers, json=REPORT
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/market-research/{created['id']}"
    assert created["project_id"] == project
    assert created["report_data"] == REPORT["report_data"] and created["body"] == REPORT["body"]

    url = f"/v1/market-research/{created['id']}"
    assert (await client.get(url, headers=alice.headers)).json() == created
    listed = await client.get(f"/v1/projects/{project}/market-research", headers=alice.headers)
    assert [r["id"] for r in listed.json()["items"]] == [created["id"]]
    assert listed.json()["next_cursor"] is None

    patched = await client.patch(url, headers=alice.headers, json={"competitors_count": 12})
    assert patched.status_code == 200, patched.text
    assert patched.json()["competitors_count"] == 12
    assert patched.json()["title"] == REPORT["title"], "PATCH is partial"
    assert after(patched.json()["updated_at"], created["updated_at"]), "the trigger bumps it"
    cleared = await client.patch(url, headers=alice.headers, json={"body": None, "title": None})
    assert cleared.json()["body"] is None and cleared.json()["title"] is None
    assert (await client.patch(url, headers=alice.headers, json={})).json() == cleared.json()

    assert (await client.delete(url, headers=alice.headers)).status_code == 204
    assert (await client.get(url, headers=alice.headers)).status_code == 404
    assert (await client.delete(url, headers=alice.headers)).status_code == 404


async def test_a_minimal_report(client: httpx.AsyncClient, alice: Creator) -> None:
    project = await new_project(client, alice)
    report = await create(
        client, alice, project, research_type="sources", report_data={}, title=None,
        body=None, competitors_count=None,
    )  # fmt: skip
    assert report["report_data"] == {} and report["competitors_count"] is None


async def test_another_creators_research_is_404_exactly_like_a_missing_one(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    project = await new_project(client, alice)
    report = await create(client, alice, project)
    missing = uuid.uuid4()
    await assert_hidden_like_missing(
        client,
        bob.headers,
        f"/v1/market-research/{report['id']}",
        f"/v1/market-research/{missing}",
        (("GET", None), ("PATCH", {"title": "mine now"}), ("DELETE", None)),
    )
    # The project itself: listing or adding answers as if it did not exist.
    await assert_hidden_like_missing(
        client,
        bob.headers,
        f"/v1/projects/{project}/market-research",
        f"/v1/projects/{missing}/market-research",
        (("GET", None), ("POST", REPORT)),
    )
    still = await client.get(f"/v1/market-research/{report['id']}", headers=alice.headers)
    assert still.json() == report
    listed = await client.get(f"/v1/projects/{project}/market-research", headers=alice.headers)
    assert [r["id"] for r in listed.json()["items"]] == [report["id"]]


async def test_the_persona_reads_but_cannot_change(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    await grant_persona(client, bob, alice)
    project = await new_project(client, alice, persona_mind_id=str(bob.mind_id))
    report = await create(client, alice, project)
    url = f"/v1/market-research/{report['id']}"
    listed = await client.get(f"/v1/projects/{project}/market-research", headers=bob.headers)
    assert [r["id"] for r in listed.json()["items"]] == [report["id"]]
    assert (await client.get(url, headers=bob.headers)).json() == report
    patched = await client.patch(url, headers=bob.headers, json={"title": "x"})
    assert patched.status_code == 403
    assert patched.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert (await client.delete(url, headers=bob.headers)).status_code == 403
    added = await client.post(
        f"/v1/projects/{project}/market-research", headers=bob.headers, json=REPORT
    )
    assert added.status_code == 403
    assert added.json()["type"].endswith("/read-only")
    assert (await client.get(url, headers=alice.headers)).json() == report
    listed = await client.get(f"/v1/projects/{project}/market-research", headers=alice.headers)
    assert len(listed.json()["items"]) == 1


async def test_research_goes_with_its_project(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator
) -> None:
    project = await new_project(client, alice)
    kept_project = await new_project(client, alice, "kept")
    reports = [(await create(client, alice, project))["id"] for _ in range(2)]
    kept = await create(client, alice, kept_project)
    assert (
        await client.delete(f"/v1/projects/{project}", headers=alice.headers)
    ).status_code == 204
    for report in reports:
        gone = await client.get(f"/v1/market-research/{report}", headers=alice.headers)
        assert gone.status_code == 404
    listed = await client.get(f"/v1/projects/{project}/market-research", headers=alice.headers)
    assert listed.status_code == 404
    async with tenant_transaction(engine, SERVICE, read_only=True) as conn:
        left = (await conn.execute(text("SELECT id FROM market_research"))).scalars().all()
    assert [str(r) for r in left] == [kept["id"]]


async def test_bad_input_is_a_422_problem_and_changes_nothing(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    project = await new_project(client, alice)
    collection = f"/v1/projects/{project}/market-research"
    missing_report = {k: v for k, v in REPORT.items() if k != "report_data"}
    bad = [
        {**REPORT, "research_type": "swot"},
        {**REPORT, "competitors_count": -1},
        {**REPORT, "competitors_count": 2**31},
        {**REPORT, "title": ""},
        {**REPORT, "title": "nul\u0000byte"},
        {**REPORT, "body": "nul\u0000byte"},
        {**REPORT, "report_data": {"k": ["\u0000"]}},
        {**REPORT, "report_data": None},
        {**REPORT, "report_data": ["not", "an", "object"]},
        {**REPORT, "project_id": str(uuid.uuid4())},  # the path says which project
        missing_report,
        {"report_data": {}},
    ]
    for body in bad:
        assert_invalid(await client.post(collection, headers=alice.headers, json=body), body)
    assert (await client.get(collection, headers=alice.headers)).json()["items"] == []

    report = await create(client, alice, project)
    url = f"/v1/market-research/{report['id']}"
    for body in (
        {"research_type": "swot"},
        {"competitors_count": -3},
        {"report_data": None},
        {"research_type": None},
        {"body": "a\u0000b"},
        {"project_id": await new_project(client, alice, "other")},
    ):
        assert_invalid(await client.patch(url, headers=alice.headers, json=body), body)
    assert (await client.get(url, headers=alice.headers)).json() == report
    assert (
        await client.get("/v1/market-research/not-a-uuid", headers=alice.headers)
    ).status_code == 422
    bad_filter = await client.get(collection, headers=alice.headers, params={"research_type": "x"})
    assert bad_filter.status_code == 422


async def test_anonymous_callers_are_401(client: httpx.AsyncClient) -> None:
    missing = uuid.uuid4()
    assert (await client.get(f"/v1/projects/{missing}/market-research")).status_code == 401
    assert (await client.get(f"/v1/market-research/{missing}")).status_code == 401


async def test_keyset_pagination_walks_every_report_once(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    project = await new_project(client, alice)
    other = await new_project(client, alice, "other")
    made = {(await create(client, alice, project))["id"] for _ in range(7)}
    await create(client, alice, other)
    collection = f"/v1/projects/{project}/market-research"
    seen = await walk_pages(client, collection, alice.headers)
    assert sorted(seen) == sorted(made) and len(seen) == len(made)
    bad_cursor = await client.get(collection, headers=alice.headers, params={"cursor": "zz"})
    assert bad_cursor.status_code == 422


async def test_filter_by_research_type(client: httpx.AsyncClient, alice: Creator) -> None:
    project = await new_project(client, alice)
    await create(client, alice, project)
    keywords = await create(client, alice, project, research_type="keyword_research")
    listed = await client.get(
        f"/v1/projects/{project}/market-research",
        headers=alice.headers,
        params={"research_type": "keyword_research"},
    )
    assert [r["id"] for r in listed.json()["items"]] == [keywords["id"]]


async def test_openapi_documents_every_operation(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operations = {
        op["operationId"]: op
        for path, item in spec["paths"].items()
        if "market-research" in path
        for op in item.values()
    }
    assert set(operations) == {
        "createMarketResearch", "listMarketResearch", "getMarketResearch",
        "updateMarketResearch", "deleteMarketResearch",
    }  # fmt: skip
    assert all(op["tags"] == ["market research"] and op["summary"] for op in operations.values())
