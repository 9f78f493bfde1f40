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
    ApiError,
    Call,
    CreatorOSError,
    Flow,
    RetryPolicy,
    TokenSource,
    current_token,
    is_transient,
    new_idempotency_key,
)
from creatoros_client.client import AsyncClient, Client
from creatoros_client.course import CoursePlan, read_course
from creatoros_client.models import Problem
from creatoros_client.outbox import (
    Account,
    Entry,
    FlushResult,
    OutboxStore,
    default_path,
    legacy_path,
)
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
    """Deliver the store's account's entries oldest first; stop at the first
    failure. Entries queued while it runs (by this or another process) are
    delivered too: it stops when the account has none left. Other accounts'
    entries, and those of no account, are left untouched and counted."""

    def done(delivered: list[str], **failure: Any) -> FlushResult:
        pending, others, legacy = store.counts()
        if store.account is None:
            others = legacy = 0  # an account-less store delivers every entry
        return FlushResult(
            delivered=delivered, pending=pending, others=others, legacy=legacy, **failure
        )

    with store.flushing() as mine:
        if not mine:
            return done([], busy=True, error=BUSY)
        delivered: list[str] = []
        while entries := store.entries():
            for entry in entries:
                try:
                    yield from _entry_flow(entry)
                except CreatorOSError as exc:
                    store.failed(entry.id, str(exc))
                    status = exc.status if isinstance(exc, ApiError) else None
                    return done(delivered, failed=entry.summary, error=str(exc), status=status)
                store.remove(entry.id)
                delivered.append(entry.summary)
        return done(delivered)


BUSY = "another process is flushing this outbox; it delivers what is queued"


class ApiUnauthorized(ApiError):
    """A queued entry was refused with 401 while flushing before a new write."""

    def __init__(self, message: str) -> None:
        super().__init__(401, Problem(title="Unauthorized", status=401, detail=message))


def _queueing(
    store: OutboxStore | None,
    kind: str,
    summary: str,
    payload: dict[str, Any],
    flow: Flow[T],
    queued: Callable[[int, str], T] | None,
) -> Flow[T]:
    """Run `flow`; if the API cannot take it (unreachable, 5xx or 429 after
    the retries), store it and answer `queued(...)` instead. A 4xx is the
    caller's bug: raised, never queued. Writes stay in order: with entries
    already waiting, those go first, and if they cannot, this one queues
    behind them. `queued=None`: a write that must not wait (a conditional
    one: its If-Match holds now or never), which raises instead."""
    if store is None:
        return (yield from flow)
    if store.pending():
        flushed = yield from flush_flow(store)
        if flushed.status == 401:
            # The token is refused: this write would be too. Say so now
            # rather than queue it behind an entry that cannot go either.
            flow.close()
            raise ApiUnauthorized(flushed.error or "401 Unauthorized")
        if not flushed.ok:
            flow.close()
            reason = f"behind {flushed.pending} queued: {flushed.error}"
            if queued is None:
                raise CreatorOSError(f"{summary}: not sent, {reason}")
            return queued(store.add(kind, summary, payload, reason), reason)
    try:
        return (yield from flow)
    except CreatorOSError as exc:
        if not is_transient(exc) or queued is None:
            raise
        return queued(store.add(kind, summary, payload, str(exc)), str(exc))


def _save_flow(
    store: OutboxStore | None,
    plan: CoursePlan,
    prune: bool,
    dry_run: bool,
    if_match: str | None = None,
) -> Flow[SaveResult]:
    flow = save_course_flow(plan, prune=prune, dry_run=dry_run, if_match=if_match)
    if dry_run:
        return (yield from flow)  # a plan is read, never queued

    def queued(outbox_id: int, reason: str) -> SaveResult:
        return SaveResult(
            course=plan.slug, folder=plan.folder, status="queued", warnings=list(plan.warnings),
            outbox_id=outbox_id, reason=reason,
        )  # fmt: skip

    payload = {"plan": plan.model_dump(mode="json"), "prune": prune}
    summary = f"save course {plan.slug} ({plan.folder})"
    # A conditional save is never queued: delivered later, its If-Match
    # would be judged against whatever the tree is then.
    return (
        yield from _queueing(
            store, "save_course", summary, payload, flow, queued if if_match is None else None
        )
    )


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


