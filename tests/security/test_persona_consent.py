"""Persona consent (issue 20, item 4): a project may name as persona only the
caller's own mind or one whose owner granted it; a mind reads the projects
it is the persona of only with its consent, in every read path (projects,
contents, trees, market research, search). Bob is the victim, alice the one
who names him (and, once he grants it, his collaborator)."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import SERVICE
from app.db.tenancy import tenant_transaction
from app.http.problems import sqlstate_of
from tests.factories import (
    Creator,
    create_content,
    grant_persona,
    new_project,
    provision,
    token_headers,
)
from tests.helpers import assert_problem, hits

ATTEMPTS = 5  # the 200, a few suffice


async def project_ids(client: httpx.AsyncClient, who: Creator) -> list[str]:
    listed = await client.get("/v1/projects", headers=who.headers, params={"limit": 200})
    assert listed.status_code == 200, listed.text
    return [p["id"] for p in listed.json()["items"]]


async def named_without_consent(engine: AsyncEngine, creator: Creator, persona: Creator) -> str:
    """A project of `creator`'s naming `persona`, with a draft lesson, written
    as service_role (RLS bypassed): what production holds from before consent."""
    async with tenant_transaction(engine, SERVICE, read_only=False) as conn:
        project = await conn.scalar(
            text(
                "INSERT INTO content_projects (slug, name, project_type, creator_mind_id,"
                " persona_mind_id) VALUES (:s, 'Spam', 'course', :c, :p) RETURNING id"
            ),
            {"s": f"spam-{uuid.uuid4().hex[:8]}", "c": creator.mind_id, "p": persona.mind_id},
        )
        await conn.execute(
            text(
                "INSERT INTO contents (project_id, slug, title, content_type, content)"
                " VALUES (:p, 'hooks', 'Hooks do Claude (spam)', 'course_lesson', 'hooks')"
            ),
            {"p": project},
        )
        await conn.execute(
            text(
                "INSERT INTO market_research (project_id, research_type, report_data)"
                " VALUES (:p, 'other', '{}')"
            ),
            {"p": project},
        )
    return str(project)


async def test_naming_a_persona_without_consent_is_refused_and_the_victim_sees_none_of_it(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    own = await new_project(client, bob, "bobs-course")
    await create_content(client, bob, own, "hooks", title="Hooks do Claude")
    before = await hits(client, bob, "hooks")
    course = await new_project(client, alice, "alices-course")

    # Every way of writing a project refuses the persona: 403, nothing written.
    persona = {"persona_mind_id": str(bob.mind_id)}
    for i in range(ATTEMPTS):
        body = {"slug": f"spam-{i}", "name": "Spam", "project_type": "course", **persona}
        refused = await client.post("/v1/projects", headers=alice.headers, json=body)
        problem = assert_problem(refused, 403, i)
        assert problem["type"].endswith("/persona-not-granted")
        upsert = {"name": "Spam", "project_type": "course", **persona}
        by_slug = await client.put(f"/v1/projects/by-slug/s{i}", headers=alice.headers, json=upsert)
        assert_problem(by_slug, 403, i)
    patched = await client.patch(f"/v1/projects/{course}", headers=alice.headers, json=persona)
    assert_problem(patched, 403)
    assert await project_ids(client, alice) == [course]
    assert (await client.get(f"/v1/projects/{course}", headers=alice.headers)).json()[
        "persona_mind_id"
    ] is None
    # The database refuses it, whatever the client: the write policy's check.
    async with tenant_transaction(engine, alice.principal, read_only=False) as conn:
        try:
            await conn.execute(
                text("UPDATE content_projects SET persona_mind_id = :b WHERE id = :p"),
                {"b": bob.mind_id, "p": course},
            )
        except DBAPIError as exc:
            assert sqlstate_of(exc) == "42501"
        else:
            raise AssertionError("an unconsented persona was written")

    # Rows that already name bob without his consent are kept, and invisible to him.
    spam = [await named_without_consent(engine, alice, bob) for _ in range(ATTEMPTS)]
    assert await project_ids(client, bob) == [own]
    assert await hits(client, bob, "hooks") == before
    for project in spam:
        for url in (f"/v1/projects/{project}", f"/v1/projects/{project}/tree",
                    f"/v1/projects/{project}/market-research"):  # fmt: skip
            assert (await client.get(url, headers=bob.headers)).status_code == 404, url
    listed = await client.get("/v1/contents", headers=bob.headers, params={"limit": 200})
    assert {c["project_id"] for c in listed.json()["items"]} == {own}
    # Their creator still has them.
    assert set(await project_ids(client, alice)) == {course, *spam}


async def test_a_grant_lets_the_persona_be_named_and_revoking_it_hides_the_rows(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    carol = await provision(engine, "carol")
    grant = await grant_persona(client, bob, alice)
    assert (grant["owner_mind_id"], grant["grantee_mind_id"]) == (
        str(bob.mind_id), str(alice.mind_id)
    )  # fmt: skip
    again = await client.put(f"/v1/me/persona-grants/{alice.mind_id}", headers=bob.headers)
    assert again.status_code == 200 and again.json() == grant  # idempotent
    # The owner and the grantee list it; nobody else sees it.
    for who, expected in ((bob, [grant]), (alice, [grant]), (carol, [])):
        listed = await client.get("/v1/me/persona-grants", headers=who.headers)
        assert listed.status_code == 200, listed.text
        assert listed.json()["items"] == expected, who.slug

    project = await new_project(client, alice, "voiced", persona_mind_id=str(bob.mind_id),
                                project_metadata={"persona": {"notes": "tom de voz"}})  # fmt: skip
    await create_content(client, alice, project, "hooks", title="Hooks do Claude")
    url = f"/v1/projects/{project}"
    read = await client.get(url, headers=bob.headers)
    assert read.status_code == 200
    assert read.json()["project_metadata"] == {"persona": {"notes": "tom de voz"}}
    assert await project_ids(client, bob) == [project]
    assert [h["project_id"] for h in await hits(client, bob, "hooks")] == [project]

    # Carol cannot revoke bob's grant; bob can, once.
    assert_problem(
        await client.delete(f"/v1/me/persona-grants/{alice.mind_id}", headers=carol.headers), 404
    )
    revoked = await client.delete(f"/v1/me/persona-grants/{alice.mind_id}", headers=bob.headers)
    assert revoked.status_code == 204
    assert_problem(
        await client.delete(f"/v1/me/persona-grants/{alice.mind_id}", headers=bob.headers), 404
    )
    assert (await client.get(url, headers=bob.headers)).status_code == 404
    assert await project_ids(client, bob) == []
    assert await hits(client, bob, "hooks") == []
    # The row is kept; its creator changes it only once the persona is cleared.
    kept = await client.get(url, headers=alice.headers)
    assert kept.json()["persona_mind_id"] == str(bob.mind_id)
    assert_problem(await client.patch(url, headers=alice.headers, json={"name": "x"}), 403)
    cleared = await client.patch(url, headers=alice.headers, json={"persona_mind_id": None})
    assert cleared.status_code == 200, cleared.text


async def test_a_grant_names_a_visible_mind_other_than_ones_own(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    async with tenant_transaction(engine, SERVICE, read_only=False) as conn:
        await conn.execute(
            text("UPDATE minds SET privacy_level = 'private' WHERE id = :m"), {"m": bob.mind_id}
        )
    for mind in (bob.mind_id, uuid.uuid4()):  # private, missing: the same 422
        refused = await client.put(f"/v1/me/persona-grants/{mind}", headers=alice.headers)
        assert_problem(refused, 422, mind)
    own = await client.put(f"/v1/me/persona-grants/{alice.mind_id}", headers=alice.headers)
    assert_problem(own, 422)
    anonymous = await client.put(f"/v1/me/persona-grants/{bob.mind_id}")
    assert_problem(anonymous, 401)
    no_mind = await client.put(
        f"/v1/me/persona-grants/{alice.mind_id}", headers=token_headers(uuid.uuid4())
    )
    assert_problem(no_mind, 403)
    assert (await client.get("/v1/me/persona-grants", headers=alice.headers)).json()["items"] == []
