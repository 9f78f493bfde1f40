"""The content hierarchy and the depth limit hold on every path that places a
content: create, patch (a new parent, a new type), move and the tree PUT, each
refusing with the same 422 problem and changing nothing."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import httpx

from app.contents.hierarchy import MAX_DEPTH
from app.http.problems import PROBLEM_TYPE_BASE
from tests.factories import Creator, new_project

INVALID_TREE = PROBLEM_TYPE_BASE + "invalid-tree"


def node(slug: str, content_type: str, *children: dict[str, Any]) -> dict[str, Any]:
    return {"slug": slug, "title": slug, "content_type": content_type, "children": list(children)}


def deep_chain(levels: int) -> dict[str, Any]:
    """`levels` articles, each the only child of the one above: d1 … d<levels>."""
    chain = node(f"d{levels}", "article")
    for level in range(levels - 1, 0, -1):
        chain = node(f"d{level}", "article", chain)
    return chain


# outline → module → lesson; a second module with two lessons; a 15-deep chain.
COURSE = [
    node("outline", "course_outline",
         node("m1", "course_module", node("l1", "course_lesson")),
         node("m2", "course_module", node("l2", "course_lesson"), node("l3", "course_lesson"))),
    deep_chain(MAX_DEPTH - 1),
]  # fmt: skip


class Course:
    """A project holding COURSE, its ids by slug, and how to read it whole."""

    def __init__(self, client: httpx.AsyncClient, who: Creator, project: str) -> None:
        self.client, self.who, self.project = client, who, project
        self.ids: dict[str, str] = {}

    async def write(self, nodes: list[dict[str, Any]]) -> httpx.Response:
        return await self.client.put(
            f"/v1/projects/{self.project}/tree", headers=self.who.headers, json={"nodes": nodes}
        )

    async def read(self) -> list[dict[str, Any]]:
        """Every live content of the project: what a refusal must leave as it was."""
        response = await self.client.get(
            "/v1/contents", headers=self.who.headers,
            params={"project_id": self.project, "limit": 100},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        return sorted(response.json()["items"], key=lambda c: c["slug"])

    async def create(self, slug: str, content_type: str, parent: str) -> httpx.Response:
        body = {"project_id": self.project, "slug": slug, "title": slug,
                "content_type": content_type, "parent_content_id": self.ids[parent]}  # fmt: skip
        return await self.client.post("/v1/contents", headers=self.who.headers, json=body)

    async def patch(self, slug: str, **changes: Any) -> httpx.Response:
        return await self.client.patch(
            f"/v1/contents/{self.ids[slug]}", headers=self.who.headers, json=changes
        )

    async def move(self, slug: str, parent: str | None) -> httpx.Response:
        return await self.client.post(
            f"/v1/contents/{self.ids[slug]}/move", headers=self.who.headers,
            json={"parent_id": parent and self.ids[parent]},
        )  # fmt: skip


async def course(client: httpx.AsyncClient, who: Creator) -> Course:
    written = Course(client, who, await new_project(client, who, "hierarchy"))
    response = await written.write(COURSE)
    assert response.status_code == 200, response.text
    written.ids = {c["slug"]: c["id"] for c in await written.read()}
    return written


def refusal(response: httpx.Response) -> list[tuple[list[Any], str, str]]:
    """A 422 invalid-tree problem's errors as (loc, type, msg)."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == INVALID_TREE, problem
    return [(e["loc"], e["type"], e["msg"]) for e in problem["errors"]]


async def refused_unchanged(
    tree: Course, attempt: Awaitable[httpx.Response]
) -> list[tuple[Any, ...]]:
    """The attempt's 422 errors, having checked that it changed nothing."""
    before = await tree.read()
    errors = refusal(await attempt)
    assert await tree.read() == before
    return errors


DEEPER = f"deeper than {MAX_DEPTH} levels"
LESSON_HOLDS_A_MODULE = "a course_lesson cannot contain a course_module"


async def test_create_checks_hierarchy_and_depth(client: httpx.AsyncClient, alice: Creator) -> None:
    tree = await course(client, alice)
    errors = await refused_unchanged(tree, tree.create("x", "course_module", "l1"))
    assert errors == [
        (["body", "content_type"], "invalid_hierarchy", LESSON_HOLDS_A_MODULE)
    ]  # fmt: skip

    deepest = await tree.create(f"d{MAX_DEPTH}", "article", f"d{MAX_DEPTH - 1}")
    assert deepest.status_code == 201, deepest.text  # the last level allowed
    tree.ids[f"d{MAX_DEPTH}"] = deepest.json()["id"]
    errors = await refused_unchanged(tree, tree.create("x", "article", f"d{MAX_DEPTH}"))
    assert errors == [(["body", "parent_content_id"], "too_deep", DEEPER)]

    ok = await tree.create("l4", "course_lesson", "m1")
    assert ok.status_code == 201, ok.text
    root = {"project_id": tree.project, "slug": "r", "title": "r", "content_type": "course_lesson"}
    created = await client.post("/v1/contents", headers=alice.headers, json=root)
    assert created.status_code == 201, created.text  # any type may be a root


