"""Which content may sit where: the content types' hierarchy (a course holds
modules and lessons, a book parts and chapters) and the depth limit. Pure
rules, so that every write that places a content (create, patch, move, and
the whole-tree PUT in `app.trees.shape`) applies the same ones, and tests
need no server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

# The most levels a content tree may have, a root being level 1.
MAX_DEPTH = 16

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


def cannot_contain(parent_type: str, child_type: str) -> str:
    return f"a {parent_type} cannot contain a {child_type}"


def too_deep() -> str:
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
            Misplacement(INVALID_HIERARCHY, cannot_contain(placement.parent_type, kind),
                         "content_type")
        )  # fmt: skip
    for child in sorted(placement.child_types):
        if not may_contain(kind, child):
            found.append(
                Misplacement(INVALID_HIERARCHY, cannot_contain(kind, child), "content_type")
            )
    if placement.depth is not None and placement.depth + placement.height - 1 > MAX_DEPTH:
        found.append(Misplacement(TOO_DEEP, too_deep(), None))
    return found


def problem_error(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    """One entry of a problem's `errors`, as FastAPI words a validation error."""
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
        errors.append(problem_error(["body", at], m.msg, m.kind))
    return errors
