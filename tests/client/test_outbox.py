"""The durable outbox: the API goes away mid-run, saves are queued, another
process sees them, and a flush after the restart delivers each exactly once."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import creatoros_client.creatoros as flows
from app.auth import SERVICE
from app.db.tenancy import tenant_transaction
from creatoros_client import CreatorOS, RetryPolicy, read_course
from creatoros_client.outbox import Account, Entry, OutboxStore
from tests.client.conftest import COURSES, LiveServer
from tests.factories import Creator

QUICK = RetryPolicy(budget=1.0)  # the default (20 s) would make this test slow


async def stored(engine: AsyncEngine) -> dict[str, tuple[int, int, int]]:
    """Per project slug: projects with it, their live contents, their reports."""
    async with tenant_transaction(engine, SERVICE, read_only=True) as conn:
        rows = await conn.execute(
            text(
                "SELECT p.slug, count(DISTINCT p.id),"
                " (SELECT count(*) FROM contents c WHERE c.project_id = min(p.id::text)::uuid"
                "   AND c.deleted_at IS NULL),"
                " (SELECT count(*) FROM market_research r"
                "   WHERE r.project_id = min(p.id::text)::uuid)"
                " FROM content_projects p GROUP BY p.slug"
            )
        )
        return {row[0]: (row[1], row[2], row[3]) for row in rows}


def pending_in_another_process(outbox: Path) -> int:
    out = subprocess.run(
        [sys.executable, "-c",
         "import sys; from creatoros_client import OutboxStore;"
         " print(OutboxStore(sys.argv[1]).pending())", str(outbox)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return int(out.stdout)


def expected(courses: Path, name: str) -> tuple[int, int, int]:
    plan = read_course(courses / name)
    nodes = 0
    stack = list(plan.nodes)
    while stack:
        node = stack.pop()
        nodes += 1
        stack += node.children
    return (1, nodes, len(plan.research))


async def test_api_stopped_midway_saves_queue_then_flush_exactly_once(
    live: LiveServer, alice: Creator, courses: Path, tmp_path: Path, engine: AsyncEngine
) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    api = CreatorOS(live.url, token=alice.token, outbox=outbox, retry=QUICK)
    assert api.save_course(courses / "claude-code").status == "saved"

    live.stop()
    started = time.monotonic()
    queued = [api.save_course(courses / name) for name in COURSES[1:]]
    took = time.monotonic() - started
    assert [r.status for r in queued] == ["queued", "queued"]
    assert all(r.reason and r.outbox_id for r in queued)
    assert took < 2 * (QUICK.budget + 1.5), f"queueing took {took:.1f}s"
    assert api.outbox.pending() == 2
    assert pending_in_another_process(outbox) == 2
    before_crash = tmp_path / "outbox-before-flush.sqlite3"
    shutil.copy(outbox, before_crash)

    # Still down: a flush stops at the first entry and keeps both.
    failed = api.outbox.flush()
    assert not failed.ok and failed.pending == 2 and failed.delivered == []
    assert "github-essencial" in (failed.failed or "")

    live.start()
    flushed = api.outbox.flush()
    assert flushed.ok, flushed
    assert [d.split()[2] for d in flushed.delivered] == ["github-essencial", "prompt-engineer"]
    assert flushed.pending == 0 and pending_in_another_process(outbox) == 0
    want = {name: expected(courses, name) for name in COURSES}
    assert await stored(engine) == want

    # A crash after delivering but before removing: the same entries again.
    shutil.copy(before_crash, outbox)
    assert api.outbox.flush().ok
    assert await stored(engine) == want, "delivered twice, written once"


def queued_while_down(
    live: LiveServer, alice: Creator, tmp_path: Path, project: dict[str, str]
) -> tuple[CreatorOS, Path]:
    """A client with an outbox of its own, and one project POST it queued
    while the API was down (the server is left stopped)."""
    outbox = tmp_path / "outbox.sqlite3"
    api = CreatorOS(live.url, token=alice.token, outbox=outbox, retry=QUICK)
    live.stop()
    assert api.write("POST", "/v1/projects", project).status == "queued"
    return api, outbox


async def test_a_queued_post_is_written_once(
    live: LiveServer, alice: Creator, tmp_path: Path, engine: AsyncEngine
) -> None:
    body = {"slug": "queued", "name": "Queued", "project_type": "book"}
    api, outbox = queued_while_down(live, alice, tmp_path, body)
    copy = tmp_path / "copy.sqlite3"
    shutil.copy(outbox, copy)
    live.start()
    assert api.outbox.flush().ok
    # Delivered again (as after a crash): the key replays the first answer,
    # instead of a second project or a 409 on its slug.
    shutil.copy(copy, outbox)
    assert api.outbox.flush().ok
    assert (await stored(engine))["queued"][0] == 1
    done = api.write("POST", "/v1/projects", {**body, "slug": "direct"})
    assert done.status == "done" and done.body["slug"] == "direct"


def test_the_default_retry_budget_queues_within_30_seconds() -> None:
    # Requests are clipped to what is left of the budget (at least 0.5 s), so
    # giving up takes at most the budget plus that: the test above shows it
    # with a 1 s budget.
    policy = RetryPolicy()
    assert policy.budget + 0.5 < 30
    assert policy.attempts >= 2


def test_the_outbox_defaults_to_one_file_per_account(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("CREATOROS_OUTBOX", raising=False)
    account = Account("http://127.0.0.1:8000", "user-1")
    store = OutboxStore(account=account)
    assert store.path == tmp_path / "data" / "creatoros" / "outboxes" / f"{account.key}.sqlite3"
    assert store.pending() == 0
    api = CreatorOS("http://127.0.0.1:8000/", token=None)
    assert api.outbox.store is not None and api.outbox.store.account == Account(account.api)
    # No account: the former single file (which older clients wrote).
    assert OutboxStore().path == tmp_path / "data" / "creatoros" / "outbox.sqlite3"
    monkeypatch.setenv("CREATOROS_OUTBOX", str(tmp_path / "mine.sqlite3"))
    assert OutboxStore(account=account).path == tmp_path / "mine.sqlite3"


HOLD_LOCK = """
import sys, time
from creatoros_client import OutboxStore
with OutboxStore(sys.argv[1]).flushing() as mine:
    print("held" if mine else "busy", flush=True)
    time.sleep(120)
