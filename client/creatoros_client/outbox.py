"""The durable outbox: writes the API could not take yet, in a SQLite file.

A script must never lose a write because the service was down. When a save
(or a write made through `CreatorOS.write`) cannot get an answer after the
bounded retries, the operation — the parsed course, or the request with its
`Idempotency-Key` — is stored here and the call returns "queued". A flush
delivers the entries oldest first and removes each once the API has taken
it; it stops at the first failure and leaves the rest. Every queued
operation is idempotent (upserts by slug, reports matched by source file,
POSTs with a key fixed when queued), so an entry delivered but not yet
removed (a crash between the two) is replayed, never written twice.

One flush at a time per outbox file: a flush holds an OS file lock beside
the file (`outbox.sqlite3.lock`; the OS releases it if the process dies).
Two processes flushing the same entries at once would send the same
`Idempotency-Key` concurrently, and the second would get 409 "still being
processed" and stop. A flush that finds the lock taken does not wait (it
would block an event loop): it reports itself busy and the running flush,
which keeps going until the outbox is empty, delivers what was queued
meanwhile.

Tokens are never stored: a flush uses the flushing client's credentials.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
from filelock import FileLock, Timeout
from pydantic import BaseModel

SCHEMA = """
CREATE TABLE IF NOT EXISTS operations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    summary TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
)
"""


def default_path() -> Path:
    """`outbox.sqlite3` under the user's data directory (or `CREATOROS_OUTBOX`)."""
    configured = os.environ.get("CREATOROS_OUTBOX")
    if configured:
        return Path(configured)
    return platformdirs.user_data_path("creatoros", appauthor=False) / "outbox.sqlite3"


@dataclass(frozen=True)
class Entry:
    id: int
    kind: str
    summary: str
    payload: dict[str, Any]
    created_at: float
    attempts: int
    last_error: str | None


class FlushResult(BaseModel):
    """What a flush delivered, and where it stopped (if it did)."""

    delivered: list[str]
    pending: int
    failed: str | None = None
    error: str | None = None
    busy: bool = False
    """Another process was flushing this outbox: nothing was attempted."""

    @property
    def ok(self) -> bool:
        return self.failed is None and not self.busy


class OutboxStore:
    """The SQLite file. Each call opens its own short connection, so several
    processes (a script and `creatoros outbox status`) can share one file."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    @contextmanager
    def flushing(self) -> Iterator[bool]:
        """Hold this outbox's flush lock while the block runs: True, or False
        at once when another flush (any process) holds it."""
        lock = FileLock(f"{self.path}.lock", timeout=0)
        try:
            lock.acquire()
        except Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    def add(self, kind: str, summary: str, payload: dict[str, Any], reason: str) -> int:
        with self._db() as db:
            cursor = db.execute(
                "INSERT INTO operations (kind, summary, payload, created_at, attempts, last_error)"
                " VALUES (?, ?, ?, ?, 1, ?)",
                (kind, summary, json.dumps(payload), time.time(), reason),
            )
            return int(cursor.lastrowid or 0)

    def pending(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT count(*) FROM operations").fetchone()[0])

    def entries(self) -> list[Entry]:
        """Oldest first: the order they are delivered in."""
        with self._db() as db:
            rows = db.execute(
                "SELECT id, kind, summary, payload, created_at, attempts, last_error"
                " FROM operations ORDER BY id"
            ).fetchall()
        return [
            Entry(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6])
            for row in rows
        ]

    def failed(self, entry_id: int, error: str) -> None:
        with self._db() as db:
            db.execute(
                "UPDATE operations SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error, entry_id),
            )

    def remove(self, entry_id: int) -> None:
        with self._db() as db:
            db.execute("DELETE FROM operations WHERE id = ?", (entry_id,))