async def test_patching_the_parent_checks_hierarchy_and_depth(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    tree = await course(client, alice)
    errors = await refused_unchanged(tree, tree.patch("l1", parent_content_id=tree.ids["l2"]))
    assert errors == [
        (["body", "parent_content_id"], "invalid_hierarchy",
         "a course_lesson cannot contain a course_lesson")
    ]  # fmt: skip
    # m2 is two levels high: under level 14 its lessons would be at 16, under 15 at 17.
    errors = await refused_unchanged(
        tree, tree.patch("m2", parent_content_id=tree.ids[f"d{MAX_DEPTH - 1}"])
    )
    assert errors == [(["body", "parent_content_id"], "too_deep", DEEPER)]

    ok = await tree.patch("m2", parent_content_id=tree.ids[f"d{MAX_DEPTH - 2}"])
    assert ok.status_code == 200, ok.text
    assert ok.json()["parent_content_id"] == tree.ids[f"d{MAX_DEPTH - 2}"]
    moved = await tree.patch("l1", parent_content_id=tree.ids["outline"])
    assert moved.status_code == 200, moved.text


async def test_patching_the_type_keeps_its_parent_and_children_allowed(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    tree = await course(client, alice)
    # m2's lessons cannot sit under a lesson.
    errors = await refused_unchanged(tree, tree.patch("m2", content_type="course_lesson"))
    assert errors == [
        (["body", "content_type"], "invalid_hierarchy",
         "a course_lesson cannot contain a course_lesson")
    ]  # fmt: skip
    # A module may not sit under a module.
    errors = await refused_unchanged(tree, tree.patch("l1", content_type="course_module"))
    assert errors == [
        (["body", "content_type"], "invalid_hierarchy",
         "a course_module cannot contain a course_module")
    ]  # fmt: skip
    # A new type and a new parent are checked together: a root book_part
    # still holds m2's lessons.
    errors = await refused_unchanged(
        tree, tree.patch("m2", content_type="book_part", parent_content_id=None)
    )
    assert errors == [
        (["body", "content_type"], "invalid_hierarchy",
         "a book_part cannot contain a course_lesson")
    ]  # fmt: skip

    outline = await tree.patch("m1", content_type="course_outline", parent_content_id=None)
    assert outline.status_code == 200, outline.text  # a root outline may hold its lesson
    essay = await tree.patch(f"d{MAX_DEPTH - 2}", content_type="essay")
    assert essay.status_code == 200, essay.text  # at level 14 of 15: the depth is not in question
    assert essay.json()["content_type"] == "essay"


async def test_move_checks_hierarchy_and_depth(client: httpx.AsyncClient, alice: Creator) -> None:
    tree = await course(client, alice)
    errors = await refused_unchanged(tree, tree.move("l1", "l2"))
    assert errors == [
        (["body", "parent_id"], "invalid_hierarchy",
         "a course_lesson cannot contain a course_lesson")
    ]  # fmt: skip
    errors = await refused_unchanged(tree, tree.move("m2", f"d{MAX_DEPTH - 1}"))
    assert errors == [(["body", "parent_id"], "too_deep", DEEPER)]

    for slug, parent in (("m2", f"d{MAX_DEPTH - 2}"), ("l1", "m2"), ("m1", None)):
        moved = await tree.move(slug, parent)
        assert moved.status_code == 204, moved.text
    after = {c["slug"]: c["parent_content_id"] for c in await tree.read()}
    assert after["m2"] == tree.ids[f"d{MAX_DEPTH - 2}"]
    assert after["l1"] == tree.ids["m2"]
    assert after["m1"] is None


async def test_the_tree_put_refuses_the_same_way(client: httpx.AsyncClient, alice: Creator) -> None:
    tree = await course(client, alice)
    broken = [
        node("outline", "course_outline", node("l1", "course_lesson", node("m", "course_module")))
    ]
    errors = await refused_unchanged(tree, tree.write(broken))
    assert errors == [
        (["body", "nodes", 0, "children", 0, "children", 0, "content_type"], "invalid_hierarchy",
         LESSON_HOLDS_A_MODULE)
    ]  # fmt: skip
    rewritten = await tree.write([node("outline", "course_outline", node("l1", "course_lesson"))])
    assert rewritten.status_code == 200, rewritten.text


async def test_every_path_names_one_violation_alike(
    client: httpx.AsyncClient, alice: Creator
) -> None:
    """A lesson holding a module, on each path that could make one: the same
    problem type, error type and message."""
    tree = await course(client, alice)
    attempts = {
        "tree PUT": lambda: tree.write([node("l", "course_lesson", node("m", "course_module"))]),
        "create": lambda: tree.create("m", "course_module", "l1"),
        "patch parent": lambda: tree.patch("m2", parent_content_id=tree.ids["l1"]),
        "patch type": lambda: tree.patch("outline", content_type="course_lesson"),
        "move": lambda: tree.move("m2", "l1"),
    }
    for path, attempt in attempts.items():
        errors = await refused_unchanged(tree, attempt())
        assert {(kind, msg) for _, kind, msg in errors} == {
            ("invalid_hierarchy", LESSON_HOLDS_A_MODULE)
        }, path
