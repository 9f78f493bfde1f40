"""The pure rules of whole content trees: a payload's errors (by the
hierarchy rules of `app.contents.hierarchy`, which the single-node writes
apply too, plus duplicate slugs and the node limit), and the walks over a
payload and over stored rows. No database and no HTTP here: tests need no
server.

The node limit (`MAX_NODES`) is declared with the API models in
`app.trees.schemas`, where the OpenAPI document states it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.contents.hierarchy import (
    INVALID_HIERARCHY,
    MAX_DEPTH,
    TOO_DEEP,
    cannot_contain,
    may_contain,
    problem_error,
    too_deep,
)
from app.trees.schemas import MAX_NODES, NODE_FIELDS, TreeNodeIn


def tree_errors(nodes: Sequence[TreeNodeIn]) -> list[dict[str, Any]]:
    """Everything wrong with a tree payload, each with its path, before any write."""
    errors: list[dict[str, Any]] = []
    seen: dict[str, list[str | int]] = {}
    count = 0

    def visit(
        items: Sequence[TreeNodeIn], parent_type: str | None, path: list[str | int], depth: int
    ) -> None:
        nonlocal count
        for index, node in enumerate(items):
            here = [*path, index]
            count += 1
            if depth > MAX_DEPTH:
                errors.append(problem_error(here, too_deep(), TOO_DEEP))
                continue
            if node.slug in seen:
                first = ".".join(map(str, seen[node.slug]))
                errors.append(
                    problem_error([*here, "slug"], f"slug {node.slug!r} already used at {first}",
                           "duplicate_slug")
                )  # fmt: skip
            else:
                seen[node.slug] = here
            child_type = node.content_type.value
            if parent_type is not None and not may_contain(parent_type, child_type):
                errors.append(
                    problem_error([*here, "content_type"], cannot_contain(parent_type, child_type),
                           INVALID_HIERARCHY)
                )  # fmt: skip
            visit(node.children, child_type, [*here, "children"], depth + 1)

    visit(nodes, None, ["body", "nodes"], 1)
    if count > MAX_NODES:
        errors.insert(
            0, problem_error(["body", "nodes"], f"more than {MAX_NODES} nodes", "too_many")
        )
    return errors


# ---- the upsert plan -------------------------------------------------------------------


@dataclass
class UpsertPlan:
    """Every node flattened, with its id (kept, or new) and its parent's id."""

    ids: list[uuid.UUID] = field(default_factory=list)
    parent_ids: list[uuid.UUID | None] = field(default_factory=list)
    slugs: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    contents: list[str | None] = field(default_factory=list)
    sequence_orders: list[int] = field(default_factory=list)
    fidelity_scores: list[Decimal | None] = field(default_factory=list)
    file_paths: list[str | None] = field(default_factory=list)
    metadata: list[str] = field(default_factory=list)
    ai_generated: list[bool] = field(default_factory=list)
    keywords: list[str | None] = field(default_factory=list)

    def args(self, project_id: uuid.UUID) -> tuple[Any, ...]:
        """The parameters of `app.trees.sql.UPSERT_NODES`."""
        return (
            project_id, self.ids, self.parent_ids, self.slugs, self.titles,
            self.content_types, self.contents, self.sequence_orders, self.fidelity_scores,
            self.file_paths, self.metadata, self.ai_generated, self.keywords,
        )  # fmt: skip


def walk(
    nodes: Sequence[TreeNodeIn], parent: TreeNodeIn | None = None
) -> Iterator[tuple[TreeNodeIn, TreeNodeIn | None, int]]:
    """Every node with its parent and its 1-based position among its siblings."""
    for position, node in enumerate(nodes, start=1):
        yield node, parent, position
        yield from walk(node.children, node)


def all_slugs(nodes: Sequence[TreeNodeIn]) -> list[str]:
    return [node.slug for node, _, _ in walk(nodes)]


# jsonb parameters as text, as PostgreSQL reads them (not ASCII-escaped).
_to_json = json.JSONEncoder(ensure_ascii=False).encode
_EMPTY_OBJECT = "{}"


def plan_upsert(nodes: Sequence[TreeNodeIn], existing: dict[str, uuid.UUID]) -> UpsertPlan:
    """Ids for every node: the existing content's for a known slug (so a
    re-run updates in place), a new one otherwise."""
    plan = UpsertPlan()
    ids: dict[str, uuid.UUID] = {}
    for node, parent, position in walk(nodes):
        node_id = existing.get(node.slug) or uuid.uuid4()
        ids[node.slug] = node_id
        plan.ids.append(node_id)
        plan.parent_ids.append(ids[parent.slug] if parent is not None else None)
        plan.slugs.append(node.slug)
        plan.titles.append(node.title)
        plan.content_types.append(node.content_type.value)
        plan.contents.append(node.content)
        plan.sequence_orders.append(
            node.sequence_order if node.sequence_order is not None else position
        )
        plan.fidelity_scores.append(node.fidelity_score)
        plan.file_paths.append(node.file_path)
        # Up to 5,000 times a request: one encoder, and no encoding of the
        # usual empty metadata.
        plan.metadata.append(_to_json(node.metadata) if node.metadata else _EMPTY_OBJECT)
        plan.ai_generated.append(node.ai_generated)
        plan.keywords.append(None if node.keywords is None else _to_json(node.keywords))
    return plan


# ---- nesting stored rows ---------------------------------------------------------------


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
