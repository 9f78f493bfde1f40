"""An old tree's read costs what its nodes cost, whatever else the table
holds: its bodies are probed by primary key per node, never found by a join
the planner may hash over every content row (seen: with 100 other courses
in the table, revision 1's tree with bodies took 12 ms against the live
tree's 5)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from app.revisions import sql
from tests.factories import Creator, new_project, write_tree
from tests.helpers import explain_as, superuser

OTHER_COURSES = 100  # of 133 nodes each, the creator's own, as in bench.revisions


def scans(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """(node type, relation) of every scan in a JSON plan."""
    found = [(plan["Node Type"], plan["Relation Name"])] if "Relation Name" in plan else []
    for child in plan.get("Plans", []):
        found += scans(child)
    return found


async def test_an_old_trees_bodies_are_probed_by_key_not_joined_over_the_table(
    client: httpx.AsyncClient, database: str, alice: Creator
) -> None:
    project = await new_project(client, alice)
    lessons = [{"slug": f"l{i}", "title": f"L{i}", "content_type": "course_lesson",
                "content": f"corpo {i}\n"} for i in range(133)]  # fmt: skip
    await write_tree(client, alice, project, lessons)
    lessons[0]["content"] = "outro corpo\n"
    await write_tree(client, alice, project, lessons)  # revision 2: one body stored
    async with superuser(database) as admin:
        await admin.conn.execute(
            "WITH p AS (INSERT INTO content_projects (slug, name, project_type, creator_mind_id)"
            "           SELECT 'other-' || i, 'Other', 'course', $1"
            "           FROM generate_series(1, $2) i RETURNING id)"
            " INSERT INTO contents (project_id, slug, title, content_type, content)"
            " SELECT p.id, 'n' || i, 'N', 'course_lesson', repeat('x', 200)"
            " FROM p, generate_series(1, 133) i",
            alice.mind_id,
            OTHER_COURSES,
        )
        await admin.conn.execute("ANALYZE contents, content_history, content_bodies")
        plan = await explain_as(admin.conn, alice, sql.TREE_AT, uuid.UUID(project), 1, True)
    assert plan["Actual Rows"] == 133
    # Each live body by its key; never a scan of the table (a Seq Scan of
    # its 13,000 rows before).
    on_contents = [node for node, relation in scans(plan) if relation == "contents"]
    assert on_contents and set(on_contents) <= {"Index Scan"}, on_contents
