"""The tree's pure functions, without a database: validation, the upsert
plan, and nesting of flat rows."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from app.contents.hierarchy import MAX_DEPTH
from app.trees.schemas import NODE_FIELDS, TreeNode, TreeNodeIn
from app.trees.shape import nest, plan_upsert, tree_errors

pytestmark = pytest.mark.pure

pytestmark = pytest.mark.pure


def node(slug: str, content_type: str = "course_lesson", **extra: Any) -> dict[str, Any]:
    return {"slug": slug, "title": slug.upper(), "content_type": content_type, **extra}


def models(*nodes: dict[str, Any]) -> list[TreeNodeIn]:
    return [TreeNodeIn.model_validate(n) for n in nodes]


def test_node_fields_are_the_tree_nodes_own() -> None:
    assert set(NODE_FIELDS) == set(TreeNode.model_fields) - {"content", "children"}


def test_tree_errors_name_each_bad_node_by_path() -> None:
    payload = models(
        node("outline", "course_outline", children=[
            node("m1", "course_module", children=[node("l1"), node("m1", "course_lesson")]),
            node("l2", "course_lesson", children=[node("deep")]),
        ]),
        node("l1"),
    )  # fmt: skip
    errors = {(".".join(map(str, e["loc"])), e["type"]) for e in tree_errors(payload)}
    assert errors == {
        ("body.nodes.0.children.0.children.1.slug", "duplicate_slug"),
        ("body.nodes.0.children.1.children.0.content_type", "invalid_hierarchy"),
        ("body.nodes.1.slug", "duplicate_slug"),
    }


def test_tree_errors_depth_and_size() -> None:
    deep = node("d0")
    cursor = deep
    for i in range(1, MAX_DEPTH + 1):
        cursor["children"] = [node(f"d{i}", "article")]
        cursor = cursor["children"][0]
    deep["content_type"] = "article"
    assert [e["type"] for e in tree_errors(models(deep))] == ["too_deep"]
    assert tree_errors(models(*[node(f"n{i}", "article") for i in range(5001)]))[0]["type"] == (
        "too_many"
    )
    assert tree_errors(models(node("ok", "course_outline"))) == []


def test_plan_keeps_known_ids_and_links_parents() -> None:
    known = uuid.uuid4()
    plan = plan_upsert(
        models(node("o", "course_outline", children=[node("a"), node("b", sequence_order=7)])),
        {"a": known},
    )
    assert plan.slugs == ["o", "a", "b"]
    assert plan.ids[1] == known and len(set(plan.ids)) == 3
    assert plan.parent_ids == [None, plan.ids[0], plan.ids[0]]
    assert plan.sequence_orders == [1, 1, 7]  # position unless given
    assert plan.metadata == ["{}", "{}", "{}"]
    assert len(plan.args(uuid.uuid4())) == 13


def test_plan_sends_metadata_and_keywords_as_json_text() -> None:
    metadata = {"nível": "básico", "big": 10**30, "list": [1, 2.5, None]}
    plan = plan_upsert(models(node("a", metadata=metadata, keywords=["ação", "ia"]), node("b")), {})
    assert [json.loads(m) for m in plan.metadata] == [metadata, {}]
    assert "nível" in plan.metadata[0]  # as PostgreSQL reads it, not \\u-escaped
    assert plan.keywords[0] is not None and json.loads(plan.keywords[0]) == ["ação", "ia"]
    assert plan.keywords[1] is None


def row(
    node_id: uuid.UUID, parent: uuid.UUID | None, slug: str, order: int | None, content: str = ""
) -> dict[str, Any]:
    """A row as READ_PROJECT_TREE returns it: NODE_FIELDS, parent, project, content."""
    fields = {
        "id": node_id, "slug": slug, "title": slug, "content_type": "course_lesson",
        "status": "draft", "sequence_order": order, "fidelity_score": None, "file_path": None,
        "metadata": {},
    }  # fmt: skip
    values = {name: fields[name] for name in NODE_FIELDS}
    return {**values, "parent_content_id": parent, "project_id": None, "content": content}


def slugs(nodes: list[dict[str, Any]]) -> list[Any]:
    return [(n["slug"], slugs(n["children"])) for n in nodes]


def test_nest_orders_siblings_limits_depth_and_hides_orphans() -> None:
    root, a, b, c, a1 = (uuid.uuid4() for _ in range(5))
    deleted_parent = uuid.uuid4()  # not among the rows: soft-deleted
    rows = [
        row(a1, a, "a1", 1, "body"),
        row(b, root, "b", None),
        row(c, root, "c", 1),
        row(a, root, "a", 1),
        row(root, None, "root", 1),
        row(uuid.uuid4(), deleted_parent, "orphan", 1),
    ]
    tree = nest(rows, include_body=False, max_depth=16)
    # (sequence_order, slug), nulls last; the orphan's parent is gone.
    assert slugs(tree) == [("root", [("a", [("a1", [])]), ("c", []), ("b", [])])]
    assert "content" not in tree[0]
    assert slugs(nest(rows, include_body=False, max_depth=2)) == [
        ("root", [("a", []), ("c", []), ("b", [])])
    ]
    sub = nest(rows, include_body=True, max_depth=16, root_id=a)
    assert slugs(sub) == [("a", [("a1", [])])]
    assert sub[0]["children"][0]["content"] == "body"
    assert nest(rows, include_body=False, max_depth=16, root_id=uuid.uuid4()) == []


def test_nest_terminates_on_a_cycle() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    rows = [row(a, b, "a", 1), row(b, a, "b", 1)]
    assert nest(rows, include_body=False, max_depth=16) == []  # no root reaches them
    sub = nest(rows, include_body=False, max_depth=16, root_id=a)
    assert slugs(sub) == [("a", [("b", [])])]  # each node once
