"""Content trees: validation, nesting, and their SQL (the statements live in
`app.trees.sql`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import xxhash
from pydantic_core import to_json
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.contents.service import check_parent, content_not_found, refused_write
from app.db.rows import Row, execute, fetchrow
from app.db.tenancy import Reader, fetch
from app.http.observability import TREE_UPSERT_NODES
from app.http.problems import Conflict, InvalidTree, NotFound, ReadOnly, sqlstate_of
from app.http.schemas import dumps
from app.projects.schemas import Project
from app.projects.service import get_project, project_not_found, require_project
from app.trees import sql
from app.trees.schemas import MAX_DEPTH, MAX_NODES, NODE_FIELDS, TreeNodeIn, TreeUpsert

# Which content types may hold which: the course and book hierarchies.
# Types not listed here may hold, and sit under, anything.
ALLOWED_CHILDREN: dict[str, frozenset[str]] = {
    "course_outline": frozenset({"course_module", "course_lesson"}),
    "course_module": frozenset({"course_lesson"}),
    "course_lesson": frozenset(),
    "book_outline": frozenset({"book_part", "book_chapter"}),
    "book_part": frozenset({"book_chapter"}),
    "book_chapter": frozenset(),
}
STRUCTURED = frozenset(ALLOWED_CHILDREN)


def tree_errors(nodes: Sequence[TreeNodeIn]) -> list[dict[str, Any]]:
    """Everything wrong with a payload, each with its path, before any write."""
    errors: list[dict[str, Any]] = []
    seen: dict[str, list[str | int]] = {}
    count = 0

    def visit(
        items: Sequence[TreeNodeIn], parent: TreeNodeIn | None, path: list[str | int], depth: int
    ) -> None:
        nonlocal count
        for index, node in enumerate(items):
            here = [*path, index]
            count += 1
            if depth > MAX_DEPTH:
                errors.append(_error(here, f"deeper than {MAX_DEPTH} levels", "too_deep"))
                continue
            if node.slug in seen:
                first = ".".join(map(str, seen[node.slug]))
                errors.append(
                    _error([*here, "slug"], f"slug {node.slug!r} already used at {first}",
                           "duplicate_slug")
                )  # fmt: skip
            else:
                seen[node.slug] = here
            if parent is not None:
                allowed = ALLOWED_CHILDREN.get(parent.content_type.value)
                child = node.content_type.value
                if (allowed is not None and child not in allowed) or (
                    allowed is None and child in STRUCTURED and parent.content_type in STRUCTURED
                ):
                    errors.append(
                        _error([*here, "content_type"],
                               f"a {parent.content_type.value} cannot contain a {child}",
                               "invalid_hierarchy")
                    )  # fmt: skip
            visit(node.children, node, [*here, "children"], depth + 1)

    visit(nodes, None, ["body", "nodes"], 1)
    if count > MAX_NODES:
        errors.insert(0, _error(["body", "nodes"], f"more than {MAX_NODES} nodes", "too_many"))
    return errors


def _error(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def _sibling_order(node: dict[str, Any]) -> tuple[bool, int, str]:
    order = node["sequence_order"]
    return (order is None, order or 0, node["slug"])


def nest(
    rows: Sequence[Any], *, include_body: bool, max_depth: int, root_id: uuid.UUID | None = None
) -> list[dict[str, Any]]:
    """Flat rows (`READ_PROJECT_TREE` / `READ_SUBTREE`: the node fields in
    `NODE_FIELDS` order, then parent_content_id, project_id, content) → nested
    nodes, siblings in (sequence_order, slug) order.

    Only what hangs from the roots (the project's top-level nodes, or the
    content `root_id`) down to `max_depth` levels is reached: a node under a
    deleted (or invisible) parent is not, and neither is one too deep.
    """
    by_parent: dict[uuid.UUID | None, list[dict[str, Any]]] = {}
    roots: list[dict[str, Any]] = []
    for row in rows:
        # The row's first values are the node's fields (zip stops there).
        node = dict(zip(NODE_FIELDS, row.values(), strict=False))
        node["children"] = []
        if include_body:
            node["content"] = row["content"]
        if root_id is not None and node["id"] == root_id:
            roots.append(node)
        parent = row["parent_content_id"]
        siblings = by_parent.get(parent)
        if siblings is None:
            by_parent[parent] = [node]
        else:
            siblings.append(node)
    if root_id is None:
        roots = by_parent.get(None, [])

    # Siblings sorted, children attached level by level from an explicit
    # stack: a recursive closure would be a reference cycle (function ↔ its
    # own cell) holding every node until the garbage collector found it.
    placed: set[uuid.UUID] = set()
    pending: list[tuple[list[dict[str, Any]], int]] = [(roots, 1)]
    while pending:
        siblings, depth = pending.pop()
        siblings.sort(key=_sibling_order)
        placed.update(node["id"] for node in siblings)
        if depth >= max_depth:
            continue
        for node in siblings:
            children = by_parent.get(node["id"])
            if children:
                # Each node once, even if the data held a cycle (the API never
                # writes one; the schema cannot forbid it).
                children = [c for c in children if c["id"] not in placed]
                if children:
                    node["children"] = children
                    pending.append((children, depth + 1))
    return roots


# ---- a tree as the API answers it --------------------------------------------------------


@dataclass(frozen=True)
class TreeAnswer:
    """A tree serialized once, straight to bytes (no second validation pass
    of the nodes), and the hash its ETag carries: a 128-bit hash of those
    bytes (xxHash's XXH3: 670 KB in ~0.02 ms, where BLAKE2b took 0.8 ms), so
    an unchanged tree answers 304. `after_commit`, if any, is to run once the
    transaction committed (and the answer is out)."""

    body: bytes
    digest: str
    after_commit: Callable[[], Any] | None = None


def tree_answer(project: Row, nodes: list[dict[str, Any]]) -> TreeAnswer:
    body = b"".join(
        (b'{"project":', to_json(Project.model_validate(project)), b',"nodes":', dumps(nodes), b"}")
    )
    return TreeAnswer(body, xxhash.xxh3_128_hexdigest(body))


async def read_project_tree(
    conn: Reader, project_id: uuid.UUID, *, include_body: bool, max_depth: int
) -> TreeAnswer:
    """The project and its nested nodes."""
    project = await require_project(conn, project_id)
    rows = await fetch(conn, sql.READ_PROJECT_TREE, project_id, include_body)
    return tree_answer(project, nest(rows, include_body=include_body, max_depth=max_depth))


async def read_subtree(
    conn: Reader, content_id: uuid.UUID, *, include_body: bool, max_depth: int
) -> TreeAnswer:
    """A content's project and the content, nested with its descendants."""
    rows = await fetch(conn, sql.READ_SUBTREE, content_id, include_body)
    nodes = nest(rows, include_body=include_body, max_depth=max_depth, root_id=content_id)
    if not nodes:
        raise content_not_found(content_id)
    project = await get_project(conn, rows[0]["project_id"])
    if project is None:
        # A published content of another creator's project: its tree is
        # readable, its project is not.
        raise NotFound(f"content {content_id} is not part of a project you can read")
    return tree_answer(project, nodes)


async def upsert_tree(
    conn: AsyncConnection, project_id: uuid.UUID, nodes: Sequence[TreeNodeIn], *, prune: bool
) -> list[uuid.UUID]:
    """Write the whole tree in this transaction: nodes matched by slug keep
    their ids; with `prune`, the project's other contents are soft-deleted."""
    errors = tree_errors(nodes)
    if errors:
        raise InvalidTree("the tree is not valid; nothing was written").with_errors(errors)
    if await fetchrow(conn, sql.LOCK_PROJECT, project_id) is None:
        if await get_project(conn, project_id) is None:
            raise project_not_found(project_id)
        raise ReadOnly("you can read this project but not change it")
    slugs = sql.all_slugs(nodes)
    existing = {
        row["slug"]: row["id"] for row in await fetch(conn, sql.EXISTING_SLUGS, project_id, slugs)
    }
    plan = sql.plan_upsert(nodes, existing)
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
    node = await fetchrow(conn, sql.LOCK_CONTENT, content_id)
    if node is None:
        raise await refused_write(conn, content_id)
    if parent_id is not None:
        await check_parent(conn, parent_id, node["project_id"], child_id=content_id)
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
) -> TreeAnswer:
    """PUT /projects/{id}/tree: write the tree, answer it as it now is. The
    written rows' search indexing was deferred (app.search.indexer): the
    indexer is woken once the answer is out, i.e. after the commit."""
    await upsert_tree(conn, project_id, tree.nodes, prune=tree.prune)
    answer = await read_project_tree(conn, project_id, include_body=False, max_depth=MAX_DEPTH)
    return replace(answer, after_commit=wake_indexer)
