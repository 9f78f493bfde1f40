"""What hangs off a content (its tags, its minds, the job that generated it)
is read with the content: who sees which is the contents' read policies'
business, and reading one content's tags costs a probe of that content, not
a pass over everything the caller can see (revision 0015).

The visibility matrix runs as the API runs (`admin.run_as`: the tenant
transaction, the caller's role and claims); the cost is the backend's own
count of the blocks a statement fetched of `contents` and its indexes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import SERVICE, Principal
from app.contents import sql as contents_sql
from app.db.tenancy import tenant_transaction
from app.http.problems import sqlstate_of
from app.ops.admin import run_as
from tests.factories import Creator, provision
from tests.helpers import contents_reads, superuser

ANON = Principal(role="anon")

# alice's contents, by slug: (project, status, soft-deleted).
ALICES = {
    "draft": ("course", "draft", False),
    "published": ("course", "published", False),
    "deleted": ("course", "published", True),
    "unconsented": ("spam", "draft", False),
}
BOBS = {"bobs-draft": ("bobs", "draft", False)}


@dataclass(frozen=True)
class World:
    """Every content's id and the id of the job that generated it, by slug."""

    contents: dict[str, uuid.UUID]
    jobs: dict[str, uuid.UUID]
    bob_project: uuid.UUID


async def build(engine: AsyncEngine, alice: Creator, bob: Creator, carol: Creator) -> World:
    """alice's course names carol as persona (carol consented), her `spam`
    project names bob (who did not: written as service_role, as production
    holds from before consent); bob has a draft of his own. Every content has
    a tag, a mind and a job of its own."""
    contents: dict[str, uuid.UUID] = {}
    jobs: dict[str, uuid.UUID] = {}
    projects: dict[str, uuid.UUID] = {}
    async with tenant_transaction(engine, SERVICE, read_only=False) as conn:

        async def one(sql: str, **params: object) -> Any:
            return await conn.scalar(text(sql), params)

        async def run(sql: str, **params: object) -> None:
            await conn.execute(text(sql), params)

        await run("INSERT INTO persona_grants (owner_mind_id, grantee_mind_id) VALUES (:c, :a)",
                  c=carol.mind_id, a=alice.mind_id)  # fmt: skip
        tag = await one("INSERT INTO tags (name, tag_type) VALUES ('t', 'theme') RETURNING id")
        owners = {"course": (alice, carol), "spam": (alice, bob), "bobs": (bob, None)}
        for slug, (creator, persona) in owners.items():
            projects[slug] = await one(
                "INSERT INTO content_projects (slug, name, project_type, creator_mind_id,"
                " persona_mind_id) VALUES (:s, :s, 'course', :c, :p) RETURNING id",
                s=slug, c=creator.mind_id, p=persona.mind_id if persona else None,
            )  # fmt: skip
        for slug, (project, status, deleted) in {**ALICES, **BOBS}.items():
            jobs[slug] = await one(
                "INSERT INTO job_executions (llm_model) VALUES ('m') RETURNING id"
            )
            contents[slug] = await one(
                "INSERT INTO contents (project_id, slug, title, content_type, status,"
                " published_at, deleted_at, generation_execution_id)"
                " VALUES (:p, :s, :s, 'course_lesson', :st,"
                " CASE WHEN :st = 'published' THEN now() END, CASE WHEN :d THEN now() END, :j)"
                " RETURNING id",
                p=projects[project], s=slug, st=status, d=deleted, j=jobs[slug],
            )  # fmt: skip
            await run("INSERT INTO content_tags (content_id, tag_id) VALUES (:c, :t)",
                      c=contents[slug], t=tag)  # fmt: skip
            await run("INSERT INTO content_minds (content_id, mind_id, role)"
                      " VALUES (:c, :m, 'author')", c=contents[slug], m=alice.mind_id)  # fmt: skip
    return World(contents, jobs, projects["bobs"])


async def visible(engine: AsyncEngine, who: Principal, sql: str) -> set[uuid.UUID]:
    """The ids `who` reads with `sql` (one uuid column)."""
    _, rows = await run_as(engine, who, sql, commit=False)
    return {row[0] for row in rows}


