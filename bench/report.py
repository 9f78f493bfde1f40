"""The results: a Markdown table on stdout, the same numbers as JSON.

Latency percentiles come from the concurrency-1 phase (one request at a
time: what a caller waits), req/s from the concurrency-N phase (what one
worker sustains). The ratio is service p50 / floor p50: 1.0 would mean the
service adds nothing to the database work it has to do.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import Phase


@dataclass
class Result:
    key: str
    label: str
    service_latency: Phase
    service_throughput: Phase
    floor_latency: Phase | None
    floor_throughput: Phase | None

    @property
    def ratio_p50(self) -> float:
        if self.floor_latency is None:
            return math.nan
        return self.service_latency.pct(50) / self.floor_latency.pct(50)

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "service": {
                "latency": self.service_latency.summary(),
                "throughput": self.service_throughput.summary(),
            },
            "floor": None
            if self.floor_latency is None or self.floor_throughput is None
            else {
                "latency": self.floor_latency.summary(),
                "throughput": self.floor_throughput.summary(),
            },
            "ratio_p50": None if math.isnan(self.ratio_p50) else round(self.ratio_p50, 2),
        }


def _ms(value: float) -> str:
    if math.isnan(value):
        return "—"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _rps(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def markdown(results: list[Result], concurrency: int) -> str:
    c = concurrency
    header = (
        f"| operation | p50 ms | p95 ms | p99 ms | p99.9 ms | req/s (c={c}) | floor p50 ms "
        f"| floor p95 ms | floor req/s (c={c}) | ratio p50 |"
    )
    lines = [header, "|" + "---|" * 10]
    for r in results:
        floor_lat, floor_thr = r.floor_latency, r.floor_throughput
        ratio = "—" if math.isnan(r.ratio_p50) else f"{r.ratio_p50:.1f}x"
        lines.append(
            f"| {r.label} | {_ms(r.service_latency.pct(50))} | {_ms(r.service_latency.pct(95))} "
            f"| {_ms(r.service_latency.pct(99))} | {_ms(r.service_latency.pct(99.9))} "
            f"| {_rps(r.service_throughput.rps)} "
            f"| {_ms(floor_lat.pct(50) if floor_lat else math.nan)} "
            f"| {_ms(floor_lat.pct(95) if floor_lat else math.nan)} "
            f"| {_rps(floor_thr.rps if floor_thr else math.nan)} | {ratio} |"
        )
    return "\n".join(lines)


def cpu_markdown(results: list[Result]) -> str:
    """Who was busy, per request, in the concurrency-1 phases (ms of CPU)."""

    def cell(phase: Phase | None, process: str) -> str:
        value = phase.cpu_ms.get(process) if phase is not None else None
        return "—" if value is None else f"{value:.2f}"

    lines = [
        "| operation | app (uvicorn) | PostgreSQL | HTTP client | floor: PostgreSQL "
        "| floor: asyncpg client |",
        "|" + "---|" * 6,
    ]
    for r in results:
        lines.append(
            f"| {r.label} | {cell(r.service_latency, 'service')} "
            f"| {cell(r.service_latency, 'postgres')} | {cell(r.service_latency, 'bench')} "
            f"| {cell(r.floor_latency, 'postgres')} | {cell(r.floor_latency, 'bench')} |"
        )
    return "\n".join(lines)


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
