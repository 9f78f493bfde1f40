"""A list page costs the page, not the table: every table a resource lists
(`TableRows.page`, in (created_at, id) order) has that order indexed
(migration 0016), and a page walks it and stops once full, whatever else
the table holds. Without it, a signed-in creator's first page of projects
read, checked and sorted every public project of every tenant."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

import app
from app.contents.service import ROWS as CONTENTS
from app.db.rows import TableRows
from app.projects.service import ROWS as PROJECTS
from tests.factories import Creator, new_project
from tests.helpers import explain_as, superuser


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


@pytest.mark.pure
def test_every_listed_table_has_its_page_order_indexed() -> None:
    tables = listed_tables()
    assert {"content_projects", "contents", "persona_grants"} <= set(tables)  # the walk finds them
    for name, rows in tables.items():
        orders = [
            index for index in rows.table.indexes
            if [column.name for column in index.columns] == ["created_at", "id"]
        ]  # fmt: skip
        assert len(orders) == 1, f"{name}: no (created_at, id) index for its pages"
        where = orders[0].dialect_options["postgresql"]["where"]
        # A partial index serves the page only if the page asks its predicate.
        expected = None if rows.live is None else str(rows.live).replace(f"{name}.", "")
        assert (None if where is None else str(where)) == expected, name


# $1 bob's mind, $2 how many public projects (each with a published lesson),
# $3 lessons per project.
PUBLIC_PROJECTS = """
WITH p AS (
    INSERT INTO content_projects (creator_mind_id, slug, name, project_type, status)
    SELECT $1::uuid, 'public-' || g, 'Public ' || g, 'course', 'planning'
    FROM generate_series(1, $2) g
    RETURNING id)
INSERT INTO contents (project_id, slug, title, content_type, content, status)
SELECT p.id, 'lesson-' || k, 'Lesson ' || k, 'course_lesson', 'text', 'published'
FROM p, generate_series(1, $3) k
"""


def scans_of(plan: dict[str, Any], table: str) -> Iterator[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan that reads `table`."""
    if plan.get("Relation Name") == table:
        yield plan
    for child in plan.get("Plans", []):
        yield from scans_of(child, table)


async def rows_visited(conn: asyncpg.Connection, who: Creator, rows: TableRows) -> int:
    """How many of the table's rows the API's first page (50) reads as `who`:
    the rows its scan returned and those row level security filtered out."""
    sql, order = rows.page_sql((), False)
    assert order == ("limit_plus_one",)
    (scan,) = scans_of(await explain_as(conn, who, sql, 51), rows.table.name)
    return int(scan["Actual Rows"] + scan.get("Rows Removed by Filter", 0))


async def test_a_page_reads_the_page_not_the_table(
    client: Any, database: str, alice: Creator, bob: Creator
) -> None:
    """2,000 of bob's public projects and 4,000 published lessons, all of
    which alice may read: her first page of each reads ~51 rows. (Planned
    from statistics: a table not analyzed since a bulk load may still be
    planned as the small table it was, until autovacuum analyzes it.)"""
    for n in range(3):
        await new_project(client, alice, f"mine-{n}")
    async with superuser(database) as su:
        await su.conn.execute(PUBLIC_PROJECTS, bob.mind_id, 2000, 2)
        await su.conn.execute("ANALYZE content_projects, contents")
        for rows in (PROJECTS, CONTENTS):
            visited = await rows_visited(su.conn, alice, rows)
            assert visited <= 51 + 3, (rows.table.name, visited)
