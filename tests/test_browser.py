"""A real browser on another origin (issue 22): the CORS tests of
tests/test_limits.py check the headers the service sends; here headless
Chromium enforces them — preflights, exposed headers, conditional requests —
on a page served from a second origin, as a frontend meets the API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from app.settings import Settings
from tests.chromium import chromium_page, page_origin
from tests.factories import Creator, lesson, new_project, publish, write_tree
from tests.live import LiveServer

PAGE_DIR = Path(__file__).resolve().parent / "fixtures" / "browser"


def outline(*lessons: str, title: str = "Outline") -> list[dict[str, Any]]:
    """A course tree: an outline and its lessons."""
    children = [{"slug": s, "title": s.upper(), "content_type": "course_lesson"} for s in lessons]
    return [{"slug": "outline", "title": title, "content_type": "course_outline",
             "children": children}]  # fmt: skip


async def test_a_page_on_another_origin_reads_revalidates_and_saves_with_fetch(
    settings: Settings, api_url: str, client: httpx.AsyncClient, alice: Creator
) -> None:
    public = await new_project(client, alice, "public")
    published = await write_tree(client, alice, public, outline("l1"))
    await publish(client, alice, published["nodes"][0]["id"])
    draft = await new_project(client, alice, "draft")
    await write_tree(client, alice, draft, outline("l1"))

    with page_origin(PAGE_DIR) as origin:
        server = LiveServer(settings.model_copy(update={"cors_origins": [origin]}), api_url)
        server.start()
        try:
            config = {
                "api": server.url,
                "token": alice.token,
                "publicProject": public,
                "privateProject": draft,
                "requestId": f"page-{uuid.uuid4().hex}",
                "keys": {name: str(uuid.uuid4()) for name in ("create", "save", "stale")},
                "lesson": lesson(draft, "from-the-page"),
                "saved": {"nodes": outline("l1", "l2", title="Saved by the page")},
                "stale": {"nodes": outline("l1", title="A stale save")},
            }
            async with chromium_page() as page:
                await page.open(f"{origin}/page.html")
                seen = await page.evaluate(f"scenario({json.dumps(config)})")
        finally:
            server.stop()

    # The POST and its retry with the same key: one row, its Location readable.
    created, replayed = seen["created"], seen["replayed"]
    assert created["status"] == 201, created
    assert created["location"].endswith(f"/v1/contents/{created['body']['id']}")
    assert (replayed["status"], replayed["body"]["id"]) == (201, created["body"]["id"])

    # Reads: the validator and the request id are readable across origins.
    anon, token = seen["anonTree"], seen["tokenTree"]
    assert anon["status"] == 200 and anon["body"]["nodes"][0]["slug"] == "outline", anon
    assert anon["etag"] and anon["requestId"]
    assert token["status"] == 200, token
    assert token["requestId"] == config["requestId"]  # the page's own id, echoed
    assert token["etag"] and token["etag"] != anon["etag"]
    # Who may keep it: anyone's copy of a public page, only the reader's of a draft.
    assert anon["cacheControl"].startswith("public, "), anon
    assert token["cacheControl"] == "private, no-cache"
    # Revalidated: a 304 reaches the script, with the same validator.
    for again, first in ((seen["anonAgain"], anon), (seen["tokenAgain"], token)):
        assert again["status"] == 304, again
        assert again["etag"] == first["etag"]
        assert again["requestId"] and again["requestId"] != first["requestId"]

    # The editor's save holds the ETag it read: written; its retry with the
    # same key: the same answer again; another save with that ETag: 412.
    saved, retried, stale = seen["saved"], seen["retried"], seen["stale"]
    assert saved["status"] == 200, saved
    assert saved["etag"] and saved["etag"] != token["etag"]
    assert (retried["status"], retried["etag"], retried["body"]) == (
        200,
        saved["etag"],
        saved["body"],
    ), retried
    assert stale["status"] == 412, stale
    assert stale["body"]["type"].endswith("precondition-failed"), stale
    assert stale["requestId"]
    assert seen["afterSave"]["status"] == 200  # the old ETag no longer matches
    tree = (await client.get(f"/v1/projects/{draft}/tree", headers=alice.headers)).json()
    root = next(node for node in tree["nodes"] if node["slug"] == "outline")
    assert root["title"] == "Saved by the page"
    assert [node["slug"] for node in root["children"]] == ["l1", "l2"]
    drafts = await client.get("/v1/contents", headers=alice.headers, params={"project_id": draft})
    assert [c["slug"] for c in drafts.json()["items"]].count("from-the-page") == 1
