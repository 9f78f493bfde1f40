"""A list page costs the page, not the table: every table a resource lists
(`TableRows.page`, in (created_at, id) order) has that order indexed
(migration 0016; `contents` within a project), and a page walks it and
stops once full, whatever else the table holds. Without it, a signed-in
creator's first page of projects read, checked and sorted every public
project of every tenant. And a plan made without knowing a filter's value
never walks the whole table for a few rows."""

from __future__ import annotations

import importlib
import json
import pkgutil
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

import app
from app.contents.service import ROWS as CONTENTS
from app.db.rows import TableRows
from app.projects.service import ROWS as PROJECTS
from tests.factories import Creator, create_content, new_project
from tests.helpers import act_as, superuser


def listed_tables() -> dict[str, TableRows]:
    """Every TableRows the app's modules declare, by table name."""
    found: dict[str, TableRows] = {}
    for module in pkgutil.walk_packages(app.__path__, "app."):
        if module.name.startswith(("app.ops", "app.cli", "app.client_cli")):
            continue
        for value in vars(importlib.import_module(module.name)).values():
            if isinstance(value, TableRows):
                found[value.table.name] = value
    return found


# The columns a table's page order is indexed within (none: the whole table).
WITHIN = {"contents": ["project_id"]}


@pytest.mark.pure
def test_every_listed_table_has_its_page_order_indexed() -> None:
    tables = listed_tables()
    assert {"content_projects", "contents", "persona_grants"} <= set(tables)  # the walk finds them
    for name, rows in tables.items():
        columns = [*WITHIN.get(name, []), "created_at", "id"]
        orders = [
            index for index in rows.table.indexes
            if [column.name for column in index.columns] == columns
        ]  # fmt: skip
        assert len(orders) == 1, f"{name}: no {tuple(columns)} index for its pages"
        where = orders[0].dialect_options["postgresql"]["where"]
        # A partial index serves the page only if the page asks its predicate.
        expected = None if rows.live is None else str(rows.live).replace(f"{name}.", "")
        assert (None if where is None else str(where)) == expected, name


# $1 bob's mind, $2 how many public projects (each with a published lesson),
# $3 lessons per project, $4 the projects' slug prefix.
PUBLIC_PROJECTS = """
WITH p AS (
    INSERT INTO content_projects (creator_mind_id, slug, name, project_type, status)
    SELECT $1::uuid, $4 || g, 'Public ' || g, 'course', 'planning'
    FROM generate_series(1, $2) g
    RETURNING id)
INSERT INTO contents (project_id, slug, title, content_type, content, status)
SELECT p.id, 'lesson-' || k, 'Lesson ' || k, 'course_lesson', 'text', 'published'
FROM p, generate_series(1, $3) k
"""


# Every content of the projects of mind $1 gets the tag $2: a tag that many
# rows hold, so that a plan made without knowing the tag expects thousands.
TAG_ALL_OF = """
WITH tag AS (
    INSERT INTO tags (name, tag_type) VALUES ($2, 'theme') RETURNING id)
INSERT INTO content_tags (content_id, tag_id)
SELECT c.id, tag.id FROM tag, contents c JOIN content_projects p ON p.id = c.project_id
WHERE p.creator_mind_id = $1::uuid
"""


