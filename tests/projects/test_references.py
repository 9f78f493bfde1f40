"""References a creator sets must name rows the creator can see: a foreign
key alone ignores RLS (target_audience_id, persona_mind_id,
generation_execution_id)."""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from tests.factories import Creator, create_audience, grant_persona, new_project
from tests.helpers import assert_invalid, superuser_dsn

MISSING = str(uuid.uuid4())


def refused_naming(response: httpx.Response, field: str) -> None:
    problem = assert_invalid(response)
    assert [e["loc"] for e in problem["errors"]] == [["body", field]]


async def refused_on_every_write(
    client: httpx.AsyncClient, who: Creator, url: str, field: str, value: str
) -> None:
    """Create, patch (`url`, project c1) and upsert by slug all refuse `value` for `field`."""
    body = {"name": "C1", "project_type": "course", field: value}
    refused_naming(
        await client.post("/v1/projects", headers=who.headers, json={**body, "slug": "c2"}), field
    )
    refused_naming(await client.patch(url, headers=who.headers, json={field: value}), field)
    refused_naming(
        await client.put("/v1/projects/by-slug/c1", headers=who.headers, json=body), field
    )


async def test_target_audience_is_set_read_patched_and_must_be_visible(
    client: httpx.AsyncClient, alice: Creator, bob: Creator
) -> None:
    mine = (await create_audience(client, alice, slug="devs"))["id"]
    other = (await create_audience(client, bob, slug="devs"))["id"]
    body = {"slug": "c1", "name": "C1", "project_type": "course"}

    created = await client.post(
        "/v1/projects", headers=alice.headers, json={**body, "target_audience_id": mine}
    )
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["target_audience_id"] == mine
    url = f"/v1/projects/{project['id']}"
    assert (await client.get(url, headers=alice.headers)).json()["target_audience_id"] == mine

    # Bob's audience exists, but alice cannot see it: refused exactly as a missing one.
    for audience in (other, MISSING):
        await refused_on_every_write(client, alice, url, "target_audience_id", audience)
    missing_detail = (
        await client.patch(url, headers=alice.headers, json={"target_audience_id": MISSING})
    ).json()["detail"]
    other_detail = (
        await client.patch(url, headers=alice.headers, json={"target_audience_id": other})
    ).json()["detail"]
    assert missing_detail.replace(MISSING, "X") == other_detail.replace(other, "X")
    assert (await client.get(url, headers=alice.headers)).json()["target_audience_id"] == mine

    cleared = await client.patch(url, headers=alice.headers, json={"target_audience_id": None})
    assert cleared.status_code == 200 and cleared.json()["target_audience_id"] is None
    upserted = await client.put(
        "/v1/projects/by-slug/c1", headers=alice.headers,
        json={"name": "C1", "project_type": "course", "target_audience_id": mine},
    )  # fmt: skip
    assert upserted.status_code == 200 and upserted.json()["target_audience_id"] == mine


async def admin_execute(database: str, sql: str, *args: object) -> None:
    dsn = superuser_dsn(database)
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(sql, *args)
    finally:
        await admin.close()


async def test_persona_must_be_a_mind_the_creator_can_see(
    client: httpx.AsyncClient, database: str, alice: Creator, bob: Creator
) -> None:
    """A public mind (bob's, by default) may be a persona; a private one is
    refused exactly as a missing one, and the project is left as it was."""
    body = {"slug": "c1", "name": "C1", "project_type": "course"}
    await grant_persona(client, bob, alice)
    created = await client.post(
        "/v1/projects", headers=alice.headers, json={**body, "persona_mind_id": str(bob.mind_id)}
    )
    assert created.status_code == 201, created.text
    url = f"/v1/projects/{created.json()['id']}"
    own = await client.patch(
        url, headers=alice.headers, json={"persona_mind_id": str(alice.mind_id)}
    )
    assert own.status_code == 200 and own.json()["persona_mind_id"] == str(alice.mind_id)

    await admin_execute(
        database, "UPDATE minds SET privacy_level = 'private' WHERE id = $1", bob.mind_id
    )
    for mind in (str(bob.mind_id), MISSING):
        await refused_on_every_write(client, alice, url, "persona_mind_id", mind)
    assert (await client.get(url, headers=alice.headers)).json()["persona_mind_id"] == str(
        alice.mind_id
    )


async def test_generation_execution_must_be_visible(
    client: httpx.AsyncClient, database: str, alice: Creator, bob: Creator
) -> None:
    """Executions are written by service_role; a creator reads those of the
    contents they can read. Bob's is invisible to alice."""
    projects = {}
    for who in (alice, bob):
        projects[who.slug] = await new_project(client, who, "p", name="P")
    dsn = superuser_dsn(database)
    admin = await asyncpg.connect(dsn)
    try:
        runs = {}
        for who in (alice, bob):
            run = await admin.fetchval(
                "INSERT INTO job_executions (llm_model) VALUES ('m') RETURNING id::text"
            )
            await admin.execute(
                "INSERT INTO contents (project_id, slug, title, content_type,"
                " generation_execution_id, ai_generated) VALUES ($1, 'seed', 'Seed',"
                " 'course_lesson', $2, true)",
                uuid.UUID(projects[who.slug]), uuid.UUID(run),
            )  # fmt: skip
            runs[who.slug] = run
    finally:
        await admin.close()

    lesson = {"project_id": projects["alice"], "title": "L", "content_type": "course_lesson"}
    ok = await client.post(
        "/v1/contents", headers=alice.headers,
        json={**lesson, "slug": "l1", "generation_execution_id": runs["alice"]},
    )  # fmt: skip
    assert ok.status_code == 201, ok.text
    assert ok.json()["generation_execution_id"] == runs["alice"]
    for run in (runs["bob"], MISSING):
        refused_naming(
            await client.post(
                "/v1/contents", headers=alice.headers,
                json={**lesson, "slug": "l2", "generation_execution_id": run},
            ),
            "generation_execution_id",
        )  # fmt: skip
        refused_naming(
            await client.patch(
                f"/v1/contents/{ok.json()['id']}", headers=alice.headers,
                json={"generation_execution_id": run},
            ),
            "generation_execution_id",
        )  # fmt: skip
