"""Optimistic concurrency from the client: ETags of what it reads and
writes, `if_match=` on saves, updates and deletes, and `PreconditionFailed`
(412), never retried and never queued. Against a live server; the
HTTP-layer checks use httpx's MockTransport."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from creatoros_client import (
    ApiUnreachable,
    AsyncCreatorOS,
    Client,
    CreatorOS,
    PreconditionFailed,
    RetryPolicy,
)
from tests.client.conftest import LiveServer
from tests.factories import Creator

FAST = RetryPolicy(attempts=4, budget=5.0, base=0.01, cap=0.05)
PRECONDITION = {"type": "https://creatoros.dev/problems/precondition-failed",
                "title": "Precondition Failed", "status": 412, "detail": "changed"}  # fmt: skip


def test_save_course_if_match_refuses_a_tree_someone_else_changed(
    live: LiveServer, alice: Creator, courses: Path, tmp_path: Path
) -> None:
    api = CreatorOS(live.url, token=alice.token, outbox=tmp_path / "outbox.sqlite3")
    folder = courses / "claude-code"
    first = api.save_course(folder)
    assert first.status == "saved" and first.etag
    assert first.project_id is not None
    read = api.trees.get(first.project_id)
    assert read.etag == first.etag, "the save's ETag is the tree's"

    # Someone else edits a lesson: the tree moved on.
    assert read.tree is not None
    lesson = read.tree.nodes[0].children[0]
    other = CreatorOS(live.url, token=alice.token, outbox=False)
    other.contents.update(lesson.id, {"title": "Edited elsewhere"})
    moved = api.trees.get(first.project_id).etag

    with pytest.raises(PreconditionFailed) as refused:
        api.save_course(folder, if_match=first.etag)
    assert refused.value.status == 412
    assert refused.value.problem.type.endswith("/precondition-failed")
    assert api.trees.get(first.project_id).etag == moved, "nothing written"
    assert api.outbox.pending() == 0, "a 412 is never queued"

    again = api.save_course(folder, if_match=moved)
    assert again.status == "saved" and again.nodes.updated == 1
    assert again.etag == api.trees.get(first.project_id).etag
    chained = api.save_course(folder, if_match=again.etag)
    assert chained.status == "saved" and chained.etag == again.etag


def test_save_course_if_match_after_a_project_change_reports_the_new_etag(
    live: LiveServer, alice: Creator, courses: Path, tmp_path: Path
) -> None:
    api = CreatorOS(live.url, token=alice.token, outbox=False)
    folder = courses / "github-essencial"
    first = api.save_course(folder)
    (folder / ".metadata.json").write_text('{"edition": 2}', encoding="utf-8")
    second = api.save_course(folder, if_match=first.etag)
    assert second.status == "saved" and second.project == "updated"
    assert first.project_id is not None
    assert second.etag == api.trees.get(first.project_id).etag


def test_a_conditional_save_of_a_course_the_api_lacks_is_refused(
    live: LiveServer, alice: Creator, courses: Path
) -> None:
    api = CreatorOS(live.url, token=alice.token, outbox=False)
    with pytest.raises(PreconditionFailed):
        api.save_course(courses / "prompt-engineer", if_match='"anything"')
    assert api.projects.list(slug="prompt-engineer").items == []


def test_updates_and_deletes_take_the_etag_of_a_read_or_a_write(
    live: LiveServer, alice: Creator
) -> None:
    api = CreatorOS(live.url, token=alice.token, outbox=False)
    project = api.projects.create({"slug": "c", "name": "C", "project_type": "course"})
    content = api.contents.create(
        {"project_id": str(project.id), "slug": "l", "title": "L", "content_type": "course_lesson"}
    )
    for rows, made, change in (
        (api.contents, content, {"title": "new"}),
        (api.projects, project, {"description": "new"}),
    ):
        row_id = made.id
        read = rows.get(row_id)  # type: ignore[attr-defined]
        assert read.etag and made.etag == read.etag  # a create's answer is tagged too
        written = rows.update(row_id, change, if_match=read.etag)  # type: ignore[attr-defined]
        assert written.etag and written.etag != read.etag
        assert rows.get(row_id).etag == written.etag  # type: ignore[attr-defined]
        with pytest.raises(PreconditionFailed):
            rows.update(row_id, {**change}, if_match=read.etag)  # type: ignore[attr-defined]
        with pytest.raises(PreconditionFailed):
            rows.delete(row_id, if_match=read.etag)  # type: ignore[attr-defined]
        rows.delete(row_id, if_match=written.etag)  # type: ignore[attr-defined]


def test_the_async_client_takes_if_match_too(live: LiveServer, alice: Creator) -> None:
    async def go() -> None:
        async with AsyncCreatorOS(live.url, token=alice.token, outbox=False) as api:
            project = await api.projects.create(
                {"slug": "a", "name": "A", "project_type": "course"}
            )
            read = await api.projects.get(project.id)
            updated = await api.projects.update(project.id, {"name": "B"}, if_match=read.etag)
            with pytest.raises(PreconditionFailed):
                await api.projects.update(project.id, {"name": "C"}, if_match=read.etag)
            assert (await api.projects.get(project.id)).name == updated.name == "B"

    asyncio.run(go())


# ---- the HTTP layer ----------------------------------------------------------------------


def client_answering(answers: list[httpx.Response], seen: list[httpx.Request]) -> Client:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0) if len(answers) > 1 else answers[0]

    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://api")
    return Client("http://api", http=http, retry=FAST)


def test_a_412_is_raised_at_once_never_retried() -> None:
    seen: list[httpx.Request] = []
    api = client_answering([httpx.Response(412, json=PRECONDITION)], seen)
    with pytest.raises(PreconditionFailed) as failed:
        api.projects.update("x", {"name": "n"}, if_match='"v1"')
    assert failed.value.problem.detail == "changed" and not failed.value.transient
    assert len(seen) == 1
    assert seen[0].headers["if-match"] == '"v1"'


def test_a_conditional_patch_carries_a_key_and_is_retried_with_it() -> None:
    """A PATCH with If-Match is retried after a 503 with the same
    Idempotency-Key: if the first attempt went in, the API replays it
    instead of failing its now-stale If-Match."""
    seen: list[httpx.Request] = []
    api = client_answering([httpx.Response(503), httpx.Response(204)], seen)
    api.contents.delete("x", if_match='"v1"')
    assert len(seen) == 2
    keys = {r.headers["idempotency-key"] for r in seen}
    assert len(keys) == 1 and all(r.headers["if-match"] == '"v1"' for r in seen)


def test_a_conditional_save_is_never_queued(alice: Creator, courses: Path, tmp_path: Path) -> None:
    """With the API away, a save with if_match raises (its precondition is
    for now, not for whenever the outbox is flushed)."""
    api = CreatorOS("http://127.0.0.1:9", token=alice.token, outbox=tmp_path / "o.sqlite3",
                    retry=RetryPolicy(attempts=2, budget=1.0, base=0.01, cap=0.02))  # fmt: skip
    with pytest.raises(ApiUnreachable):
        api.save_course(courses / "claude-code", if_match='"v1"')
    assert api.outbox.pending() == 0
