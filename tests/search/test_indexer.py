"""The search indexer (migration 0008): tree writes defer their rows'
indexing; the indexer indexes them without editing them, never stale, and
shares the work between processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import SERVICE
from app.db.tenancy import tenant_transaction
from app.main import create_app
from app.search.indexer import INDEX_DEFERRED, index_batch, index_deferred
from app.settings import Settings
from app.trees.sql import DEFER_INDEXING, DEFER_INDEXING_MAX_BYTES
from tests.factories import Creator, new_project, put_tree, write_tree
from tests.helpers import EXPLAIN_NESTED, client_for, count_deferred, gauge, hits, superuser
from tests.trees.courses import course_payload

ROWS = text(
    "SELECT id, updated_at, search_deferred FROM contents WHERE project_id = :project ORDER BY id"
)


async def rows_of(engine: AsyncEngine, project: str) -> list[Any]:
    async with tenant_transaction(engine, SERVICE, read_only=True) as conn:
        return list(await conn.execute(ROWS, {"project": project}))


async def written_course(client: httpx.AsyncClient, who: Creator) -> str:
    project = await new_project(client, who, "claude-code")
    await write_tree(client, who, project, course_payload("claude-code"))
    return project


async def test_indexing_is_not_an_edit(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator
) -> None:
    """A tree write defers every row it writes; indexing them keeps their
    updated_at, so the tree's ETag does not change (a 304 stays a 304)."""
    project = await written_course(client, alice)
    before = await rows_of(engine, project)
    assert before and all(row.search_deferred for row in before)
    url = f"/v1/projects/{project}/tree"
    etag = (await client.get(url, headers=alice.headers)).headers["etag"]

    assert await index_deferred(engine, batch_size=7) == len(before)

    after = await rows_of(engine, project)
    assert [(r.id, r.updated_at) for r in after] == [(r.id, r.updated_at) for r in before]
    assert not any(row.search_deferred for row in after)
    again = await client.get(url, headers={**alice.headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert await index_deferred(engine, batch_size=7) == 0


async def test_an_edit_of_a_deferred_row_is_indexed_as_edited(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator
) -> None:
    """A content edited (PATCH) while its indexing waits is indexed with its
    new words, and an edit still bumps updated_at."""
    project = await written_course(client, alice)
    (lesson, *_) = await hits(client, alice, "claude")
    edited = await client.patch(
        f"/v1/contents/{lesson['id']}", headers=alice.headers,
        json={"title": "Xilofone quântico"},
    )  # fmt: skip
    assert edited.status_code == 200, edited.text
    found = [item["id"] for item in await hits(client, alice, "xilofone quantico")]
    assert found == [lesson["id"]]  # deferred: its document built on the fly

    await index_deferred(engine, batch_size=500)
    assert await count_deferred(engine) == 0
    found = [item["id"] for item in await hits(client, alice, "xilofone quantico")]
    assert found == [lesson["id"]]  # indexed: through the GIN index

    # An edit that also clears the flag by hand is still an edit.
    (row,) = [r for r in await rows_of(engine, project) if str(r.id) == lesson["id"]]
    async with tenant_transaction(engine, alice.principal, read_only=False) as conn:
        await conn.execute(
            text("UPDATE contents SET title = 'Outro', search_deferred = false WHERE id = :id"),
            {"id": lesson["id"]},
        )
    (edited_row,) = [r for r in await rows_of(engine, project) if str(r.id) == lesson["id"]]
    assert edited_row.updated_at > row.updated_at


async def test_a_row_locked_by_a_write_is_left_for_the_next_batch(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator
) -> None:
    """Indexers (one per API process) claim rows with SKIP LOCKED: a row that
    a write (or another indexer) holds is not waited for, but indexed later."""
    project = await written_course(client, alice)
    total = len(await rows_of(engine, project))
    async with tenant_transaction(engine, alice.principal, read_only=False) as conn:
        await conn.execute(
            text("SELECT id FROM contents WHERE project_id = :p ORDER BY id LIMIT 1 FOR UPDATE"),
            {"p": project},
        )
        indexed = await asyncio.wait_for(index_deferred(engine, batch_size=500), timeout=10)
        assert indexed == total - 1
    assert await index_batch(engine, 500) == 1
    assert await count_deferred(engine) == 0


async def test_only_service_role_may_run_the_indexer(engine: AsyncEngine, alice: Creator) -> None:
    """It updates every tenant's rows (SECURITY DEFINER): no API caller but
    service_role may call it."""
    with pytest.raises(DBAPIError, match="permission denied"):
        async with tenant_transaction(engine, alice.principal, read_only=False) as conn:
            await conn.execute(text("SELECT creatoros_internal.index_deferred_search(10)"))


@pytest.fixture
async def indexing_client(settings: Settings, api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its background indexer on (as deployed)."""
    on = settings.model_copy(update={"search_index_interval": 30.0})
    async for c in client_for(create_app(on, database_url=api_url)):
        yield c


async def test_the_app_indexes_after_each_tree_write(
    indexing_client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator
) -> None:
    """The PUT wakes the indexer once it has answered: the rows are indexed
    long before the 30 s sweep would, and the metric counts them."""
    before = await indexed_so_far(indexing_client)
    project = await written_course(indexing_client, alice)
    total = len(await rows_of(engine, project))
    for _ in range(100):
        if await count_deferred(engine) == 0:
            break
        await asyncio.sleep(0.05)
    assert await count_deferred(engine) == 0
    assert await indexed_so_far(indexing_client) - before == total


async def indexed_so_far(client: httpx.AsyncClient) -> float:
    """The process's `creatoros_search_indexed_total` (it counts every indexer
    of this test process, so tests compare it before and after)."""
    return gauge((await client.get("/metrics")).text, "search_indexed_total")


# 200,000 distinct words: ~1.6 MB, under the API's limits, but more distinct
# words than a tsvector holds (1 MB): no search document can be built.
UNINDEXABLE = " ".join(f"w{n * 7919:x}" for n in range(200_000))


async def test_a_body_too_big_to_index_is_a_422_and_writes_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Creator
) -> None:
    """Such a body is refused when written, never left to fail the indexer
    (and every search) later: a tree write indexes big bodies in its own
    statement (see `DEFER_INDEXING_MAX_BYTES`), and a content POST always does."""
    project = await new_project(client, alice, "claude-code")
    posted = await client.post(
        "/v1/contents", headers=alice.headers,
        json={"project_id": project, "slug": "huge", "title": "Huge",
              "content_type": "course_lesson", "content": UNINDEXABLE},
    )  # fmt: skip
    assert posted.status_code == 422, posted.text
    assert posted.json()["detail"] == "a value is too large for the database to store or index"
    node = {"slug": "huge", "title": "Huge", "content_type": "course_outline"}
    put = await put_tree(client, alice, project, [{**node, "content": UNINDEXABLE}])
    assert put.status_code == 422, put.text
    assert await rows_of(engine, project) == []

    # Just above the threshold: indexed in the write; just below: deferred.
    small = "palavra " * (DEFER_INDEXING_MAX_BYTES // 8)
    big = small + "mais"
    for body, deferred in ((small, True), (big, False)):
        put = await put_tree(client, alice, project, [{**node, "content": body}])
        assert put.status_code == 200, put.text
        assert [row.search_deferred for row in await rows_of(engine, project)] == [deferred]


async def test_a_batch_probes_its_rows_whatever_the_statistics_say(
    client: httpx.AsyncClient, database: str, engine: AsyncEngine, alice: Creator
) -> None:
    """Statistics taken while no row was deferred (any quiet moment) must not
    turn a batch into a loop over every deferred row per claimed row (seen:
    0.45 s per batch of 500 out of 5,000): auto_explain shows the batch's
    UPDATE probing the claimed ids, with no join filter."""
    project = await new_project(client, alice, "claude-code")
    async with superuser(database) as admin:
        await admin.conn.execute(
            "INSERT INTO contents (project_id, slug, title, content_type, content)"
            " SELECT $1::uuid, 'n-' || g, 'Lição ' || g, 'course_lesson', 'texto ' || g"
            " FROM generate_series(1, 5000) g",
            project,
        )
        await admin.conn.execute("ANALYZE contents")  # none deferred
        # Rewritten as a tree write rewrites them: deferred.
        async with admin.conn.transaction():
            await admin.conn.execute(DEFER_INDEXING)
            await admin.conn.execute(
                "UPDATE contents SET content = content || ' mais' WHERE random() < 0.2"
            )
        async with admin.conn.transaction():
            await admin.conn.execute(EXPLAIN_NESTED)
            assert await admin.conn.fetchval(INDEX_DEFERRED, 10) == 10
    (update,) = [plan for plan in admin.plans if "UPDATE public.contents" in plan]
    assert "Index Cond: (id = ANY" in update, update
    assert "Join Filter" not in update and "Seq Scan" not in update, update
