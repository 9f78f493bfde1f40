"""The placement rules of `app.contents.hierarchy`, as tables: which type
may hold which, the depth limit with a subtree, and the errors a refused
single-node write names."""

from __future__ import annotations

import pytest

from app.contents.hierarchy import (
    ALLOWED_CHILDREN,
    INVALID_HIERARCHY,
    MAX_DEPTH,
    TOO_DEEP,
    Misplacement,
    Placement,
    may_contain,
    misplacements,
    placement_errors,
)
from app.contents.schemas import ContentType

pytestmark = pytest.mark.pure


def test_the_hierarchy_names_only_real_content_types() -> None:
    named = set(ALLOWED_CHILDREN) | set().union(*ALLOWED_CHILDREN.values())
    assert named <= {t.value for t in ContentType}


@pytest.mark.parametrize(
    ("parent", "child", "allowed"),
    [
        ("course_outline", "course_module", True),
        ("course_outline", "course_lesson", True),
        ("course_outline", "course_outline", False),
        ("course_outline", "book_chapter", False),
        ("course_outline", "article", False),
        ("course_module", "course_lesson", True),
        ("course_module", "course_module", False),
        ("course_lesson", "course_lesson", False),
        ("course_lesson", "article", False),
        ("book_outline", "book_part", True),
        ("book_outline", "book_chapter", True),
        ("book_part", "book_chapter", True),
        ("book_part", "book_part", False),
        ("book_chapter", "book_chapter", False),
        # Types outside the two hierarchies hold, and sit under, anything.
        ("article", "course_module", True),
        ("article", "article", True),
        ("other", "book_part", True),
    ],
)
def test_may_contain(parent: str, child: str, allowed: bool) -> None:
    assert may_contain(parent, child) is allowed


def kinds(placement: Placement) -> list[tuple[str, str | None]]:
    return [(m.kind, m.field) for m in misplacements(placement)]


HIERARCHY = (INVALID_HIERARCHY, "content_type")
DEPTH = (TOO_DEEP, None)


@pytest.mark.parametrize(
    ("placement", "expected"),
    [
        (Placement("course_module", None, depth=1), []),  # any type may be a root
        (Placement("course_lesson", "course_module", depth=3), []),
        (Placement("course_module", "course_lesson", depth=3), [HIERARCHY]),
        (Placement("article", None, depth=MAX_DEPTH), []),
        (Placement("article", "article", depth=MAX_DEPTH), []),
        (Placement("article", "article", depth=MAX_DEPTH + 1), [DEPTH]),
        # A moved subtree counts with its deepest descendant.
        (Placement("article", "article", depth=MAX_DEPTH - 2, height=3), []),
        (Placement("article", "article", depth=MAX_DEPTH - 2, height=4), [DEPTH]),
        # Not moved: the depth is not in question.
        (Placement("article", "article", depth=None, height=MAX_DEPTH + 5), []),
        # Retyped: its children must still fit, each type once, in order.
        (Placement("course_module", "course_outline", child_types=frozenset({"course_lesson"})),
         []),
        (Placement("course_lesson", "course_module", child_types=frozenset({"course_lesson"})),
         [HIERARCHY]),
        (Placement("course_module", None,
                   child_types=frozenset({"course_lesson", "course_module", "article"})),
         [HIERARCHY, HIERARCHY]),
        (Placement("course_module", "course_module", depth=MAX_DEPTH, height=2,
                   child_types=frozenset({"course_module"})),
         [HIERARCHY, HIERARCHY, DEPTH]),
    ],
)  # fmt: skip
def test_misplacements(placement: Placement, expected: list[tuple[str, str | None]]) -> None:
    assert kinds(placement) == expected


def test_misplacements_say_what_is_wrong() -> None:
    found = misplacements(
        Placement("course_module", None, child_types=frozenset({"article", "course_module"}))
    )
    assert [m.msg for m in found] == [
        "a course_module cannot contain a article",
        "a course_module cannot contain a course_module",
    ]
    assert misplacements(Placement("x", None, depth=MAX_DEPTH + 1))[0].msg == (
        f"deeper than {MAX_DEPTH} levels"
    )


def test_placement_errors_name_the_requests_field() -> None:
    found = [
        Misplacement(INVALID_HIERARCHY, "a b cannot contain a c", "content_type"),
        Misplacement(TOO_DEEP, "deeper", None),
    ]
    on_create = placement_errors(found, parent_field="parent_content_id", type_field="content_type")
    assert on_create == [
        {"loc": ["body", "content_type"], "msg": "a b cannot contain a c",
         "type": INVALID_HIERARCHY},
        {"loc": ["body", "parent_content_id"], "msg": "deeper", "type": TOO_DEEP},
    ]  # fmt: skip
    # A move sends no content type: its parent is at fault.
    on_move = placement_errors(found, parent_field="parent_id", type_field=None)
    assert [e["loc"] for e in on_move] == [["body", "parent_id"], ["body", "parent_id"]]