def scans_of(
    plan: dict[str, Any], table: str, *, subplans: bool = True
) -> Iterator[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan that reads `table`; with
    `subplans` False, only the statement's own (none of its InitPlans and
    SubPlans: those of a filter, or of a row level security policy)."""
    if plan.get("Relation Name") == table:
        yield plan
    for child in plan.get("Plans", []):
        if subplans or "Subplan Name" not in child:
            yield from scans_of(child, table, subplans=subplans)


async def page_reads(
    conn: asyncpg.Connection,
    who: Creator,
    rows: TableRows,
    filters: dict[str, Any],
    *,
    generic: bool = False,
) -> tuple[int, int]:
    """(rows answered, rows of the table its own scans read: those they
    returned and those row level security filtered out) of the API's first
    page (50) with these filters, as `who`. With `generic`, planned without
    the filters' values: asyncpg prepares the list statement, and after
    five runs PostgreSQL may keep such a plan."""
    sql, order = rows.page_sql(tuple(sorted(filters)), False)
    values = {**filters, "limit_plus_one": 51}
    mode = "force_generic_plan" if generic else "force_custom_plan"
    async with conn.transaction():
        await act_as(conn, who.principal)
        await conn.execute(f"SET LOCAL plan_cache_mode = {mode}")
        await conn.execute(f"PREPARE page AS {sql}")
        # EXECUTE takes no bind parameters: the values as literals.
        literals = ", ".join(
            str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'"
            for v in (values[name] for name in order)
        )
        explain = f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE page({literals})"
        (plan,) = json.loads(await conn.fetchval(explain))
        await conn.execute("DEALLOCATE page")
    visited = sum(
        scan["Actual Rows"] * scan["Actual Loops"] + scan.get("Rows Removed by Filter", 0)
        for scan in scans_of(plan["Plan"], rows.table.name, subplans=False)
    )
    return int(plan["Plan"]["Actual Rows"]), int(visited)


async def test_a_page_reads_the_page_not_the_table(
    client: Any, database: str, alice: Creator, bob: Creator
) -> None:
    """2,000 of bob's public projects, and one of 2,000 published lessons,
    all of which alice may read: her first page of projects, and of that
    project's contents, reads ~51 rows. (Planned from statistics: a table
    not analyzed since a bulk load may still be planned as the small table
    it was, until autovacuum analyzes it.)"""
    for n in range(3):
        await new_project(client, alice, f"mine-{n}")
    async with superuser(database) as su:
        await su.conn.execute(PUBLIC_PROJECTS, bob.mind_id, 2000, 1, "public-")
        await su.conn.execute(PUBLIC_PROJECTS, bob.mind_id, 1, 2000, "big-")
        big = await su.conn.fetchval("SELECT id FROM content_projects WHERE slug = 'big-1'")
        await su.conn.execute("ANALYZE content_projects, contents")
        for rows, filters in ((PROJECTS, {}), (CONTENTS, {"project_id": big})):
            _, visited = await page_reads(su.conn, alice, rows, filters)
            assert visited <= 51 + 3, (rows.table.name, visited)


async def test_a_page_of_a_rare_tag_reads_its_rows_even_planned_generically(
    client: Any, database: str, alice: Creator, bob: Creator
) -> None:
    """With the tag as a correlated EXISTS, a generic plan walked every
    visible content in page order and tested each against the tag (bob's
    4,000 published lessons, all tagged alike, for alice's one lesson with
    her tag); the tag's ids, gathered once, are probed by key. (Gathering
    them still checks `content_tags`' read policy against every content
    alice may see, hashed once: revision 0015's note.)"""
    project = await new_project(client, alice, "tagged")
    tagged = await create_content(client, alice, project, "tagged")
    await create_content(client, alice, project, "untagged")
    put = await client.put(
        f"/v1/contents/{tagged['id']}/tags", headers=alice.headers, json={"tags": ["raro"]}
    )
    assert put.status_code == 200, put.text
    async with superuser(database) as su:
        await su.conn.execute(PUBLIC_PROJECTS, bob.mind_id, 2000, 2, "public-")
        await su.conn.execute(TAG_ALL_OF, bob.mind_id, "comum")
        await su.conn.execute("ANALYZE content_projects, contents, content_tags, tags")
        found, visited = await page_reads(su.conn, alice, CONTENTS, {"tag": "raro"}, generic=True)
    assert found == 1
    assert visited <= 10, visited


async def test_a_page_of_a_small_project_reads_its_rows_even_planned_generically(
    client: Any, database: str, alice: Creator, bob: Creator
) -> None:
    """Bob's 20 projects of 200 published lessons each, alice's of 2: a plan
    made without knowing the project expects ~190 rows of it, and must still
    find hers through the project's index, not by walking the page order."""
    project = await new_project(client, alice, "small")
    for slug in ("a", "b"):
        await create_content(client, alice, project, slug)
    async with superuser(database) as su:
        await su.conn.execute(PUBLIC_PROJECTS, bob.mind_id, 20, 200, "public-")
        await su.conn.execute("ANALYZE content_projects, contents")
        found, visited = await page_reads(
            su.conn, alice, CONTENTS, {"project_id": uuid.UUID(project)}, generic=True
        )
    assert found == 2
    assert visited <= 10, visited