class Outbox:
    """`client.outbox`: what waits for this client's account, and delivering
    it. The store is opened on first use: the account is the client's base
    URL and its token's subject (a token callable is called once for it)."""

    def __init__(
        self,
        path: OutboxPath,
        base_url: str,
        token: TokenSource,
        run: Callable[[Flow[FlushResult]], Any],
    ) -> None:
        self._path = path
        self._base_url = base_url
        self._token = token
        self._store: OutboxStore | None = None
        self._run = run

    @property
    def account(self) -> Account:
        return Account.of(self._base_url, current_token(self._token))

    @property
    def store(self) -> OutboxStore | None:
        if self._path is False:
            return None
        if self._store is None:
            self._store = OutboxStore(self._path, account=self.account)
        return self._store

    def legacy_store(self) -> OutboxStore | None:
        """The former single default outbox (entries of no account), when
        this client uses the default location and that file exists."""
        if self._path is not None or os.environ.get("CREATOROS_OUTBOX") or self.store is None:
            return None
        path = legacy_path()
        if not path.is_file() or path.resolve() == default_path(self.account).resolve():
            return None
        return OutboxStore(path)

    def pending(self) -> int:
        return self.store.pending() if self.store else 0

    def entries(self) -> list[Entry]:
        return self.store.entries() if self.store else []

    def legacy(self) -> int:
        """Entries that belong to no account: in this file, and in the former
        default file (when this client uses the default location)."""
        if self.store is None:
            return 0
        old = self.legacy_store()
        return self.store.counts()[2] + (old.counts()[2] if old else 0)

    def claim_legacy(self) -> int:
        """Make the entries of no account this account's (moving those of the
        former default file here); the next flush delivers them."""
        if self.store is None:
            return 0
        return self.store.claim_legacy(self.legacy_store())

    def _flushed(self, result: FlushResult) -> FlushResult:
        old = self.legacy_store()
        if old is not None:
            result.legacy += old.counts()[2]
        return result

    def flush(self) -> FlushResult:
        if self.store is None:
            return FlushResult(delivered=[], pending=0)
        return self._flushed(self._run(flush_flow(self.store)))


class AsyncOutbox(Outbox):
    async def flush(self) -> FlushResult:  # type: ignore[override]
        if self.store is None:
            return FlushResult(delivered=[], pending=0)
        return self._flushed(await self._run(flush_flow(self.store)))


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
        self.outbox = Outbox(outbox, self.base_url, token, self.run)

    def save_course(
        self,
        folder: str | os.PathLike[str],
        *,
        prune: bool = False,
        dry_run: bool = False,
        if_match: str | None = None,
    ) -> SaveResult:
        """Write a course folder in one go (project, tree, reports), or queue it.

        `if_match`: the course tree's ETag (`.etag` of an earlier save, or of
        `trees.get`): save only if nobody changed the tree since, else
        `PreconditionFailed` (412) and nothing is written. Such a save is
        never queued: the API unreachable raises `ApiUnreachable`."""
        return self.save_plan(read_course(folder), prune=prune, dry_run=dry_run, if_match=if_match)

    def save_plan(
        self,
        plan: CoursePlan,
        *,
        prune: bool = False,
        dry_run: bool = False,
        if_match: str | None = None,
    ) -> SaveResult:
        return self.run(_save_flow(self.outbox.store, plan, prune, dry_run, if_match))

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
        self.outbox = AsyncOutbox(outbox, self.base_url, token, self.run)

    async def save_course(
        self,
        folder: str | os.PathLike[str],
        *,
        prune: bool = False,
        dry_run: bool = False,
        if_match: str | None = None,
    ) -> SaveResult:
        plan = await asyncio.to_thread(read_course, folder)
        return await self.save_plan(plan, prune=prune, dry_run=dry_run, if_match=if_match)

    async def save_plan(
        self,
        plan: CoursePlan,
        *,
        prune: bool = False,
        dry_run: bool = False,
        if_match: str | None = None,
    ) -> SaveResult:
        return await self.run(_save_flow(self.outbox.store, plan, prune, dry_run, if_match))

    async def write(self, method: str, path: str, json: Any = None) -> WriteResult:
        return await self.run(_write_flow(self.outbox.store, method, path, json))
