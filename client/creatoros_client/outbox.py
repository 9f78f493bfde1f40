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

One outbox per account. An entry records the account it was queued for —
the API's base URL and the token's subject (its `sub` claim, read without
verifying the token: the API verifies it) — and a flush delivers only the
entries of the flushing client's account, with its token; the others wait
for a flush with theirs (`FlushResult.others` counts them). The default file
is per account too: `outboxes/<key>.sqlite3` under the user's data directory,
the key a hash of (base URL, subject). `CREATOROS_OUTBOX` or an explicit path
may be shared by several accounts: each still gets only its own entries.

Entries from before accounts were recorded (the former single default
`outbox.sqlite3`, or any file written by an older client) belong to no
account. They are never delivered silently into whichever account flushes
next: `claim_legacy()` (`creatoros outbox flush --claim-legacy`) makes them
the flushing account's, moving them from the former default file into this
account's, then they are delivered like the others. Until then they wait,
and status and flush say so.

Tokens are never stored: a flush uses the flushing client's credentials.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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
    last_error TEXT,
    api TEXT,
    subject TEXT
)
"""
# Files written before entries recorded their account gain the columns; their
# entries keep NULL there: no account (see the module's docstring).
ACCOUNT_COLUMNS = ("api", "subject")
LEGACY_NAME = "outbox.sqlite3"
ANONYMOUS = ""  # the subject of a client without a token (or with one that has no `sub`)


def normalize_api(base_url: str) -> str:
    """One spelling per API: scheme and host in lower case, no default port,
    no trailing slash (`HTTP://Host:80/` → `http://host`)."""
    parts = urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6
    port = parts.port
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path.rstrip("/"), "", ""))


def token_subject(token: str | None) -> str | None:
    """The `sub` claim of a JWT, read WITHOUT verifying its signature: only
    to tell whose outbox entries are whose (the API verifies the token).
    None when there is no token or it is not a JWT with a `sub`."""
    if not token:
        return None
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(raw)
    except (ValueError, binascii.Error):
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return str(sub) if isinstance(sub, str | int) and str(sub) else None


@dataclass(frozen=True)
class Account:
    """Whose entries: the API (normalized base URL) and the token's subject."""

    api: str
    subject: str = ANONYMOUS

    @classmethod
    def of(cls, base_url: str, token: str | None) -> Account:
        return cls(normalize_api(base_url), token_subject(token) or ANONYMOUS)

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.api}\n{self.subject}".encode()).hexdigest()[:24]

    def __str__(self) -> str:
        return f"{self.subject or 'no subject'} at {self.api}"


def data_dir() -> Path:
    return platformdirs.user_data_path("creatoros", appauthor=False)


def legacy_path() -> Path:
    """The single default outbox of clients before outboxes were per account."""
    return data_dir() / LEGACY_NAME


def default_path(account: Account | None = None) -> Path:
    """`CREATOROS_OUTBOX` if set, else the account's own file under the user's
    data directory (without an account: the former single file)."""
    configured = os.environ.get("CREATOROS_OUTBOX")
    if configured:
        return Path(configured)
    if account is None:
        return legacy_path()
    return data_dir() / "outboxes" / f"{account.key}.sqlite3"


def account_outboxes() -> list[Path]:
    """Every per-account default outbox file on this machine."""
    return sorted((data_dir() / "outboxes").glob("*.sqlite3"))


@dataclass(frozen=True)
class Entry:
    id: int
    kind: str
    summary: str
    payload: dict[str, Any]
    created_at: float
    attempts: int
    last_error: str | None
    api: str | None = None
    subject: str | None = None

    @property
    def account(self) -> Account | None:
        """None: queued before entries recorded their account (legacy)."""
        return None if self.api is None else Account(self.api, self.subject or ANONYMOUS)


class FlushResult(BaseModel):
    """What a flush delivered, and where it stopped (if it did)."""

    delivered: list[str]
    pending: int
    failed: str | None = None
    error: str | None = None
    busy: bool = False
    """Another process was flushing this outbox: nothing was attempted."""
    others: int = 0
    """Entries in this file for other accounts: left untouched."""
    legacy: int = 0
    """Entries with no account (from before accounts were recorded): left
    until a flush claims them (`claim_legacy`)."""
    status: int | None = None
    """The HTTP status of the failure, when the API answered one."""

    @property
    def ok(self) -> bool:
        return self.failed is None and not self.busy


