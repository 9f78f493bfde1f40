"""The isolation matrix: two creators, every table, every operation.

Bob tries to select, insert, update and delete Alice's rows through the code
path of `creatoros db impersonate` (`admin.run_as`: the API's tenant
transaction, Bob's role and claims). Every attempt must come back empty or
refused, and Alice's rows must be intact afterwards.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import SERVICE, principal_for
from app.db.tenancy import tenant_transaction
from app.http.problems import sqlstate_of
from app.ops.admin import run_as
from tests.factories import Creator


@dataclass(frozen=True)
class AliceRows:
    project: uuid.UUID
    content: uuid.UUID
    tag: int
    research: uuid.UUID
    audience: uuid.UUID
    framework: uuid.UUID
    global_framework: uuid.UUID
    job: uuid.UUID
    mind: uuid.UUID
    user: uuid.UUID


async def seed(engine: AsyncEngine, alice: Creator) -> AliceRows:
    """One row of Alice's in every table, written as Alice where she can."""
    async with tenant_transaction(engine, SERVICE, read_only=False) as conn:
        job = await conn.scalar(
            text("INSERT INTO job_executions (llm_model) VALUES ('m') RETURNING id")
        )
        global_framework = await conn.scalar(
            text("INSERT INTO content_frameworks (slug, name) VALUES ('gps', 'GPS') RETURNING id")
        )
        await conn.execute(
            text("UPDATE minds SET privacy_level = 'private' WHERE id = :m"), {"m": alice.mind_id}
        )
    async with tenant_transaction(engine, alice.principal, read_only=False) as conn:

        async def one(sql: str, **params: object) -> uuid.UUID:
            return await conn.scalar(text(sql), params)

        project = await one(
            "INSERT INTO content_projects (slug, name, project_type)"
            " VALUES ('course-a', 'A', 'course') RETURNING id"
        )
        content = await one(
            "INSERT INTO contents (project_id, slug, title, content_type, generation_execution_id,"
            " ai_generated) VALUES (:p, 'lesson-a', 'A', 'course_lesson', :j, true) RETURNING id",
            p=project,
            j=job,
        )
        await conn.execute(
            text(
                "INSERT INTO content_minds (content_id, mind_id, role) VALUES (:c, :m, 'creator')"
            ),
            {"c": content, "m": alice.mind_id},
        )
        tag = await one(
            "INSERT INTO tags (name, tag_type) VALUES ('python', 'domain') RETURNING id"
        )
        await conn.execute(
            text("INSERT INTO content_tags (content_id, tag_id) VALUES (:c, :t)"),
            {"c": content, "t": tag},
        )
        research = await one(
            "INSERT INTO market_research (project_id, research_type, report_data)"
            " VALUES (:p, 'sources', '{}') RETURNING id",
            p=project,
        )
        audience = await one(
            "INSERT INTO audience_profiles (slug, name) VALUES ('devs', 'Devs') RETURNING id"
        )
        framework = await one(
            "INSERT INTO content_frameworks (slug, name) VALUES ('mine', 'Mine') RETURNING id"
        )
    return AliceRows(
        project, content, tag, research, audience, framework, global_framework, job,
        alice.mind_id, alice.user_id,
    )  # fmt: skip