"""


async def test_one_flush_at_a_time_and_a_dead_holder_frees_the_outbox(
    live: LiveServer, alice: Creator, tmp_path: Path, engine: AsyncEngine
) -> None:
    body = {"slug": "locked", "name": "Locked", "project_type": "book"}
    api, outbox = queued_while_down(live, alice, tmp_path, body)
    live.start()

    # Another process is flushing: this flush attempts nothing and says so,
    # and a new write queues behind the waiting one instead of overtaking it.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(outbox)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        busy = api.outbox.flush()
        assert busy.busy and not busy.ok and busy.delivered == [] and busy.pending == 1
        later = api.write("POST", "/v1/projects", {**body, "slug": "later"})
        assert later.status == "queued" and "another process is flushing" in (later.reason or "")
        assert "locked" not in await stored(engine)
    finally:
        holder.kill()  # as if it crashed: the OS drops its lock
        holder.wait(timeout=10)

    flushed = api.outbox.flush()
    assert flushed.ok and flushed.pending == 0 and len(flushed.delivered) == 2
    assert {"locked", "later"} <= set(await stored(engine))


def test_a_flush_delivers_what_is_queued_while_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The running flush keeps going until the outbox is empty, so a write
    queued behind a busy outbox is not stranded. (No HTTP here: delivering
    an entry is replaced by a flow that records it.)"""
    store = OutboxStore(tmp_path / "outbox.sqlite3")
    store.add("write", "first", {}, "down")
    seen: list[str] = []

    def deliver(entry: Entry) -> Iterator[Any]:
        seen.append(entry.summary)
        if entry.summary == "first":  # another process queues meanwhile
            store.add("write", "second", {}, "busy")
        yield from ()

    monkeypatch.setattr(flows, "_entry_flow", deliver)
    flow = flows.flush_flow(store)
    with pytest.raises(StopIteration) as done:
        next(flow)
    result = done.value.value
    assert seen == ["first", "second"]
    assert result.ok and result.delivered == ["first", "second"] and store.pending() == 0
