"""The search indexer: puts the words of tree writes into the search index
after the write has answered (migration 0008).

A tree upsert defers the indexing of the rows whose words it writes
(`search_deferred`), and their documents are built here instead of inside
the write: ~0.6 s of a 5,000-node write. Until then only the callers a
deferred row belongs to (its project's creator and persona, service_role)
find it, building its document on the fly (~0.1 ms per deferred row, per
search, their own cost); everyone else finds it once it is indexed here
(migration 0009), so this indexer's delay bounds how long that takes.

Each API process runs one indexer task: woken after each tree write
commits, and every `SEARCH_INDEX_INTERVAL` seconds in case another process
or machine deferred rows and stopped before indexing them. Batches are
claimed with `FOR UPDATE SKIP LOCKED`, so indexers of several processes
share the work without waiting on each other, and a batch is one short
transaction: nothing holds locks across batches, and nothing needs a
session of its own (a transaction-mode pooler is fine).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import SERVICE
from app.db.tenancy import tenant_transaction
from app.http.observability import SEARCH_INDEXED

log = logging.getLogger(__name__)

# $1: the batch size. Answers how many rows it indexed. (The benchmark's
# floor and its settling between phases run this same statement.)
INDEX_DEFERRED = "SELECT creatoros_internal.index_deferred_search($1)"


async def index_batch(engine: AsyncEngine, batch_size: int) -> int:
    """Index up to `batch_size` deferred contents in one transaction; how many."""
    async with tenant_transaction(engine, SERVICE, read_only=False) as conn:
        result = await conn.exec_driver_sql(INDEX_DEFERRED, (batch_size,))
        indexed = int(result.scalar() or 0)
    SEARCH_INDEXED.inc(indexed)
    return indexed


async def index_deferred(engine: AsyncEngine, batch_size: int) -> int:
    """Index every deferred content this process can claim, batch by batch.
    A short batch means none is left, or another process holds the rest."""
    total = 0
    while True:
        indexed = await index_batch(engine, batch_size)
        total += indexed
        if indexed < batch_size:
            return total


class SearchIndexer:
    """The process's background indexer (started and stopped by the app's
    lifespan). `interval == 0` leaves it off: `wake()` then does nothing."""

    def __init__(self, engine: AsyncEngine, *, interval: float, batch_size: int) -> None:
        self._engine = engine
        self._interval = interval
        self._batch_size = batch_size
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self._interval > 0

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="creatoros-search-indexer")

    def wake(self) -> None:
        """Index now: a tree write has just committed deferred rows."""
        self._woken.set()

    async def stop(self) -> None:
        """Cancel the task. A batch in flight rolls back (its connection is
        discarded); its rows stay deferred for the next sweep, anywhere."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self._interval)
            self._woken.clear()
            try:
                await index_deferred(self._engine, self._batch_size)
            except Exception:
                # The database is down or restarting: the rows stay deferred
                # (search still finds them) and the next sweep retries.
                log.warning(
                    "search indexing failed; retrying in %ss", self._interval, exc_info=True
                )