# Per table: how to find Alice's row, a harmless update, and an insert that
# claims Alice's row (or parent) as Bob's.
MATRIX: dict[str, dict[str, str]] = {
    "content_projects": {
        "key": "id = '{project}'",
        "update": "name = name || '!'",
        "insert": "INSERT INTO content_projects (slug, name, creator_mind_id)"
        " VALUES ('stolen', 'S', '{mind}')",
    },
    "contents": {
        "key": "id = '{content}'",
        "update": "title = title || '!'",
        "insert": "INSERT INTO contents (project_id, slug, title, content_type)"
        " VALUES ('{project}', 'stolen', 'S', 'course_lesson')",
    },
    "content_minds": {
        "key": "content_id = '{content}'",
        "update": "role = 'other'",
        "insert": "INSERT INTO content_minds (content_id, mind_id, role)"
        " VALUES ('{content}', '{bob_mind}', 'guest')",
    },
    "content_tags": {
        "key": "content_id = '{content}'",
        "update": "created_at = now()",
        "insert": "INSERT INTO content_tags (content_id, tag_id)"
        " VALUES ('{content}', (SELECT id FROM tags WHERE name = 'bob-tag'))",
    },
    "market_research": {
        "key": "id = '{research}'",
        "update": "title = 'x'",
        "insert": "INSERT INTO market_research (project_id, research_type, report_data)"
        " VALUES ('{project}', 'sources', '{{}}')",
    },
    "audience_profiles": {
        "key": "id = '{audience}'",
        "update": "name = name || '!'",
        "insert": "INSERT INTO audience_profiles (slug, name, owner_mind_id)"
        " VALUES ('stolen', 'S', '{mind}')",
    },
    "content_frameworks": {
        "key": "id = '{framework}'",
        "update": "name = name || '!'",
        "insert": "INSERT INTO content_frameworks (slug, name, owner_mind_id)"
        " VALUES ('stolen', 'S', '{mind}')",
    },
    "minds": {
        "key": "id = '{mind}'",
        "update": "display_name = 'pwned'",
        "insert": "INSERT INTO minds (slug, display_name) VALUES ('stolen', 'S')",
    },
    "user_profiles": {
        "key": "id = '{user}'",
        "update": "mind_id = '{bob_mind}'",
        "insert": "INSERT INTO user_profiles (id, mind_id) VALUES (gen_random_uuid(), '{mind}')",
    },
    "job_executions": {
        "key": "id = '{job}'",
        "update": "llm_model = 'x'",
        "insert": "INSERT INTO job_executions (llm_model) VALUES ('x')",
    },
}
CASES = [(t, op) for t in MATRIX for op in ("select", "update", "delete", "insert")]


def sql_for(table: str, op: str, rows: AliceRows, bob: Creator) -> str:
    spec = MATRIX[table]
    values = {**rows.__dict__, "bob_mind": bob.mind_id}
    key = spec["key"].format(**values)
    if op == "select":
        return f"SELECT * FROM {table} WHERE {key}"
    if op == "update":
        return f"UPDATE {table} SET {spec['update'].format(**values)} WHERE {key} RETURNING 1"
    if op == "delete":
        return f"DELETE FROM {table} WHERE {key} RETURNING 1"
    return spec["insert"].format(**values) + " RETURNING 1"


async def count_as_service(engine: AsyncEngine, table: str, key: str) -> int:
    async with tenant_transaction(engine, SERVICE, read_only=True) as conn:
        return int(await conn.scalar(text(f"SELECT count(*) FROM {table} WHERE {key}")))


@pytest.mark.parametrize(("table", "op"), CASES, ids=[f"{t}-{op}" for t, op in CASES])
async def test_bob_cannot_touch_alices_rows(
    engine: AsyncEngine, alice: Creator, bob: Creator, table: str, op: str
) -> None:
    rows = await seed(engine, alice)
    async with tenant_transaction(engine, bob.principal, read_only=False) as conn:
        await conn.execute(text("INSERT INTO tags (name, tag_type) VALUES ('bob-tag', 'theme')"))
    key = MATRIX[table]["key"].format(**rows.__dict__, bob_mind=bob.mind_id)
    before = await count_as_service(engine, table, key)
    assert before >= 1

    sql = sql_for(table, op, rows, bob)
    try:
        _, answered = await run_as(engine, bob.principal, sql, commit=True)
    except DBAPIError as refused:
        assert sqlstate_of(refused) == "42501", refused  # permission or policy refusal
    else:
        assert op != "insert", f"Bob inserted into {table} as Alice"
        assert answered == [], f"Bob's {op} on {table} reached Alice's row"

    assert await count_as_service(engine, table, key) == before


