"""`CreatorOS` / `AsyncCreatorOS`: the client plus what a generation script
needs on top — `save_course(folder)` and the durable outbox.

    from creatoros_client import CreatorOS
    api = CreatorOS("https://api.example", token=TOKEN, outbox="~/.creatoros/outbox.sqlite3")
    result = api.save_course("outputs/courses/claude-code")
    print(result.status, result.nodes)          # saved / queued, what changed

The flows (saving, queueing, flushing) are generators shared by both
flavours; each class only supplies its runner.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel

from creatoros_client._core import (
    IDEMPOTENCY_HEADER,
    Call,
    CreatorOSError,
    Flow,
    RetryPolicy,
    TokenSource,
    is_transient,
    new_idempotency_key,
)
from creatoros_client.client import AsyncClient, Client
from creatoros_client.course import CoursePlan, read_course
from creatoros_client.outbox import Entry, FlushResult, OutboxStore
from creatoros_client.persist import SaveResult, save_course_flow

T = TypeVar("T")
OutboxPath = str | os.PathLike[str] | None | Literal[False]


class WriteResult(BaseModel):
    """A write made through the outbox: `done` with the answer's body, or `queued`."""

    status: Literal["done", "queued"]
    body: Any = None
    outbox_id: int | None = None
    reason: str | None = None


def _json_or_none(response: httpx.Response) -> Any:
    return response.json() if response.content else None


def _request_call(payload: dict[str, Any]) -> Call[Any]:
    return Call(
        payload["method"],
        payload["path"],
        _json_or_none,
        json=payload.get("json"),
        headers=payload.get("headers") or {},
    )


def _entry_flow(entry: Entry) -> Flow[Any]:
    if entry.kind == "save_course":
        plan = CoursePlan.model_validate(entry.payload["plan"])
        return (yield from save_course_flow(plan, prune=bool(entry.payload.get("prune"))))
    if entry.kind == "request":
        return (yield _request_call(entry.payload))
    raise ValueError(f"outbox entry {entry.id} has an unknown kind {entry.kind!r}")


def flush_flow(store: OutboxStore) -> Flow[FlushResult]:
    """Deliver the queued entries oldest first; stop at the first failure.
    Entries queued while it runs (by this or another process) are delivered
    too: it stops when the outbox is empty."""
    with store.flushing() as mine:
        if not mine:
            return FlushResult(delivered=[], pending=store.pending(), busy=True, error=BUSY)
        delivered: list[str] = []
        while entries := store.entries():
            for entry in entries:
                try:
                    yield from _entry_flow(entry)
                except CreatorOSError as exc:
                    store.failed(entry.id, str(exc))
                    return FlushResult(
                        delivered=delivered,
                        pending=store.pending(),
                        failed=entry.summary,
                        error=str(exc),
                    )
                store.remove(entry.id)
                delivered.append(entry.summary)
        return FlushResult(delivered=delivered, pending=0)


BUSY = "another process is flushing this outbox; it delivers what is queued"


def _queueing(
    store: OutboxStore | None,
    kind: str,
    summary: str,
    payload: dict[str, Any],
    flow: Flow[T],
    queued: Callable[[int, str], T],
) -> Flow[T]:
    """Run `flow`; if the API cannot take it (unreachable, 5xx or 429 after
    the retries), store it and answer `queued(...)` instead. A 4xx is the
    caller's bug: raised, never queued. Writes stay in order: with entries
    already waiting, those go first, and if they cannot, this one queues
    behind them."""
    if store is None:
        return (yield from flow)
    if store.pending():
        flushed = yield from flush_flow(store)
        if not flushed.ok:
            flow.close()
            reason = f"behind {flushed.pending} queued: {flushed.error}"
            return queued(store.add(kind, summary, payload, reason), reason)
    try:
        return (yield from flow)
    except CreatorOSError as exc:
        if not is_transient(exc):
            raise
        return queued(store.add(kind, summary, payload, str(exc)), str(exc))