class OutboxStore:
    """The SQLite file. Each call opens its own short connection, so several
    processes (a script and `creatoros outbox status`) can share one file.

    With an `account`, the store is that account's view: it adds entries
    stamped with it, and `pending`/`entries` (what a flush delivers) are its
    entries only. Without one, it sees every entry (to inspect a file) and
    adds entries that belong to no account."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, account: Account | None = None
    ) -> None:
        self.account = account
        self.path = Path(path) if path is not None else default_path(account)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute(SCHEMA)
            have = {row[1] for row in db.execute("PRAGMA table_info(operations)")}
            for column in ACCOUNT_COLUMNS:
                if column not in have:
                    db.execute(f"ALTER TABLE operations ADD COLUMN {column} TEXT")

    def _mine(self) -> tuple[str, tuple[Any, ...]]:
        if self.account is None:
            return "", ()
        return " WHERE api = ? AND subject = ?", (self.account.api, self.account.subject)

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
        account = self.account
        with self._db() as db:
            cursor = db.execute(
                "INSERT INTO operations (kind, summary, payload, created_at, attempts,"
                " last_error, api, subject) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                (kind, summary, json.dumps(payload), time.time(), reason,
                 account and account.api, account and account.subject),
            )  # fmt: skip
            return int(cursor.lastrowid or 0)

    def pending(self) -> int:
        """This account's entries (without an account: every entry)."""
        where, args = self._mine()
        with self._db() as db:
            return int(db.execute(f"SELECT count(*) FROM operations{where}", args).fetchone()[0])

    def counts(self) -> tuple[int, int, int]:
        """(this account's, other accounts', no account's) entries in the file."""
        mine = self.pending() if self.account is not None else 0
        with self._db() as db:
            total, legacy = db.execute(
                "SELECT count(*), count(*) FILTER (WHERE api IS NULL) FROM operations"
            ).fetchone()
        if self.account is None:
            return total - legacy, 0, legacy
        return mine, total - legacy - mine, legacy

    def entries(self, *, everyone: bool = False) -> list[Entry]:
        """Oldest first: the order they are delivered in. This account's
        only, unless `everyone` (or the store has no account)."""
        where, args = ("", ()) if everyone else self._mine()
        with self._db() as db:
            rows = db.execute(
                "SELECT id, kind, summary, payload, created_at, attempts, last_error, api, subject"
                f" FROM operations{where} ORDER BY id",
                args,
            ).fetchall()
        return [Entry(row[0], row[1], row[2], json.loads(row[3]), *row[4:]) for row in rows]

    def claim_legacy(self, source: OutboxStore | None = None) -> int:
        """Make the entries that belong to no account this account's: those in
        this file, and those in `source` (the former default file), moved
        here oldest first. Returns how many. Each move inserts here, then
        deletes there; a crash between the two leaves a copy in both, which
        a flush delivers twice but writes once (every entry is idempotent)."""
        if self.account is None:
            raise ValueError("claiming entries needs an account")
        account = self.account
        claimed = 0
        with self._db() as db:
            claimed += db.execute(
                "UPDATE operations SET api = ?, subject = ? WHERE api IS NULL",
                (account.api, account.subject),
            ).rowcount
        if source is not None and source.path.resolve() != self.path.resolve():
            for entry in source.entries(everyone=True):
                if entry.api is not None:
                    continue
                with self._db() as db:
                    db.execute(
                        "INSERT INTO operations (kind, summary, payload, created_at, attempts,"
                        " last_error, api, subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (entry.kind, entry.summary, json.dumps(entry.payload), entry.created_at,
                         entry.attempts, entry.last_error, account.api, account.subject),
                    )  # fmt: skip
                source.remove(entry.id)
                claimed += 1
        return claimed

    def failed(self, entry_id: int, error: str) -> None:
        with self._db() as db:
            db.execute(
                "UPDATE operations SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error, entry_id),
            )

    def remove(self, entry_id: int) -> None:
        with self._db() as db:
            db.execute("DELETE FROM operations WHERE id = ?", (entry_id,))
