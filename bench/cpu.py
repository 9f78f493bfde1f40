"""CPU time per request, split by process: the service, PostgreSQL, and the
bench itself (the HTTP client, or the floor's asyncpg calls).

Latency says how long a caller waits; CPU says who was busy meanwhile. On a
small machine where all three share the cores, that split is what explains a
ratio: a service far from its floor while PostgreSQL's share is the same on
both sides spends the difference in Python.

PostgreSQL's share is only known when the server runs on this machine and
its `postmaster.pid` is readable (always so for the embedded server): it is
the CPU of the postmaster's children (backends and background workers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import psutil


@dataclass(frozen=True)
class CpuSnapshot:
    service: float
    postgres: float | None
    bench: float
    # Other local servers the bench started (a caching proxy), by name.
    others: dict[str, float] = field(default_factory=dict)
    # The same servers' time on a CPU to the nanosecond, when asked (`exact`).
    exact: dict[str, float] = field(default_factory=dict)


class CpuMeter:
    def __init__(
        self,
        service_pid: int,
        postmaster_pid: int | None,
        others: dict[str, int] | None = None,
        *,
        exact: bool = False,
    ) -> None:
        self._service = psutil.Process(service_pid)
        self._postmaster = psutil.Process(postmaster_pid) if postmaster_pid else None
        self._others = {name: psutil.Process(pid) for name, pid in (others or {}).items()}
        self._exact = exact

    def snapshot(self) -> CpuSnapshot:
        service = self._service.cpu_times()
        return CpuSnapshot(
            service=service.user + service.system,
            postgres=None if self._postmaster is None else _with_children(self._postmaster),
            bench=time.process_time(),
            others={name: _with_children(process) for name, process in self._others.items()},
            exact={name: _runtime(process) for name, process in self._others.items()}
            if self._exact
            else {},
        )


def _with_children(parent: psutil.Process) -> float:
    """CPU seconds of a server: its main process and its children (PostgreSQL's
    backends, a proxy's workers)."""
    total = 0.0
    for process in [parent, *parent.children()]:
        try:
            times = process.cpu_times()
        except psutil.Error:  # a backend that just exited
            continue
        total += times.user + times.system
    return total


def _runtime(parent: psutil.Process) -> float:
    """CPU seconds of a server, to the nanosecond: the kernel's process-wide
    CPU clock (user and system together, exited threads included) of it
    and of its children. `cpu_times` counts in clock ticks (10 ms), too
    coarse for a 2 % difference over a chunk of cheap requests. Linux names
    another process's clock by its pid (`clock_getcpuclockid`, which Python
    lacks, computes the same id); elsewhere, or if that fails, ticks."""
    total = 0.0
    for process in [parent, *parent.children(recursive=True)]:
        try:
            total += time.clock_gettime(_process_clock(process.pid))
        except (OSError, OverflowError):
            try:
                times = process.cpu_times()
            except psutil.Error:  # gone
                continue
            total += times.user + times.system
    return total


def runtime_seconds(pid: int) -> float:
    """CPU seconds, to the nanosecond, of the process `pid` and its children
    (a service; PostgreSQL's postmaster and its backends)."""
    return _runtime(psutil.Process(pid))


def _process_clock(pid: int) -> int:
    """Linux's MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED): the id of a
    process's CPU-time clock, as `clock_getcpuclockid(3)` returns it."""
    return ((~pid) << 3) | 2


def per_request_ms(before: CpuSnapshot, after: CpuSnapshot, requests: int) -> dict[str, float]:
    """Each process's CPU between two snapshots, in ms per request."""
    n = max(1, requests)
    result = {
        "service": (after.service - before.service) * 1000 / n,
        "bench": (after.bench - before.bench) * 1000 / n,
    }
    if before.postgres is not None and after.postgres is not None:
        result["postgres"] = (after.postgres - before.postgres) * 1000 / n
    for name, seconds in after.others.items():
        result[name] = (seconds - before.others.get(name, seconds)) * 1000 / n
    for name, seconds in after.exact.items():
        result[f"{name}_exact"] = (seconds - before.exact.get(name, seconds)) * 1000 / n
    return {k: round(v, 3) for k, v in result.items()}


def postmaster_pid(data_directory: str) -> int | None:
    """The server's pid from its `postmaster.pid`, when the server is local."""
    try:
        first = (Path(data_directory) / "postmaster.pid").read_text().split("\n", 1)[0]
        pid = int(first)
    except (OSError, ValueError):
        return None
    return pid if psutil.pid_exists(pid) else None


async def local_postmaster_pid(dsn: str) -> int | None:
    """The pid of the server `dsn` reaches, when it runs on this machine."""
    conn = await asyncpg.connect(dsn)
    try:
        return postmaster_pid(await conn.fetchval("SHOW data_directory"))
    finally:
        await conn.close()


def python_speed(iterations: int = 2_000_000) -> float:
    """CPU milliseconds of a fixed pure-Python loop, best of three: how fast
    this machine runs Python right now. On a shared host it drifts by a third
    from hour to hour, and every CPU-per-request figure drifts with it; read
    those against this (and against /healthz's row) when comparing runs."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        total = 0
        for i in range(iterations):
            total += i
        best = min(best, time.process_time() - started)
    return round(best * 1000, 1)
