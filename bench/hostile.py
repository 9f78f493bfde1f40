"""Hostile traffic against the service: what it costs in memory and in
`/healthz` latency (issue 20, items 1 and 2).

    python -m bench.hostile [--attackers 8] [--body-mib 15] [--header-mib 64]

Starts its own embedded PostgreSQL and the service (as `python -m bench`
does: `bench.database`, `bench.server`), then, one scenario at a time:

- `anonymous`: `--attackers` clients at once, each POSTing `--body-mib` MiB
  of `[[],[],…]` (about 5 million empty lists in 15 MiB) with no token,
  `--waves` times in a row;
- `signed-in`: the same with a valid token (a signed-in user's);
- `headers`: one request with four `--header-mib` MiB headers;

while one client asks `/healthz` in a loop on its own connection. For each:
the server process's RSS before, at its peak (sampled every 5 ms) and after,
`/healthz` p50/p99, and what the attackers were answered (status, and how
much of its body each had sent when the server answered or hung up).
Goals (issue 20): peak RSS growth ≤ 100 MB, `/healthz` p99 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import secrets
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

from app.auth import mint_token
from bench.database import bench_database
from bench.server import running_service

MIB = 1024 * 1024
PIECE = 64 * 1024


@dataclass
class Attack:
    """What one hostile request got: the status line (or how the connection
    ended) and how many bytes it had sent by then."""

    outcome: str
    sent: int


@dataclass
class Scenario:
    name: str
    rss_before: float
    rss_peak: float
    rss_after: float
    healthz: list[float]
    attacks: list[Attack]
    seconds: float

    def line(self) -> str:
        p50 = statistics.median(self.healthz) * 1000
        p99 = _percentile(self.healthz, 0.99) * 1000
        outcomes = Counter(a.outcome for a in self.attacks)
        sent = max(a.sent for a in self.attacks) / MIB
        return (
            f"| {self.name} | {self.rss_before:.0f} | {self.rss_peak:.0f} "
            f"| {self.rss_peak - self.rss_before:+.0f} | {self.rss_after:.0f} "
            f"| {p50:.1f} | {p99:.1f} | {len(self.healthz)} "
            f"| {', '.join(f'{n} x {o}' for o, n in sorted(outcomes.items()))} "
            f"| {sent:.1f} | {self.seconds:.1f} |"
        )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def pathological_body(mib: int) -> bytes:
    """`mib` MiB of `[[],[],…]`: the shape that took 730 MB to parse."""
    return b"[" + b"[]," * (mib * MIB // 3) + b"[]]"


async def _send(host: str, port: int, pieces: Iterator[bytes | memoryview]) -> Attack:
    """Send a request piece by piece (64 KiB, never copied into one big
    buffer) and read the answer's status line; stop sending once the server
    answered or hung up."""
    reader, writer = await asyncio.open_connection(host, port)
    sent = 0
    status = asyncio.ensure_future(reader.readline())
    try:
        for piece in pieces:
            if status.done():
                break
            writer.write(piece)
            sent += len(piece)
            await writer.drain()
        line = await asyncio.wait_for(status, 60)
        outcome = line.decode(errors="replace").strip() or "closed without an answer"
    except (ConnectionError, asyncio.IncompleteReadError):
        outcome = "connection reset"
        if status.done() and not status.cancelled() and status.exception() is None:
            outcome = status.result().decode(errors="replace").strip() or outcome
    finally:
        if not status.done():
            status.cancel()
        writer.close()
    return Attack(" ".join(outcome.split()[1:3]) if outcome.startswith("HTTP/") else outcome, sent)


def _pieces(head: bytes, body: bytes) -> Iterator[bytes | memoryview]:
    yield head
    view = memoryview(body)
    for start in range(0, len(body), PIECE):
        yield view[start : start + PIECE]


def _big_headers(count: int, size: int) -> Iterator[bytes]:
    """A GET whose `count` headers are `size` bytes each, made as it is sent."""
    yield b"GET /healthz HTTP/1.1\r\nhost: bench\r\n"
    filler = b"a" * PIECE
    for i in range(count):
        yield b"x-big-%d: " % i
        for _ in range(size // PIECE):
            yield filler
        yield b"\r\n"
    yield b"\r\n"


def _post(path: str, body_size: int, token: str | None) -> bytes:
    auth = f"authorization: Bearer {token}\r\n" if token else ""
    return (
        f"POST {path} HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
        f"{auth}content-length: {body_size}\r\n\r\n"
    ).encode()


def _attack_in_process(attacks: Callable[[], list[Attack]], done: Any) -> tuple[Any, Any]:
    """The attackers run in a process of their own (forked: `attacks` needs
    no pickling), so that the prober's latencies are the service's, not
    those of the bench's own interpreter writing 120 MB."""
    fork = multiprocessing.get_context("fork")
    results: Any = fork.Queue()

    def run() -> None:
        try:
            results.put(attacks())
        finally:
            done.set()

    process = fork.Process(target=run, name="attackers")
    process.start()
    return process, results


