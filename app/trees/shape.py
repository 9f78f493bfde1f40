"""The pure rules of content trees: which content type may hold which, how
deep a tree may go, and the walks over a payload and over stored rows. No
database and no HTTP here, so that the whole-tree PUT and the single-node
writes (create, patch, move) call the same rule, and tests need no server.

The limits themselves (`MAX_DEPTH`, `MAX_NODES`) are declared with the API
models in `app.trees.schemas`, where the OpenAPI document states them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from app.trees.schemas import MAX_DEPTH, MAX_NODES, NODE_FIELDS, TreeNodeIn

# Which content types may hold which: the course and book hierarchies.
# Types not listed here may hold, and sit under, anything; any type may be a root.
ALLOWED_CHILDREN: dict[str, frozenset[str]] = {
    "course_outline": frozenset({"course_module", "course_lesson"}),
    "course_module": frozenset({"course_lesson"}),
    "course_lesson": frozenset(),
    "book_outline": frozenset({"book_part", "book_chapter"}),
    "book_part": frozenset({"book_chapter"}),
    "book_chapter": frozenset(),
}

# The kinds of refusal, as the `type` of each entry in a problem's `errors`.
INVALID_HIERARCHY = "invalid_hierarchy"
TOO_DEEP = "too_deep"


def may_contain(parent_type: str, child_type: str) -> bool:
    """Whether a content of `parent_type` may hold one of `child_type`."""
    allowed = ALLOWED_CHILDREN.get(parent_type)
    return allowed is None or child_type in allowed


def _cannot_contain(parent_type: str, child_type: str) -> str:
    return f"a {parent_type} cannot contain a {child_type}"


def _too_deep() -> str:
    return f"deeper than {MAX_DEPTH} levels"


class Misplacement(NamedTuple):
    """One broken rule: its kind (`INVALID_HIERARCHY`, `TOO_DEEP`), what to
    tell the caller, and the node's field at fault (None: its place)."""

    kind: str
    msg: str
    field: str | None


@dataclass(frozen=True)
class Placement:
    """A node where a single-node write would put it."""

    content_type: str
    parent_type: str | None
    """None: the node is a root."""
    depth: int | None = None
    """Its level, 1 for a root; None when its place does not change."""
    height: int = 1
    """Levels of its live subtree, itself included."""
    child_types: frozenset[str] = frozenset()
    """Its children's types, when its own type changes."""


def misplacements(placement: Placement) -> list[Misplacement]:
    """Every rule the placement breaks: the parent must hold the node's type,
    the node's type must hold its children's, and its deepest descendant must
    stay within `MAX_DEPTH` levels."""
    found: list[Misplacement] = []
    kind = placement.content_type
    if placement.parent_type is not None and not may_contain(placement.parent_type, kind):
        found.append(
            Misplacement(INVALID_HIERARCHY, _cannot_contain(placement.parent_type, kind),
                         "content_type")
        )  # fmt: skip
    for child in sorted(placement.child_types):
        if not may_contain(kind, child):
            found.append(
                Misplacement(INVALID_HIERARCHY, _cannot_contain(kind, child), "content_type")
            )
    if placement.depth is not None and placement.depth + placement.height - 1 > MAX_DEPTH:
        found.append(Misplacement(TOO_DEEP, _too_deep(), None))
    return found


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
                errors.append(_error(here, _too_deep(), TOO_DEEP))
                continue
            if node.slug in seen:
                first = ".".join(map(str, seen[node.slug]))
                errors.append(
                    _error([*here, "slug"], f"slug {node.slug!r} already used at {first}",
                           "duplicate_slug")
                )  # fmt: skip
            else:
                seen[node.slug] = here
            child_type = node.content_type.value
            if parent_type is not None and not may_contain(parent_type, child_type):
                errors.append(
                    _error([*here, "content_type"], _cannot_contain(parent_type, child_type),
                           INVALID_HIERARCHY)
                )  # fmt: skip
            visit(node.children, child_type, [*here, "children"], depth + 1)

    visit(nodes, None, ["body", "nodes"], 1)
    if count > MAX_NODES:
        errors.insert(0, _error(["body", "nodes"], f"more than {MAX_NODES} nodes", "too_many"))
    return errors


def _error(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def placement_errors(
    found: Iterable[Misplacement], *, parent_field: str, type_field: str | None
) -> list[dict[str, Any]]:
    """A single-node write's misplacements as a problem's `errors`, shaped as
    the tree PUT's: each names the request's field at fault (`type_field`
    when the request sent a content type, else the parent's)."""
    errors = []
    for m in found:
        at = type_field if m.field is not None and type_field is not None else parent_field
        errors.append(_error(["body", at], m.msg, m.kind))
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
