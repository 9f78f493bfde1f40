"""Tree reads with one primary vs primary + a streaming replica.

    python -m bench.replica [--requests N] [--concurrency 8] [--workers 1]

Both on this machine: the bench's embedded PostgreSQL (seeded at a small
scale), a hot standby made from it with `pg_basebackup -R`, and two services
on the same data: one with every read on the primary, one with
`DATABASE_READ_URL` naming the standby. Tree reads (no bodies) as a creator,
at `--concurrency`, interleaved (ABBA) so drift weighs on both alike. Prints
req/s of each, the ratio, and where the second service's reads ran (its
/metrics).

On one machine the replica adds no CPU: both servers share its cores with
the services and the load generator. What the ratio shows there is the cost
(or not) of the routing itself; on separate machines the replica's CPU is
added to the primary's.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import pwd
import re
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg

from app.auth import mint_token
from bench import standby as standby_tools
from bench.corpus import DEFAULT_FIXTURES, Corpus
from bench.database import BenchDatabase, bench_database, execute_once
from bench.http import LeanClient
from bench.measure import Phase, Side, compare
from bench.ops import read_tree
from bench.progress import Progress
from bench.seed import Scale, seed
from bench.server import Service, running_service

REPLICATION_ROLE = "bench_replicator"
POOL_SIZE = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.replica", description=__doc__)
    parser.add_argument("--requests", type=int, default=3000, help="timed reads per side")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4, help="ABBA chunks per side")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers per service")
    parser.add_argument("--creators", type=int, default=5)
    parser.add_argument("--courses", type=int, default=8)
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    return parser.parse_args(argv)


def _socket(dsn: str) -> tuple[Path, str]:
    """The embedded server's socket directory (its data directory) and port."""
    query = parse_qs(urlsplit(dsn).query)
    return Path(query["host"][0]), query["port"][0]


@contextmanager
def standby(db: BenchDatabase) -> Iterator[str]:
    """A hot standby of the bench's embedded server; yields the login role's
    URL to the bench database on it. Stopped and deleted on exit."""
    pgdata, port = _socket(db.admin_dsn)
    owner = pwd.getpwuid(pgdata.stat().st_uid).pw_name
    user = owner if os.geteuid() == 0 and owner != "root" else None
    admin = db.admin_dsn

    asyncio.run(execute_once(admin, f"CREATE ROLE {REPLICATION_ROLE} REPLICATION LOGIN"))
    standby_tools.allow_replication(pgdata, REPLICATION_ROLE)
    asyncio.run(execute_once(admin, "SELECT pg_reload_conf()"))
    root = Path(tempfile.mkdtemp(prefix="creatoros-bench-standby-"))
    target = root / "pgdata"
    target.mkdir(mode=0o700)
    if user:
        shutil.chown(root, user=user)
        shutil.chown(target, user=user)
    try:
        standby_tools.base_backup(
            socket_dir=pgdata, port=port, role=REPLICATION_ROLE, target=target, user=user,
            conf="hot_standby = on\n",
        )  # fmt: skip
        standby_tools.start(target, user=user)
        login = re.sub(r"host=[^&]+", f"host={target}", db.login_url)
        yield login
    finally:
        standby_tools.pg_ctl(target, "-w", "-m", "immediate", "stop", user=user, check=False)
        shutil.rmtree(root, ignore_errors=True)
        asyncio.run(execute_once(admin, f"DROP ROLE IF EXISTS {REPLICATION_ROLE}"))


async def _caught_up(primary_dsn: str, standby_url: str) -> None:
    """Until the standby has replayed everything the primary has now (the seed)."""
    standby_dsn = standby_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    primary = await asyncpg.connect(primary_dsn)
    try:
        target = await primary.fetchval("SELECT pg_current_wal_lsn()")
    finally:
        await primary.close()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            conn = await asyncpg.connect(standby_dsn)
        except (OSError, asyncpg.PostgresError):
            await asyncio.sleep(0.2)
            continue
        try:
            if await conn.fetchval("SELECT pg_last_wal_replay_lsn() >= $1", target):
                return
        finally:
            await conn.close()
        await asyncio.sleep(0.2)
    raise RuntimeError("the standby did not catch up with the seeded data")