async def test_alice_herself_reaches_every_row(
    engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    """The matrix means something only if the owner does see her rows."""
    rows = await seed(engine, alice)
    for table in MATRIX:
        _, answered = await run_as(engine, alice.principal, sql_for(table, "select", rows, bob),
                                   commit=False)  # fmt: skip
        assert len(answered) == 1, table


async def test_published_contents_are_readable_by_other_creators_drafts_are_not(
    engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    rows = await seed(engine, alice)
    select = f"SELECT id FROM contents WHERE id = '{rows.content}'"
    assert (await run_as(engine, bob.principal, select, commit=False))[1] == []

    async with tenant_transaction(engine, alice.principal, read_only=False) as conn:
        await conn.execute(
            text("UPDATE contents SET status = 'published', published_at = now() WHERE id = :c"),
            {"c": rows.content},
        )
    assert len((await run_as(engine, bob.principal, select, commit=False))[1]) == 1
    anon = principal_for(None, "anon")
    assert len((await run_as(engine, anon, select, commit=False))[1]) == 1
    # Reading is all: the published row is still not Bob's to change.
    update = f"UPDATE contents SET title = 'x' WHERE id = '{rows.content}' RETURNING 1"
    assert (await run_as(engine, bob.principal, update, commit=True))[1] == []
    # Anonymous callers see published contents and the projects that hold
    # one (a public course page), nothing else: no draft, no other project.
    _, projects = await run_as(engine, anon, "SELECT id FROM content_projects", commit=False)
    assert [p for (p,) in projects] == [rows.project]
    _, visible = await run_as(engine, anon, "SELECT id FROM contents", commit=False)
    assert [c for (c,) in visible] == [rows.content]
    with pytest.raises(DBAPIError):
        await run_as(engine, anon, "SELECT * FROM market_research", commit=False)


async def test_the_persona_reads_the_project_and_cannot_write_it(
    engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    rows = await seed(engine, alice)
    async with tenant_transaction(engine, bob.principal, read_only=False) as conn:
        await conn.execute(  # bob consents to be the persona of alice's projects
            text("INSERT INTO persona_grants (grantee_mind_id) VALUES (:a)"), {"a": alice.mind_id}
        )
    async with tenant_transaction(engine, alice.principal, read_only=False) as conn:
        await conn.execute(
            text("UPDATE content_projects SET persona_mind_id = :b WHERE id = :p"),
            {"b": bob.mind_id, "p": rows.project},
        )
    project = f"FROM content_projects WHERE id = '{rows.project}'"
    assert len((await run_as(engine, bob.principal, f"SELECT id {project}", commit=False))[1]) == 1
    contents = f"SELECT id FROM contents WHERE project_id = '{rows.project}'"
    assert len((await run_as(engine, bob.principal, contents, commit=False))[1]) == 1
    for write in (f"UPDATE content_projects SET name = 'x' WHERE id = '{rows.project}'",
                  f"DELETE {project}"):  # fmt: skip
        assert (await run_as(engine, bob.principal, write + " RETURNING 1", commit=True))[1] == []
    with pytest.raises(DBAPIError):
        await run_as(engine, bob.principal, sql_for("contents", "insert", rows, bob), commit=True)


async def test_global_frameworks_are_read_by_all_and_written_by_service_role_only(
    engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    rows = await seed(engine, alice)
    key = f"id = '{rows.global_framework}'"
    for creator in (alice, bob):
        select = f"SELECT id FROM content_frameworks WHERE {key}"
        assert len((await run_as(engine, creator.principal, select, commit=False))[1]) == 1
        update = f"UPDATE content_frameworks SET name = 'x' WHERE {key} RETURNING 1"
        assert (await run_as(engine, creator.principal, update, commit=True))[1] == []
        delete = f"DELETE FROM content_frameworks WHERE {key} RETURNING 1"
        assert (await run_as(engine, creator.principal, delete, commit=True))[1] == []
        with pytest.raises(DBAPIError):
            await run_as(
                engine,
                creator.principal,
                "INSERT INTO content_frameworks (slug, name, owner_mind_id)"
                " VALUES ('new-global', 'G', NULL)",
                commit=True,
            )
    update = f"UPDATE content_frameworks SET name = 'GPS 2' WHERE {key} RETURNING 1"
    assert len((await run_as(engine, SERVICE, update, commit=True))[1]) == 1


async def test_a_second_creator_may_reuse_a_slug(
    engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    insert = (
        "INSERT INTO content_projects (slug, name, project_type)"
        " VALUES ('claude-code', 'Claude Code', 'course') RETURNING id"
    )
    for table_insert in (insert, "INSERT INTO audience_profiles (slug, name)"
                         " VALUES ('devs', 'Devs') RETURNING id"):  # fmt: skip
        a = await run_as(engine, alice.principal, table_insert, commit=True)
        b = await run_as(engine, bob.principal, table_insert, commit=True)
        assert a[1] != b[1]
        with pytest.raises(DBAPIError) as duplicate:
            await run_as(engine, alice.principal, table_insert, commit=True)
        assert sqlstate_of(duplicate.value) == "23505"
