"""The tree PUT's validation (`app.trees.shape.tree_errors`) and the
single-node check (`app.contents.hierarchy`) are the same rule."""

from __future__ import annotations

from typing import Any

import pytest

from app.contents.hierarchy import MAX_DEPTH, Placement, may_contain, misplacements
from app.trees.schemas import TreeNodeIn
from app.trees.shape import tree_errors

pytestmark = pytest.mark.pure


def chain(types: list[str]) -> list[TreeNodeIn]:
    """One node per level, each the only child of the one above."""
    node: dict[str, Any] | None = None
    for level, content_type in reversed(list(enumerate(types))):
        node = {"slug": f"n{level}", "title": "n", "content_type": content_type,
                "children": [node] if node else []}  # fmt: skip
    return [TreeNodeIn.model_validate(node)]


TYPES = ["course_outline", "course_module", "course_lesson", "book_part", "article"]


@pytest.mark.parametrize("parent", TYPES)
@pytest.mark.parametrize("child", TYPES)
def test_the_tree_put_and_a_single_placement_agree_on_hierarchy(parent: str, child: str) -> None:
    on_put = [(e["type"], e["msg"]) for e in tree_errors(chain([parent, child]))]
    single = [(m.kind, m.msg) for m in misplacements(Placement(child, parent, depth=2))]
    assert on_put == single
    assert (on_put == []) is may_contain(parent, child)


@pytest.mark.parametrize("levels", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 3])
def test_the_tree_put_and_a_single_placement_agree_on_depth(levels: int) -> None:
    on_put = [(e["type"], e["msg"]) for e in tree_errors(chain(["article"] * levels))]
    # The chain's root placed at the root, its subtree `levels` high.
    single = [
        (m.kind, m.msg) for m in misplacements(Placement("article", None, depth=1, height=levels))
    ]
    assert on_put == single
    assert (on_put == []) is (levels <= MAX_DEPTH)
