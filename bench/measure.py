"""Running the calls: a fixed number at a fixed concurrency, after a warm-up,
timing each call, the service and the floor interleaved.

Closed loop: `concurrency` workers each start the next call as soon as their
previous one returns, so req/s at concurrency 1 is 1/latency and at higher
concurrency it is the throughput the service sustains. Fixed counts rather
than fixed durations, so that service and floor do exactly the same work
(the same targets, in the same order).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bench.cpu import CpuMeter, per_request_ms
from bench.progress import Progress

T = TypeVar("T")


@dataclass(frozen=True)
class Phase:
    """The timings of one phase."""

    concurrency: int
    latencies_ms: list[float]
    seconds: float
    # CPU per timed request: service, postgres (when local), bench.
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else math.nan

    def pct(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    @classmethod
    def combine(cls, phases: Sequence[Phase]) -> Phase:
        """The chunks of one side as one phase (CPU weighted by requests)."""
        latencies = [ms for phase in phases for ms in phase.latencies_ms]
        total = max(1, len(latencies))
        cpu: dict[str, float] = {}
        for key in {key for phase in phases for key in phase.cpu_ms}:
            if all(key in phase.cpu_ms for phase in phases):
                cpu[key] = round(
                    sum(phase.cpu_ms[key] * phase.requests for phase in phases) / total, 3
                )
        return cls(
            phases[0].concurrency if phases else 0,
            latencies,
            sum(phase.seconds for phase in phases),
            cpu,
        )

    def summary(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "requests": self.requests,
            "seconds": round(self.seconds, 4),
            "rps": round(self.rps, 2),
            "p50_ms": round(self.pct(50), 3),
            "p95_ms": round(self.pct(95), 3),
            "p99_ms": round(self.pct(99), 3),
            "p99_9_ms": round(self.pct(99.9), 3),
            "mean_ms": round(sum(self.latencies_ms) / max(1, self.requests), 3),
            "min_ms": round(min(self.latencies_ms, default=math.nan), 3),
            "max_ms": round(max(self.latencies_ms, default=math.nan), 3),
            "cpu_ms_per_request": self.cpu_ms,
        }


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Side:
    """One way of doing an operation: through the service, or the floor."""

    name: str
    call: Callable[[Any], Awaitable[object]]
    targets: Sequence[Any]  # warm-up targets first, then the timed ones


async def compare(
    sides: Sequence[Side],
    *,
    warmup: int,
    rounds: int,
    concurrency: int,
    progress: Progress,
    label: str,
    meter: CpuMeter | None = None,
    between: Callable[[], Awaitable[object]] | None = None,
) -> dict[str, Phase]:
    """Time every side on its targets, interleaved (`interleave`), each
    side's chunks combined into one phase."""
    chunks = await interleave(
        sides,
        warmup=warmup,
        rounds=rounds,
        concurrency=concurrency,
        progress=progress,
        label=label,
        meter=meter,
        between=between,
    )
    return {name: Phase.combine(phases) for name, phases in chunks.items()}


def abba(sides: Sequence[T], rounds: int) -> list[list[T]]:
    """The order of the sides in each round: A B, B A, A B, … (ABBA), so
    that a drift during the run weighs on every side alike."""
    return [list(sides) if r % 2 == 0 else list(reversed(sides)) for r in range(rounds)]


async def interleave(
    sides: Sequence[Side],
    *,
    warmup: int,
    rounds: int,
    concurrency: int,
    progress: Progress,
    label: str,
    meter: CpuMeter | None = None,
    between: Callable[[], Awaitable[object]] | None = None,
) -> dict[str, list[Phase]]:
    """Time every side on its targets, interleaved; each side's chunks, one
    per round, in order.

    Each side first runs its `warmup` targets untimed, at the same
    concurrency (connections, prepared statements and caches warm). The timed
    targets are then split into `rounds` chunks, run side after side in ABBA
    order (A B, B A, A B, …): a database that drifts while it is measured —
    the upserts grow the table, fill the GIN pending list, trigger
    checkpoints — then weighs on both sides alike instead of on whichever ran
    last. `between` runs, untimed, after the warm-up and after every chunk.
    Any failure aborts the bench: a fast error is not a result.
    """
    for side in sides:
        await _run(
            side.call, side.targets[:warmup], concurrency, progress, f"{label} {side.name} warm-up"
        )
    if between is not None:
        await between()
    chunks: dict[str, list[Phase]] = {side.name: [] for side in sides}
    for r, order in enumerate(abba(sides, rounds)):
        for side in order:
            timed = side.targets[warmup:]
            size = math.ceil(len(timed) / rounds)
            chunk = timed[r * size : (r + 1) * size]
            if not chunk:
                continue
            before = meter.snapshot() if meter else None
            started = time.perf_counter()
            latencies = await _run(
                side.call, chunk, concurrency, progress, f"{label} {side.name} {r + 1}/{rounds}"
            )
            seconds = time.perf_counter() - started
            cpu = per_request_ms(before, meter.snapshot(), len(chunk)) if meter and before else {}
            chunks[side.name].append(Phase(concurrency, latencies, seconds, cpu))
            if between is not None:
                await between()
    return chunks


async def _run(
    call: Callable[[Any], Awaitable[object]],
    targets: Sequence[Any],
    concurrency: int,
    progress: Progress,
    label: str,
) -> list[float]:
    latencies: list[float] = [math.nan] * len(targets)
    next_index = 0
    total = len(targets)

    async def worker() -> None:
        nonlocal next_index
        clock = time.perf_counter
        while next_index < total:
            i = next_index
            next_index += 1
            start = clock()
            await call(targets[i])
            latencies[i] = (clock() - start) * 1000
            progress.update(f"{label}: {next_index}/{total}")

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, total or 1)))))
    return latencies
