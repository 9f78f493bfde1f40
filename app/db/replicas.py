"""Streaming read replicas (`DATABASE_READ_URL`) and which one a read may use.

A write always runs on the primary and answers with the primary's WAL
position after its COMMIT (the consistency token). A read that carries one
may use a replica only once that replica has replayed the position
(`pg_last_wal_replay_lsn()`), else it runs on the primary: the caller who
just wrote never reads an older state than its own write. A read without one
(anonymous, or a token read that wrote nothing lately) may use any replica
that answers.

What each replica replayed is remembered: a position only moves forward, so
a remembered one that is already past the token is proof enough, and the
common read costs no extra round trip. When the remembered position is
behind, the replica is asked again at most every `RECHECK_SECONDS` (in the
read's own transaction there); in between, such reads go to the primary.

A replica that cannot be reached is left alone for `DOWN_SECONDS`: its reads
go to the primary meanwhile, never a 5xx because a replica is gone.

This module decides; the tenant door (`app.db.tenancy.read_door`) opens the
transaction where it says.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from itertools import count

from sqlalchemy.ext.asyncio import AsyncEngine

from app.http.observability import DB_READS, REPLICA_FALLBACKS

log = logging.getLogger(__name__)

# How long an unreachable replica is skipped before it is tried again.
DOWN_SECONDS = 5.0
# How often, at most, a replica that is behind a caller's token is asked again.
RECHECK_SECONDS = 0.05
# A replica's connect timeout: short, since the primary can serve instead.
REPLICA_CONNECT_TIMEOUT_SECONDS = 1.0

# A WAL position as PostgreSQL prints a pg_lsn: two hex numbers of up to 8 digits.
_LSN = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")
# Several URLs in one variable: split at a comma that starts another URL, so
# a multi-host URL (`postgresql://h1:5432,h2:5432/db`) stays whole.
_NEXT_URL = re.compile(r"\s*,\s*(?=postgres(?:ql)?(?:\+\w+)?://)")


def parse_lsn(value: str | None) -> int | None:
    """A pg_lsn (`16/B374D848`) as a number; None when absent or malformed
    (a malformed token is ignored: the read is served as one without it)."""
    if not value:
        return None
    match = _LSN.fullmatch(value.strip())
    if match is None:
        return None
    return (int(match[1], 16) << 32) | int(match[2], 16)


def format_lsn(position: int) -> str:
    """A number as PostgreSQL prints a pg_lsn."""
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


def read_urls(value: str | None) -> list[str]:
    """The replica URLs of `DATABASE_READ_URL` (comma-separated)."""
    if not value or not value.strip():
        return []
    return [url for url in _NEXT_URL.split(value.strip()) if url]


@dataclass(eq=False)
class Replica:
    """One replica's engine and what this process knows about it."""

    engine: AsyncEngine
    name: str  # host/database, for the logs (never the password)
    down_until: float = 0.0
    replayed: int = 0  # the highest replay position seen
    checked_at: float = field(default=-1e9)

    def saw(self, position: int | None) -> None:
        self.checked_at = time.monotonic()
        if position is not None and position > self.replayed:
            self.replayed = position

    def mark_down(self, error: BaseException) -> None:
        if self.down_until <= time.monotonic():
            log.warning(
                "read replica %s unavailable (%s); reads go to the primary for %.0f s",
                self.name,
                type(error).__name__,
                DOWN_SECONDS,
            )
        self.down_until = time.monotonic() + DOWN_SECONDS
        DOWN.inc()


@dataclass(frozen=True)
class Choice:
    """Where a read goes: a replica (`check`: ask it for its replay position
    first), or None for the primary."""

    replica: Replica | None
    check: bool = False


PRIMARY = Choice(None)


class Replicas:
    """The process's replicas, tried in turn (round robin)."""

    def __init__(self, replicas: list[Replica]) -> None:
        self.all = replicas
        self._turn = count()

    def choose(self, wanted: int | None) -> Choice:
        """The replica for a read that must see WAL position `wanted` (None:
        any position), from what is remembered; no I/O."""
        now = time.monotonic()
        n = len(self.all)
        start = next(self._turn) % n
        stale: Replica | None = None
        for i in range(n):
            replica = self.all[(start + i) % n]
            if replica.down_until > now:
                continue
            if wanted is None or replica.replayed >= wanted:
                return Choice(replica)
            if stale is None and now - replica.checked_at >= RECHECK_SECONDS:
                stale = replica
        if stale is not None:
            # Others arriving meanwhile go to the primary, not all to ask it.
            stale.checked_at = now
            return Choice(stale, check=True)
        if wanted is not None and any(r.down_until <= now for r in self.all):
            BEHIND.inc()
        return PRIMARY

    async def dispose(self) -> None:
        for replica in self.all:
            await replica.engine.dispose()


# The counters' children, made once (`labels()` takes a lock each call).
ON_PRIMARY = DB_READS.labels("primary")
ON_REPLICA = DB_READS.labels("replica")
BEHIND = REPLICA_FALLBACKS.labels("behind")
DOWN = REPLICA_FALLBACKS.labels("down")
