"""`save_course` against a live server: the three real folders in and back out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from creatoros_client import ApiError, AsyncCreatorOS, CreatorOS, read_course
from creatoros_client.models import TreeNode
from tests.client.conftest import COURSES, LiveServer
from tests.factories import Creator


def flat(nodes: list[TreeNode]) -> list[TreeNode]:
    out: list[TreeNode] = []
    for node in nodes:
        out.append(node)
        out += flat(node.children)
    return out


def lesson_files(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "lessons").rglob("*.md"))


def test_three_courses_saved_and_read_back(
    live: LiveServer, alice: Creator, courses: Path, tmp_path: Path
) -> None:
    api = CreatorOS(live.url, token=alice.token, outbox=tmp_path / "outbox.sqlite3")
    results = {name: api.save_course(courses / name) for name in COURSES}
    for result in results.values():
        assert result.status == "saved", result
        assert result.project == "created"
        assert result.warnings == []
        assert result.nodes.created > 0 and result.nodes.updated == result.nodes.unchanged == 0

    for name in COURSES:
        folder = courses / name
        project = api.projects.list(slug=name).items[0]
        read = api.trees.get(project.id, include_body=True)
        assert read.tree is not None
        nodes = flat(read.tree.nodes)
        by_path = {n.file_path: n for n in nodes if n.file_path}
        # Every lesson file is a node: same body, byte for byte (as text).
        for path in lesson_files(folder):
            rel = path.relative_to(folder).as_posix()
            assert rel in by_path, f"{name}: {rel} missing"
            assert by_path[rel].content == path.read_text(encoding="utf-8"), rel
            assert by_path[rel].content_type == "course_lesson"
        # In order: modules by number, lessons N.M within them, bonus files after.
        lessons = [n.file_path for n in nodes if n.content_type == "course_lesson"]
        numbered = [p for p in lessons if p and p.split("/")[-1][0].isdigit()]
        key = [tuple(int(x) for x in p.split("/")[-1].split("-")[0].split(".")) for p in numbered]
        assert key == sorted(key), f"{name}: lessons out of order"
        assert lessons[: len(numbered)] == numbered
        # Everything else the folder holds is there too: nothing dropped.
        on_disk = {
            p.relative_to(folder).as_posix()
            for p in folder.rglob("*")
            if p.is_file() and not p.relative_to(folder).as_posix().startswith("research/")
        }
        assert on_disk == set(by_path), f"{name}: {on_disk ^ set(by_path)}"
        assert "curriculum" in read.tree.project.project_metadata
        # Reports under research/ are market research entries.
        reports = api.market_research.list(project_id=project.id).items
        assert (
            sorted(r.report_data["source_file"] for r in reports)
            == sorted(p.relative_to(folder).as_posix() for p in (folder / "research").glob("*"))
            if (folder / "research").is_dir()
            else reports == []
        )

    claude = api.projects.list(slug="claude-code").items[0]
    assert claude.project_metadata["persona"]["mind_slug"] == "jose_amorim"
    assert len(api.market_research.list(project_id=claude.id).items) == 4


def test_a_resave_changes_nothing(live: LiveServer, alice: Creator, courses: Path) -> None:
    api = CreatorOS(live.url, token=alice.token, outbox=False)
    folder = courses / "claude-code"
    first = api.save_course(folder)
    before = api.trees.get(first.project_id)  # type: ignore[arg-type]
    assert before.tree is not None
    ids = {n.slug: n.id for n in flat(before.tree.nodes)}

    again = api.save_course(folder)
    assert again.project == "unchanged"
    assert again.nodes.created == again.nodes.updated == 0
    assert again.nodes.unchanged == len(ids)
    assert again.research.created == again.research.updated == 0
    assert again.research.unchanged == 4
    after = api.trees.get(first.project_id, etag=before.etag)  # type: ignore[arg-type]
    assert after.tree is None, "304: the tree (and its project) are exactly as they were"
    assert after.etag == before.etag == again.etag
    assert len(api.market_research.list(project_id=first.project_id).items) == 4  # type: ignore[arg-type]

    # A lesson edited on disk: updated in place, same id.
    lesson = folder / "lessons" / "1.2-setup-rapido.md"
    lesson.write_text(lesson.read_text(encoding="utf-8") + "\nMais uma linha.\n", encoding="utf-8")
    edited = api.save_course(folder)
    assert edited.nodes.updated == 1 and edited.nodes.created == 0
    tree = api.trees.get(first.project_id).tree  # type: ignore[arg-type]
    assert tree is not None
    assert {n.slug: n.id for n in flat(tree.nodes)} == ids


async def test_the_async_flavour_saves_too(live: LiveServer, alice: Creator, courses: Path) -> None:
    async with AsyncCreatorOS(live.url, token=lambda: alice.token, outbox=False) as api:
        result = await api.save_course(courses / "prompt-engineer")
        assert result.status == "saved"
        me = await api.minds.me()
        assert me.mind_id == alice.mind_id
        page = await api.projects.list(slug="prompt-engineer")
        tree = (await api.trees.get(page.items[0].id)).tree
        assert tree is not None
        assert sum(n.content_type == "course_lesson" for n in flat(tree.nodes)) == 12


def test_401_and_422_raise_and_queue_nothing(
    live: LiveServer, alice: Creator, courses: Path, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    intruder = CreatorOS(live.url, token="not-a-token", outbox=outbox)
    with pytest.raises(ApiError) as refused:
        intruder.save_course(courses / "github-essencial")
    assert refused.value.status == 401
    assert refused.value.problem.type.endswith("invalid-token")
    assert intruder.outbox.pending() == 0

    api = CreatorOS(live.url, token=alice.token, outbox=outbox)
    plan = read_course(courses / "github-essencial")
    bad: dict[str, Any] = {"slug": "x", "title": "A module in a lesson",
                           "content_type": "course_module"}  # fmt: skip
    plan.lessons()[0].children = [plan.nodes[0].model_validate(bad)]
    with pytest.raises(ApiError) as invalid:
        api.save_plan(plan)
    assert invalid.value.status == 422
    assert invalid.value.problem.errors, "the problem says which node is wrong"
    assert api.outbox.pending() == 0


def test_a_folder_name_becomes_a_valid_slug(
    live: LiveServer, alice: Creator, courses: Path
) -> None:
    renamed = courses / "My_Course"
    (courses / "prompt-engineer").rename(renamed)
    result = CreatorOS(live.url, token=alice.token, outbox=False).save_course(renamed)
    assert result.course == "my-course"
    assert result.status == "saved"


def test_a_saved_course_is_found_by_search_through_the_client(
    live: LiveServer, alice: Creator, bob: Creator, courses: Path
) -> None:
    api = CreatorOS(live.url, token=alice.token, outbox=False)
    assert api.save_course(courses / "github-essencial").status == "saved"

    page = api.search("instalacao", limit=5)  # no accent, as people type
    assert page.items, "the lesson about installation was not found"
    by_file = {hit.file_path: hit for hit in page.items}
    assert by_file["lessons/1.2-instalacao-config.md"].rank > 0  # its title says it
    ranks = [hit.rank for hit in page.items]
    assert ranks == sorted(ranks, reverse=True)
    # Another creator does not see alice's drafts.
    assert CreatorOS(live.url, token=bob.token, outbox=False).search("instalacao").items == []