class RssSampler:
    """The peak RSS of a process, sampled every 5 ms on a thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss")

    def rss(self) -> float:
        return float(self.process.memory_info().rss) / MIB

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.rss())

    @contextmanager
    def sampling(self) -> Iterator[None]:
        self.peak = self.rss()
        self._thread = threading.Thread(target=self._run, name="rss")
        self._stop.clear()
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join()


async def _probe_healthz(host: str, port: int, done: Any) -> list[float]:
    """/healthz on one keep-alive connection, back to back, until `done`."""
    reader, writer = await asyncio.open_connection(host, port)
    request = b"GET /healthz HTTP/1.1\r\nhost: bench\r\n\r\n"
    latencies: list[float] = []
    try:
        while not done.is_set() or len(latencies) < 20:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.002)  # a steady probe, not a flood
    finally:
        writer.close()
    return latencies


def scenario(
    name: str, base_url: str, pid: int, attacks: Callable[[str, int], list[Attack]], waves: int
) -> Scenario:
    """`waves` rounds of `attacks`, one after the other, while /healthz is probed."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    sampler = RssSampler(pid)
    time.sleep(1.0)  # let the previous scenario's memory settle
    before = sampler.rss()
    done = multiprocessing.get_context("fork").Event()
    started = time.perf_counter()

    def all_waves() -> list[Attack]:
        return [attack for _ in range(waves) for attack in attacks(host, port)]

    process, results = _attack_in_process(all_waves, done)
    with sampler.sampling():
        healthz = asyncio.run(_probe_healthz(host, port, done))
        attacked: list[Attack] = results.get()
        process.join()
        seconds = time.perf_counter() - started
        time.sleep(1.0)
    return Scenario(name, before, sampler.peak, sampler.rss(), healthz, attacked, seconds)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__.split("\n")[0])
    p.add_argument("--attackers", type=int, default=8, help="hostile bodies sent at once")
    p.add_argument("--body-mib", type=int, default=15, help="size of each hostile body")
    p.add_argument("--header-mib", type=int, default=64, help="size of each of four headers")
    p.add_argument("--waves", type=int, default=10, help="rounds of each attack, one by one")
    p.add_argument("--database-url", default=None, help="a superuser URL (default: embedded)")
    args = p.parse_args(argv)

    body = pathological_body(args.body_mib)
    secret = secrets.token_urlsafe(48)
    token = mint_token(secret, user_id=uuid.uuid4(), ttl_seconds=3600)

    def bodies(with_token: str | None) -> Callable[[str, int], list[Attack]]:
        def attacks(host: str, port: int) -> list[Attack]:
            async def all_at_once() -> list[Attack]:
                head = _post("/v1/projects", len(body), with_token)
                return list(
                    await asyncio.gather(
                        *(_send(host, port, _pieces(head, body)) for _ in range(args.attackers))
                    )
                )

            return asyncio.run(all_at_once())

        return attacks

    def headers(host: str, port: int) -> list[Attack]:
        return [asyncio.run(_send(host, port, _big_headers(4, args.header_mib * MIB)))]

    print("hostile: starting an embedded PostgreSQL and the service …", flush=True)
    with (
        bench_database(args.database_url) as db,
        tempfile.TemporaryDirectory(prefix="bench-hostile-") as log_dir,
        running_service(
            db.login_url, jwt_secret=secret, pool_size=4, log_dir=Path(log_dir), name="hostile"
        ) as service,
    ):
        quiet = scenario("quiet (no attack)", service.base_url, service.pid, _idle, 1)
        rows = [quiet]
        for name, attacks in (
            (f"{args.attackers} anonymous {args.body_mib} MiB `[],` bodies", bodies(None)),
            (f"{args.attackers} signed-in {args.body_mib} MiB `[],` bodies", bodies(token)),
            (f"four {args.header_mib} MiB headers", headers),
        ):
            print(f"hostile: {name} …", flush=True)
            rows.append(scenario(name, service.base_url, service.pid, attacks, args.waves))
    print()
    print(
        "| scenario | RSS before MB | peak MB | growth MB | after MB | /healthz p50 ms "
        "| p99 ms | probes | answers | most sent MiB | s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for row in rows:
        print(row.line())
    print()
    print("Goals (issue 20): peak RSS growth ≤ 100 MB, /healthz p99 ≤ 50 ms.")
    return 0


def _idle(host: str, port: int) -> list[Attack]:
    time.sleep(3.0)
    return [Attack("none", 0)]


if __name__ == "__main__":
    raise SystemExit(main())
