"""Content trees read and written: the rules are `app.trees.shape`'s, the
statements `app.trees.sql`'s."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.contents.service import check_placement, content_not_found, refused_write
from app.db.rows import Row
from app.db.tenancy import Reader, fetch
from app.http.observability import TREE_UPSERT_NODES
from app.http.problems import Conflict, InvalidTree, NotFound, ReadOnly, sqlstate_of
from app.projects.service import get_project, project_not_found, require_project
from app.trees import shape, sql
from app.trees.schemas import TreeNodeIn


async def _rows(conn: AsyncConnection, statement: str, *args: Any) -> Sequence[RowMapping]:
    result = await conn.exec_driver_sql(statement, args)
    return result.mappings().all()


async def read_project_tree(
    conn: Reader, project_id: uuid.UUID, *, include_body: bool, max_depth: int
) -> tuple[Row, list[dict[str, Any]]]:
    """The project and its nested nodes."""
    project = await require_project(conn, project_id)
    rows = await fetch(conn, sql.READ_PROJECT_TREE, project_id, include_body)
    return project, shape.nest(rows, include_body=include_body, max_depth=max_depth)


async def read_subtree(
    conn: Reader, content_id: uuid.UUID, *, include_body: bool, max_depth: int
) -> tuple[Row, list[dict[str, Any]]]:
    """A content's project and the content, nested with its descendants."""
    rows = await fetch(conn, sql.READ_SUBTREE, content_id, include_body)
    nodes = shape.nest(rows, include_body=include_body, max_depth=max_depth, root_id=content_id)
    if not nodes:
        raise content_not_found(content_id)
    project = await get_project(conn, rows[0]["project_id"])
    if project is None:
        # A published content of another creator's project: its tree is
        # readable, its project is not.
        raise NotFound(f"content {content_id} is not part of a project you can read")
    return project, nodes


async def upsert_tree(
    conn: AsyncConnection, project_id: uuid.UUID, nodes: Sequence[TreeNodeIn], *, prune: bool
) -> list[uuid.UUID]:
    """Write the whole tree in this transaction: nodes matched by slug keep
    their ids; with `prune`, the project's other contents are soft-deleted."""
    errors = shape.tree_errors(nodes)
    if errors:
        raise InvalidTree("the tree is not valid; nothing was written").with_errors(errors)
    locked = await conn.exec_driver_sql(sql.LOCK_PROJECT, (project_id,))
    if locked.first() is None:
        if await get_project(conn, project_id) is None:
            raise project_not_found(project_id)
        raise ReadOnly("you can read this project but not change it")
    slugs = shape.all_slugs(nodes)
    existing = {
        row["slug"]: row["id"] for row in await _rows(conn, sql.EXISTING_SLUGS, project_id, slugs)
    }
    plan = shape.plan_upsert(nodes, existing)
    try:
        await conn.exec_driver_sql(sql.UPSERT_NODES, plan.args(project_id))
    except DBAPIError as exc:
        if sqlstate_of(exc) == "23505":
            raise Conflict("another write to this tree got in the way; retry") from exc
        raise
    if prune:
        await conn.exec_driver_sql(sql.PRUNE, (project_id, plan.ids))
    TREE_UPSERT_NODES.observe(len(plan.ids))
    return plan.ids


async def move_content(
    conn: AsyncConnection, content_id: uuid.UUID, parent_id: uuid.UUID | None,
    position: int | None,
) -> None:  # fmt: skip
    """Move a content under a new parent (or to the root) at a position, and
    renumber the siblings it leaves and joins, in one statement."""
    locked = await _rows(conn, sql.LOCK_CONTENT, content_id)
    if not locked:
        raise await refused_write(conn, content_id)
    node = locked[0]
    if parent_id is not None:
        await check_placement(
            conn, node["project_id"], parent_id, node["content_type"],
            node_id=content_id, parent_field="parent_id", type_field=None,
        )  # fmt: skip
    joined = [
        r["id"] for r in await _rows(conn, sql.SIBLINGS, node["project_id"], parent_id, content_id)
    ]
    index = len(joined) if position is None else min(position - 1, len(joined))
    joined.insert(index, content_id)
    ids, positions = list(joined), list(range(1, len(joined) + 1))
    if node["parent_content_id"] != parent_id:
        left = await _rows(
            conn, sql.SIBLINGS, node["project_id"], node["parent_content_id"], content_id
        )
        ids += [r["id"] for r in left]
        positions += list(range(1, len(left) + 1))
    await conn.exec_driver_sql(sql.RENUMBER, (ids, positions, content_id, parent_id))