async def test_tags_minds_and_jobs_are_read_exactly_with_their_content(
    engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    """The owner reads all of her contents' (soft-deleted ones included: the
    API hides those, not the database), a persona those of the projects it
    consented to, another creator and anon only those of published live
    contents (and bob his own); anon reads no job at all. The same sets as
    the contents each caller reads, before revision 0015 and after."""
    carol = await provision(engine, "carol")
    world = await build(engine, alice, bob, carol)
    by_id = {v: k for k, v in world.contents.items()}
    by_job = {world.jobs[k]: k for k in world.contents}
    expected = {
        "alice": ({"draft", "published", "deleted", "unconsented"}, alice.principal),
        "bob": ({"published", "bobs-draft"}, bob.principal),
        "carol": ({"draft", "published", "deleted"}, carol.principal),
        "anon": ({"published"}, ANON),
    }
    for name, (slugs, who) in expected.items():
        seen = await visible(engine, who, "SELECT id FROM contents")
        assert {by_id[c] for c in seen} == slugs, name  # the matrix means what it says
        tags = await visible(engine, who, "SELECT content_id FROM content_tags")
        minds = await visible(engine, who, "SELECT content_id FROM content_minds")
        assert {by_id[c] for c in tags} == {by_id[c] for c in minds} == slugs, name
        one = world.contents["draft"]
        probed = await visible(
            engine, who, f"SELECT content_id FROM content_tags WHERE content_id = '{one}'"
        )
        assert probed == ({one} if "draft" in slugs else set()), name
        if who is ANON:
            with pytest.raises(DBAPIError) as refused:
                await run_as(engine, who, "SELECT id FROM job_executions", commit=False)
            assert sqlstate_of(refused.value) == "42501"
        else:
            jobs = await visible(engine, who, "SELECT id FROM job_executions")
            assert {by_job[j] for j in jobs} == slugs, name


# Another tenant's contents, $1 the project, $2 how many: one in three
# published (so that every index a read may use is already two levels
# tall), the others drafts he publishes later.
BULK = """
INSERT INTO contents (project_id, slug, title, content_type, content, status, published_at)
SELECT $1::uuid, 'bulk-' || g, 'Lição ' || g, 'course_lesson', repeat('texto ', 50),
       CASE WHEN g % 3 = 0 THEN 'published' ELSE 'draft' END,
       CASE WHEN g % 3 = 0 THEN now() END
FROM generate_series(1, $2) g
"""
PUBLISH_ALL = (
    "UPDATE contents SET status = 'published', published_at = now()"
    " WHERE project_id = $1 AND slug LIKE 'bulk-%' AND status = 'draft'"
)
# A job read by id, as a content write checks its generation run.
JOB = next(r for r in contents_sql.REFERENCES if r.field == "generation_execution_id").sql


async def test_reading_a_contents_tags_reads_none_of_what_another_tenant_publishes(
    database: str, engine: AsyncEngine, alice: Creator, bob: Creator
) -> None:
    """Bob writes 3,000 drafts, then publishes them all (new row versions:
    the table's heap doubles, its indexes gain entries, but a b-tree of 6,000
    entries keeps its height). Reading one of alice's contents' tags, minds
    or job, as alice or anon, fetches exactly as many blocks of `contents`
    as before: a probe of her content by key (revision 0015). Before, each
    read hashed every content the caller could see, after a Seq Scan of the
    whole heap (546 blocks, then 946), for alice and anon alike."""
    carol = await provision(engine, "carol")
    world = await build(engine, alice, bob, carol)
    async with superuser(database) as su:
        await su.conn.execute(BULK, world.bob_project, 3000)
        await su.conn.execute("ANALYZE contents")
    mine, public = world.contents["draft"], world.contents["published"]
    reads = [
        ("alice's tags", alice.principal, contents_sql.TAG_NAMES, mine),
        ("alice's minds", alice.principal, contents_sql.CONTENT_MINDS, mine),
        ("alice's job", alice.principal, JOB, world.jobs["draft"]),
        ("anon's tags", ANON, contents_sql.TAG_NAMES, public),
        ("anon's minds", ANON, contents_sql.CONTENT_MINDS, public),
    ]
    before = [await contents_reads(database, who, sql, arg) for _, who, sql, arg in reads]
    async with superuser(database) as su:
        assert await su.conn.execute(PUBLISH_ALL, world.bob_project) == "UPDATE 2000"
        await su.conn.execute("ANALYZE contents")
    for (name, who, sql, arg), was in zip(reads, before, strict=True):
        now = await contents_reads(database, who, sql, arg)
        assert now.found == was.found == 1, name  # one tag, one mind, one job: read
        assert now == was, (name, was, now)