def _save_flow(
    store: OutboxStore | None, plan: CoursePlan, prune: bool, dry_run: bool
) -> Flow[SaveResult]:
    flow = save_course_flow(plan, prune=prune, dry_run=dry_run)
    if dry_run:
        return (yield from flow)  # a plan is read, never queued

    def queued(outbox_id: int, reason: str) -> SaveResult:
        return SaveResult(
            course=plan.slug, folder=plan.folder, status="queued", warnings=list(plan.warnings),
            outbox_id=outbox_id, reason=reason,
        )  # fmt: skip

    payload = {"plan": plan.model_dump(mode="json"), "prune": prune}
    summary = f"save course {plan.slug} ({plan.folder})"
    return (yield from _queueing(store, "save_course", summary, payload, flow, queued))


def _write_flow(store: OutboxStore | None, method: str, path: str, json: Any) -> Flow[WriteResult]:
    method = method.upper()
    # The key is fixed now, so a queued POST delivered twice is written once.
    headers = {IDEMPOTENCY_HEADER: new_idempotency_key()} if method == "POST" else {}
    payload = {"method": method, "path": path, "json": json, "headers": headers}

    def done() -> Flow[WriteResult]:
        body = yield _request_call(payload)
        return WriteResult(status="done", body=body)

    def queued(outbox_id: int, reason: str) -> WriteResult:
        return WriteResult(status="queued", outbox_id=outbox_id, reason=reason)

    return (yield from _queueing(store, "request", f"{method} {path}", payload, done(), queued))


def _store(outbox: OutboxPath) -> OutboxStore | None:
    return None if outbox is False else OutboxStore(outbox)


class Outbox:
    """`client.outbox`: what waits, and delivering it."""

    def __init__(self, store: OutboxStore | None, run: Callable[[Flow[FlushResult]], Any]) -> None:
        self.store = store
        self._run = run

    def pending(self) -> int:
        return self.store.pending() if self.store else 0

    def entries(self) -> list[Entry]:
        return self.store.entries() if self.store else []

    def flush(self) -> FlushResult:
        if self.store is None:
            return FlushResult(delivered=[], pending=0)
        return self._run(flush_flow(self.store))  # type: ignore[no-any-return]


class AsyncOutbox(Outbox):
    async def flush(self) -> FlushResult:  # type: ignore[override]
        if self.store is None:
            return FlushResult(delivered=[], pending=0)
        return await self._run(flush_flow(self.store))  # type: ignore[no-any-return]


class CreatorOS(Client):
    """The client for scripts. `outbox`: the SQLite file for writes the API
    could not take (default: under the user's data directory; False: none,
    failures raise)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: TokenSource = None,
        outbox: OutboxPath = None,
        retry: RetryPolicy | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, token=token, retry=retry, http=http)
        self.outbox = Outbox(_store(outbox), self.run)

    def save_course(
        self, folder: str | os.PathLike[str], *, prune: bool = False, dry_run: bool = False
    ) -> SaveResult:
        """Write a course folder in one go (project, tree, reports), or queue it."""
        return self.save_plan(read_course(folder), prune=prune, dry_run=dry_run)

    def save_plan(
        self, plan: CoursePlan, *, prune: bool = False, dry_run: bool = False
    ) -> SaveResult:
        return self.run(_save_flow(self.outbox.store, plan, prune, dry_run))

    def write(self, method: str, path: str, json: Any = None) -> WriteResult:
        """Any write through the outbox: done, or queued when the API is away."""
        return self.run(_write_flow(self.outbox.store, method, path, json))


class AsyncCreatorOS(AsyncClient):
    """The same for asyncio."""

    def __init__(
        self,
        base_url: str,
        *,
        token: TokenSource = None,
        outbox: OutboxPath = None,
        retry: RetryPolicy | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, token=token, retry=retry, http=http)
        self.outbox = AsyncOutbox(_store(outbox), self.run)

    async def save_course(
        self, folder: str | os.PathLike[str], *, prune: bool = False, dry_run: bool = False
    ) -> SaveResult:
        plan = await asyncio.to_thread(read_course, folder)
        return await self.save_plan(plan, prune=prune, dry_run=dry_run)

    async def save_plan(
        self, plan: CoursePlan, *, prune: bool = False, dry_run: bool = False
    ) -> SaveResult:
        return await self.run(_save_flow(self.outbox.store, plan, prune, dry_run))

    async def write(self, method: str, path: str, json: Any = None) -> WriteResult:
        return await self.run(_write_flow(self.outbox.store, method, path, json))
