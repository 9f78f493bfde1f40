"""Growth: how a tree's write and read scale with its size, on a fresh
database (never analyzed, as a first `creatoros import` into a new deployment
meets it) and after ANALYZE.

A database of its own (a sibling of the bench's, on the same server), with
its own service process: migrated, one creator, autovacuum off on `contents`
so that no automatic ANALYZE happens while the "fresh" sizes are measured.
For each size (133, 1,333 and 5,000 nodes by default; 1 KB bodies) it writes
a new course `--growth-repeats` times (a new project each time: PUT …/tree)
and reads each one back (GET …/tree without bodies) as many times; then it
runs ANALYZE on `contents` and does it all again. Sizes are written in
ascending order, so the 5,000-node course lands on a table already holding
the smaller ones, as in the reported incident.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from bench.corpus import Corpus, Node
from bench.cpu import CpuMeter
from bench.progress import Progress
from bench.seed import wait_until_indexed

DEFAULT_SIZES = (133, 1333, 5000)
JSON = {"content-type": "application/json"}
BODY_CHARS = 1000


@dataclass
class GrowthRow:
    state: str  # "fresh" or "analyzed"
    nodes: int
    write_ms: list[float]
    read_ms: list[float]
    # Answers other than 200 (a statement timeout is a 503), by status.
    failures: dict[int, int] = field(default_factory=dict)
    # CPU of each write: the service's, and PostgreSQL's (when it is local):
    # where a write's time goes.
    write_cpu_ms: list[tuple[float, float | None]] = field(default_factory=list)
    # After each write's answer: until the service's indexer had put its words
    # into the search index (migration 0008; None: not within the timeout).
    indexed_ms: list[float | None] = field(default_factory=list)

    def _cpu(self) -> dict[str, Any]:
        if not self.write_cpu_ms:
            return {}
        app = statistics.median(c[0] for c in self.write_cpu_ms)
        db = [c[1] for c in self.write_cpu_ms if c[1] is not None]
        return {
            "write_app_cpu_ms_median": round(app, 1),
            "write_postgres_cpu_ms_median": round(statistics.median(db), 1) if db else None,
        }

    def as_json(self) -> dict[str, Any]:
        if not self.write_ms or not self.read_ms:
            return {"state": self.state, "nodes": self.nodes, "failures": self.failures}
        return {
            "state": self.state,
            "nodes": self.nodes,
            "failures": self.failures,
            "write_ms_median": round(statistics.median(self.write_ms), 1),
            "read_ms_median": round(statistics.median(self.read_ms), 2),
            "write_us_per_node": round(statistics.median(self.write_ms) * 1000 / self.nodes, 1),
            "read_us_per_node": round(statistics.median(self.read_ms) * 1000 / self.nodes, 2),
            "indexed_after_write_ms_median": _median(self.indexed_ms),
            "write_ms": [round(x, 1) for x in self.write_ms],
            "read_ms": [round(x, 2) for x in self.read_ms],
            **self._cpu(),
        }


def _median(values: list[float | None]) -> float | None:
    """The median, or None when any value is missing (timed out) or none is."""
    known = [v for v in values if v is not None]
    if not known or len(known) < len(values):
        return None
    return round(statistics.median(known), 1)


def course_of(corpus: Corpus, nodes: int, rng: random.Random) -> dict[str, Any]:
    """A course of exactly `nodes` nodes (1 outline, m modules of m lessons,
    the rest as lessons under the outline), bodies of ~1 KB."""
    m = (math.isqrt(4 * (nodes - 1) + 1) - 1) // 2
    root = corpus.course(
        rng, f"growth-{nodes}", f"Growth: {nodes} nodes", modules=m, lessons_per_module=m
    )
    for extra in range(1, nodes - 1 - m * (m + 1) + 1):
        root.children.append(
            Node(
                slug=f"extra-{extra}",
                title=f"Extra {extra}",
                content_type="course_lesson",
                content="",
                sequence_order=m + extra,
                metadata={},
            )
        )
    count = 0
    for node, _ in root.walk():
        node.content = corpus.body(rng, node.title, BODY_CHARS)[:BODY_CHARS]
        count += 1
    assert count == nodes, (count, nodes)
    return root.payload()


async def measure_growth(
    client: httpx.AsyncClient,
    admin_dsn: str,
    corpus: Corpus,
    sizes: tuple[int, ...],
    repeats: int,
    progress: Progress,
    meter: CpuMeter | None = None,
) -> list[GrowthRow]:
    rng = random.Random(11)
    payloads = {n: {"nodes": [course_of(corpus, n, rng)]} for n in sizes}
    # Encoded once, outside the timed write (as a client holding its file would).
    encoded = {n: json.dumps(p, ensure_ascii=False).encode() for n, p in payloads.items()}
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute("ALTER TABLE contents SET (autovacuum_enabled = false)")
    finally:
        await conn.close()
    rows: list[GrowthRow] = []
    for state in ("fresh", "analyzed"):
        if state == "analyzed":
            conn = await asyncpg.connect(admin_dsn)
            try:
                await conn.execute("ANALYZE contents")
            finally:
                await conn.close()
        for n in sizes:
            row = GrowthRow(state, n, [], [])
            for k in range(repeats):
                progress.update(f"growth {state} {n} nodes: {k + 1}/{repeats}")
                created = await client.post(
                    "/v1/projects",
                    json={
                        "slug": f"growth-{state}-{n}-{k}-{uuid.uuid4().hex[:6]}",
                        "name": f"Growth {n}",
                        "project_type": "course",
                    },
                )
                created.raise_for_status()
                path = f"/v1/projects/{created.json()['id']}/tree"
                body = encoded[n]
                before = meter.snapshot() if meter is not None else None
                started = time.perf_counter()
                written = await client.put(path, content=body, headers=JSON)
                elapsed = (time.perf_counter() - started) * 1000
                if meter is not None and before is not None:
                    after = meter.snapshot()
                    db = (
                        None
                        if before.postgres is None or after.postgres is None
                        else (after.postgres - before.postgres) * 1000
                    )
                    row.write_cpu_ms.append(((after.service - before.service) * 1000, db))
                if written.status_code != 200:
                    # Reported, not fatal: a plan gone wrong shows up as a
                    # 503 (statement timeout) on an older version of the app.
                    row.failures[written.status_code] = row.failures.get(written.status_code, 0) + 1
                    progress.done(
                        f"growth {state} {n} nodes: PUT answered {written.status_code} "
                        f"after {elapsed:.0f} ms"
                    )
                    continue
                row.write_ms.append(elapsed)
                # The reads are timed once the background indexing is over,
                # on a quiet machine like every other read of the bench.
                row.indexed_ms.append(await wait_until_indexed(admin_dsn))
                for _ in range(repeats):
                    started = time.perf_counter()
                    read = await client.get(path)
                    if read.status_code != 200:
                        row.failures[read.status_code] = row.failures.get(read.status_code, 0) + 1
                        continue
                    row.read_ms.append((time.perf_counter() - started) * 1000)
            rows.append(row)
            summary = row.as_json()
            if "write_ms_median" in summary:
                progress.done(
                    f"growth {state} {n} nodes: write {summary['write_ms_median']:.0f} ms, "
                    f"read {summary['read_ms_median']:.1f} ms (medians)"
                )
    return rows


def growth_markdown(rows: list[GrowthRow]) -> str:
    by = {(r.state, r.nodes): r.as_json() for r in rows}
    sizes = sorted({r.nodes for r in rows})
    lines = [
        "| nodes | write ms (fresh) | read ms (fresh) | write ms (analyzed) | read ms (analyzed) "
        "| write µs/node (fresh / analyzed) | read µs/node (fresh / analyzed) "
        "| write CPU ms, app + PostgreSQL (fresh / analyzed) "
        "| search-indexed ms after the answer (fresh / analyzed) |",
        "|" + "---|" * 9,
    ]
    for n in sizes:
        f, a = by.get(("fresh", n)), by.get(("analyzed", n))
        if f is None or a is None:
            continue
        if "write_ms_median" not in f or "write_ms_median" not in a:
            lines.append(f"| {n:,} | failed: fresh {f['failures']}, analyzed {a['failures']} |")
            continue
        lines.append(
            f"| {n:,} | {f['write_ms_median']:.0f} | {f['read_ms_median']:.1f} "
            f"| {a['write_ms_median']:.0f} | {a['read_ms_median']:.1f} "
            f"| {f['write_us_per_node']:.0f} / {a['write_us_per_node']:.0f} "
            f"| {f['read_us_per_node']:.1f} / {a['read_us_per_node']:.1f} "
            f"| {_cpu_cell(f)} / {_cpu_cell(a)} "
            f"| {_ms_cell(f['indexed_after_write_ms_median'])}"
            f" / {_ms_cell(a['indexed_after_write_ms_median'])} |"
        )
    return "\n".join(lines)


def _cpu_cell(summary: dict[str, Any]) -> str:
    app, db = summary.get("write_app_cpu_ms_median"), summary.get("write_postgres_cpu_ms_median")
    if app is None:
        return "—"
    return f"{app:.0f} + {db:.0f}" if db is not None else f"{app:.0f} + ?"


def _ms_cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"
