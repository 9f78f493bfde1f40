"""`iter_projects()`, `iter_contents()` and `iter_search()` walk every page,
following the cursors, in both flavours of the client."""

from __future__ import annotations

import pytest

from creatoros_client import AsyncClient, Client, ContentType, resources
from tests.factories import Creator
from tests.live import LiveServer


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 2, so five rows take three requests."""
    monkeypatch.setattr(resources, "PAGE_SIZE", 2)


def make_rows(api: Client) -> str:
    """Five projects, five lessons in the first: returns that project's id."""
    projects = [
        api.projects.create({"slug": f"p{i}", "name": f"P{i}", "project_type": "course"})
        for i in range(5)
    ]
    for i in range(5):
        body = f"# Lição {i}\nconfiguração de hooks número {i}"
        api.contents.create({"project_id": str(projects[0].id), "slug": f"l{i}",
                             "title": f"Lição {i}", "content_type": ContentType.course_lesson,
                             "content": body})  # fmt: skip
    return str(projects[0].id)


def test_the_iterators_follow_the_cursors(
    live: LiveServer, alice: Creator, small_pages: None
) -> None:
    with Client(live.url, token=alice.token) as api:
        project = make_rows(api)
        assert sorted(p.slug for p in api.iter_projects()) == [f"p{i}" for i in range(5)]
        assert sorted(c.slug for c in api.iter_contents(project_id=project)) == [
            f"l{i}" for i in range(5)
        ]
        hits = list(api.iter_search("configuracao hooks"))
        assert sorted(h.title for h in hits) == [f"Lição {i}" for i in range(5)]
        assert len(api.search("configuracao hooks", limit=2).items) == 2  # so it paged


async def test_the_async_iterators_follow_the_cursors(
    live: LiveServer, alice: Creator, small_pages: None
) -> None:
    with Client(live.url, token=alice.token) as api:
        project = make_rows(api)
    async with AsyncClient(live.url, token=alice.token) as api_:
        assert sorted([p.slug async for p in api_.iter_projects()]) == [f"p{i}" for i in range(5)]
        contents = [c.slug async for c in api_.iter_contents(project_id=project)]
        assert sorted(contents) == [f"l{i}" for i in range(5)]
        hits = [h.title async for h in api_.iter_search("configuracao hooks")]
        assert sorted(hits) == [f"Lição {i}" for i in range(5)]
