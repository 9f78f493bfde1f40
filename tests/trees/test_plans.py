"""The tree reads do not depend on statistics: on a fresh database that was
never analyzed (a first `creatoros import` into a new deployment), they are
still one index scan of the project's contents, never a sequential scan."""

from __future__ import annotations

import re
import uuid

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.contents import sql as contents_sql
from app.db.tenancy import tenant_transaction
from app.trees import sql
from tests.factories import Creator, new_project

MODULES, LESSONS = 30, 100  # 3,031 nodes
CONTENTS_SCAN = re.compile(r"Scan (?:using \S+ )?on contents\b")
# No recursion and no join: nothing whose strategy statistics could change.
JOINS = re.compile(r"Recursive Union|Nested Loop|Hash Join|Merge Join")


async def _seed_before_statistics(dsn: str, project: str, statistics: str) -> uuid.UUID:
    """A big course written straight into a table nobody analyzed since it
    was (nearly) empty: no statistics at all, or those of its first row."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("ALTER TABLE contents SET (autovacuum_enabled = false)")
        outline = await conn.fetchval(
            "INSERT INTO contents (project_id, slug, title, content_type)"
            " VALUES ($1, 'outline', 'Outline', 'course_outline') RETURNING id",
            uuid.UUID(project),
        )
        if statistics == "stale":
            await conn.execute("ANALYZE contents")
        await conn.execute(
            """INSERT INTO contents (project_id, parent_content_id, slug, title, content_type,
                                     sequence_order)
               SELECT $1, $2, 'm' || m, 'Module ' || m, 'course_module', m
               FROM generate_series(1, $3) AS m""",
            uuid.UUID(project), outline, MODULES,
        )  # fmt: skip
        await conn.execute(
            """INSERT INTO contents (project_id, parent_content_id, slug, title, content_type,
                                     sequence_order, content)
               SELECT $1, p.id, p.slug || '-' || l, 'Lesson ' || l, 'course_lesson', l,
                      repeat('x', 1000)
               FROM contents p, generate_series(1, $2) AS l
               WHERE p.project_id = $1 AND p.content_type = 'course_module'""",
            uuid.UUID(project), LESSONS,
        )  # fmt: skip
        stats = await conn.fetchval(
            "SELECT count(*) FROM pg_stats WHERE tablename = 'contents'"
            " AND attname = 'parent_content_id'"
        )
        assert stats == (1 if statistics == "stale" else 0)
        return outline  # type: ignore[no-any-return]
    finally:
        await conn.close()


@pytest.mark.parametrize("plan_cache_mode", ["force_custom_plan", "force_generic_plan"])
@pytest.mark.parametrize("statistics", ["none", "stale"])
async def test_tree_reads_scan_the_project_index_on_a_fresh_database(
    client: httpx.AsyncClient, alice: Creator, engine: AsyncEngine, database: str,
    plan_cache_mode: str, statistics: str,
) -> None:  # fmt: skip
    project = await new_project(client, alice, "claude-code")
    dsn = database.replace("postgresql+asyncpg://", "postgresql://", 1)
    outline = await _seed_before_statistics(dsn, project, statistics)

    async with tenant_transaction(engine, alice.principal, read_only=True) as conn:
        # A prepared statement switches to a generic plan after five runs:
        # both must be safe.
        await conn.exec_driver_sql(f"SET LOCAL plan_cache_mode = {plan_cache_mode}")
        # The project's nodes: one scan of its index. The subtree adds the
        # primary-key lookup of its root's project.
        for statement, arg, scans in (
            (sql.READ_PROJECT_TREE, uuid.UUID(project), 1),
            (sql.READ_SUBTREE, outline, 2),
        ):
            result = await conn.exec_driver_sql("EXPLAIN " + statement, (arg, True))
            plan = "\n".join(row[0] for row in result)
            assert "Seq Scan on contents" not in plan, plan
            assert len(CONTENTS_SCAN.findall(plan)) == scans, plan
            assert not JOINS.search(plan), plan

    tree = await client.get(f"/v1/projects/{project}/tree", headers=alice.headers)
    assert tree.status_code == 200
    (root,) = tree.json()["nodes"]
    assert len(root["children"]) == MODULES
    assert all(len(module["children"]) == LESSONS for module in root["children"])


@pytest.mark.parametrize("plan_cache_mode", ["force_custom_plan", "force_generic_plan"])
@pytest.mark.parametrize("statistics", ["none", "stale"])
async def test_a_placement_check_walks_indexes_on_a_fresh_database(
    client: httpx.AsyncClient, alice: Creator, engine: AsyncEngine, database: str,
    plan_cache_mode: str, statistics: str,
) -> None:  # fmt: skip
    """Create, patch and move check a node's place (`contents_sql.PLACEMENT`): its
    walks up the ancestors and down the subtree follow the primary key and
    the parent index, never a scan of the whole table, whatever the statistics."""
    project = await new_project(client, alice)
    dsn = database.replace("postgresql+asyncpg://", "postgresql://", 1)
    outline = await _seed_before_statistics(dsn, project, statistics)

    async with tenant_transaction(engine, alice.principal, read_only=True) as conn:
        await conn.exec_driver_sql(f"SET LOCAL plan_cache_mode = {plan_cache_mode}")
        module = await conn.scalar(
            text("SELECT id FROM contents WHERE parent_content_id = :o LIMIT 1"), {"o": outline}
        )
        result = await conn.exec_driver_sql("EXPLAIN " + contents_sql.PLACEMENT, (outline, module))
        plan = "\n".join(row[0] for row in result)
        assert "Seq Scan on contents" not in plan, plan
        placed = (
            (await conn.exec_driver_sql(contents_sql.PLACEMENT, (outline, module))).mappings().one()
        )
    assert (placed["parent_type"], placed["parent_depth"], placed["height"]) == (
        "course_outline",
        1,
        2,
    )
    assert placed["child_types"] == ["course_lesson"] and not placed["cycle"]
