"""Content trees read and written: the rules are `app.trees.shape`'s (and
`app.contents.hierarchy`'s), the statements `app.trees.sql`'s."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic_core import to_json
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.contents.hierarchy import MAX_DEPTH
from app.contents.service import (
    check_placement,
    content_not_found,
    lock_project_of,
    refused_write,
)
from app.db.rows import Row, fetchrow
from app.db.tenancy import Reader, execute, fetch, fetchval
from app.http.etags import digest, match
from app.http.observability import TREE_UPSERT_NODES
from app.http.problems import (
    Conflict,
    InvalidTree,
    NotFound,
    PreconditionFailed,
    ReadOnly,
    sqlstate_of,
)
from app.http.schemas import dumps
from app.projects.schemas import Project
from app.projects.service import get_project, project_not_found, require_project
from app.trees import shape, sql
from app.trees.schemas import TreeNodeIn, TreeUpsert

# ---- a tree as the API answers it --------------------------------------------------------


@dataclass(frozen=True)
class TreeAnswer:
    """A tree serialized once, straight to bytes (no second validation pass
    of the nodes), and the hash its ETag carries: a 128-bit hash of those
    bytes (`app.http.etags.digest`), so an unchanged tree answers 304.
    `after_commit`, if any, is to run once the transaction committed (and
    the answer is out). `revision`: the project revision a write made."""

    body: bytes
    digest: str
    after_commit: Callable[[], Any] | None = None
    revision: int | None = None


def tree_answer(project: Row, nodes: list[dict[str, Any]]) -> TreeAnswer:
    body = b"".join(
        (b'{"project":', to_json(Project.model_validate(project)), b',"nodes":', dumps(nodes), b"}")
    )
    return TreeAnswer(body, digest(body))


async def read_project_tree(
    conn: Reader, project_id: uuid.UUID, *, include_body: bool, max_depth: int
) -> TreeAnswer:
    """The project and its nested nodes."""
    project = await require_project(conn, project_id)
    rows = await fetch(conn, sql.READ_PROJECT_TREE, project_id, include_body)
    return tree_answer(project, shape.nest(rows, include_body=include_body, max_depth=max_depth))


async def read_subtree(
    conn: Reader, content_id: uuid.UUID, *, include_body: bool, max_depth: int
) -> TreeAnswer:
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
    return tree_answer(project, nodes)


async def require_version(conn: Reader, project_id: uuid.UUID, if_match: str) -> None:
    """412 unless `If-Match` names the tree as it is now: the ETag a GET of
    it by this caller would answer, without bodies (what a PUT answers) or
    with them (read only when the first does not match). Called with the
    project locked, so no other tree write changes it before this one."""
    for include_body in (False, True):
        current = await read_project_tree(
            conn, project_id, include_body=include_body, max_depth=MAX_DEPTH
        )
        if match(if_match, current.digest):
            return
    raise PreconditionFailed(
        f"project {project_id}'s tree changed since the ETag in If-Match (or If-Match is"
        " not one of its ETags); nothing was written: read it again and reapply"
    )


async def upsert_tree(
    conn: AsyncConnection,
    project_id: uuid.UUID,
    nodes: Sequence[TreeNodeIn],
    *,
    prune: bool,
    if_match: str | None = None,
) -> list[uuid.UUID]:
    """Write the whole tree in this transaction: nodes matched by slug keep
    their ids; with `prune`, the project's other contents are soft-deleted.
    With `if_match`, only if the tree is still that version (checked under
    the project's row lock, so of two racing writers holding the same ETag
    one wins and the other gets 412)."""
    errors = shape.tree_errors(nodes)
    if errors:
        raise InvalidTree("the tree is not valid; nothing was written").with_errors(errors)
    if await fetchrow(conn, sql.LOCK_PROJECT, project_id) is None:
        if await get_project(conn, project_id) is None:
            raise project_not_found(project_id)
        raise ReadOnly("you can read this project but not change it")
    if if_match is not None:
        await require_version(conn, project_id, if_match)
    slugs = shape.all_slugs(nodes)
    existing = {
        row["slug"]: row["id"] for row in await fetch(conn, sql.EXISTING_SLUGS, project_id, slugs)
    }
    plan = shape.plan_upsert(nodes, existing)
    try:
        await execute(conn, sql.UPSERT_NODES, *plan.args(project_id))
    except DBAPIError as exc:
        if sqlstate_of(exc) == "23505":
            raise Conflict("another write to this tree got in the way; retry") from exc
        raise
    if prune:
        await execute(conn, sql.PRUNE, project_id, plan.ids)
    TREE_UPSERT_NODES.observe(len(plan.ids))
    return plan.ids


async def move_content(
    conn: AsyncConnection, content_id: uuid.UUID, parent_id: uuid.UUID | None,
    position: int | None,
) -> None:  # fmt: skip
    """Move a content under a new parent (or to the root) at a position, and
    renumber the siblings it leaves and joins, in one statement."""
    await lock_project_of(conn, content_id)
    node = await fetchrow(conn, sql.LOCK_CONTENT, content_id)
    if node is None:
        raise await refused_write(conn, content_id)
    if parent_id is not None:
        await check_placement(
            conn, node["project_id"], parent_id, node["content_type"],
            node_id=content_id, parent_field="parent_id", type_field=None,
        )  # fmt: skip
    joined = [
        r["id"] for r in await fetch(conn, sql.SIBLINGS, node["project_id"], parent_id, content_id)
    ]
    index = len(joined) if position is None else min(position - 1, len(joined))
    joined.insert(index, content_id)
    ids, positions = list(joined), list(range(1, len(joined) + 1))
    if node["parent_content_id"] != parent_id:
        left = await fetch(
            conn, sql.SIBLINGS, node["project_id"], node["parent_content_id"], content_id
        )
        ids += [r["id"] for r in left]
        positions += list(range(1, len(left) + 1))
    await execute(conn, sql.RENUMBER, ids, positions, content_id, parent_id)


async def put_tree(
    conn: AsyncConnection,
    project_id: uuid.UUID,
    tree: TreeUpsert,
    *,
    wake_indexer: Callable[[], None],
    if_match: str | None = None,
) -> TreeAnswer:
    """PUT /projects/{id}/tree: write the tree, answer it as it now is. The
    written rows' search indexing was deferred (app.search.indexer): the
    indexer is woken once the answer is out, i.e. after the commit."""
    await upsert_tree(conn, project_id, tree.nodes, prune=tree.prune, if_match=if_match)
    answer = await read_project_tree(conn, project_id, include_body=False, max_depth=MAX_DEPTH)
    revision = await fetchval(conn, sql.THIS_REVISION, project_id)
    return replace(answer, after_commit=wake_indexer, revision=revision)