async def _reads_by_target(service: Service) -> dict[str, float]:
    client = LeanClient(service.base_url, {}, max_connections=1)
    async with client:
        text = (await client.get("/metrics")).text
    found = re.findall(r'creatoros_db_reads_total\{target="(\w+)"\} ([0-9.e+]+)', text)
    return {target: float(value) for target, value in found}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    progress = Progress()
    scale = Scale(creators=args.creators, courses=args.courses)
    with ExitStack() as stack:
        progress.done("bench.replica: starting an embedded PostgreSQL in a temp dir")
        db = stack.enter_context(bench_database(None))
        corpus = Corpus.load(args.fixtures)
        seeded = asyncio.run(seed(db.admin_dsn, corpus, scale, jobs=2, progress=progress))
        progress.done(f"bench.replica: seeded {seeded.rows}")
        replica_url = stack.enter_context(standby(db))
        asyncio.run(_caught_up(db.admin_dsn, replica_url))
        progress.done("bench.replica: streaming replica up and caught up")
        secret = secrets.token_urlsafe(48)
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-replica-")))
        common = {"jwt_secret": secret, "pool_size": POOL_SIZE, "log_dir": log_dir,
                  "workers": args.workers}  # fmt: skip
        alone = stack.enter_context(running_service(db.login_url, name="primary", **common))  # type: ignore[arg-type]
        routed = stack.enter_context(
            running_service(
                db.login_url,
                name="primary-and-replica",
                extra_env={"DATABASE_READ_URL": replica_url},
                **common,  # type: ignore[arg-type]
            )
        )
        creator = seeded.creators[0]
        token = mint_token(secret, user_id=creator.user_id, ttl_seconds=3600)
        phases = asyncio.run(_measure(args, alone, routed, token, creator.project_ids, progress))
        targets = asyncio.run(_reads_by_target(routed))
    one, two = phases["primary"], phases["primary + replica"]
    print(
        f"tree reads (GET tree, no bodies) at c={args.concurrency}, "
        f"{args.workers} worker(s) per service, {two.requests} timed each, on {os.cpu_count()} "
        f"cores:\n"
        f"  primary only       {one.rps:8,.0f} req/s  p50 {one.pct(50):6.2f} ms"
        f"  p95 {one.pct(95):6.2f} ms\n"
        f"  primary + replica  {two.rps:8,.0f} req/s  p50 {two.pct(50):6.2f} ms"
        f"  p95 {two.pct(95):6.2f} ms\n"
        f"  ratio {two.rps / one.rps:.2f}; the second service's reads ran on: "
        + ", ".join(f"{k} {v:,.0f}" for k, v in sorted(targets.items()))
    )
    return 0


async def _measure(
    args: argparse.Namespace,
    alone: Service,
    routed: Service,
    token: str,
    project_ids: list[uuid.UUID],
    progress: Progress,
) -> dict[str, Phase]:
    count = args.warmup + args.requests
    projects = [project_ids[i % len(project_ids)] for i in range(count)]
    headers = {"authorization": f"Bearer {token}", "accept-encoding": "gzip, deflate"}
    async with (
        LeanClient(alone.base_url, headers, args.concurrency) as one,
        LeanClient(routed.base_url, headers, args.concurrency) as two,
    ):
        return await compare(
            [
                Side("primary", functools.partial(read_tree, one), projects),
                Side("primary + replica", functools.partial(read_tree, two), projects),
            ],
            warmup=args.warmup,
            rounds=args.rounds,
            concurrency=args.concurrency,
            progress=progress,
            label=f"replica c={args.concurrency}",
        )


if __name__ == "__main__":
    raise SystemExit(main())
