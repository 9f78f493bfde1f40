"""`python -m bench`: database, seed, serve, measure, report — and clean up.

Everything the bench starts is stopped by the `ExitStack` in `main`, in
reverse order (the service before the database it holds connections to),
whether the run ends normally, fails, or is interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import platform
import random
import re
import secrets
import signal
import sys
import tempfile
import uuid
from collections.abc import Coroutine
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from app.auth import Principal, TokenVerifier, mint_token
from app.settings import Settings
from bench import ops as bench_ops
from bench.corpus import DEFAULT_FIXTURES, Corpus
from bench.cpu import CpuMeter, local_postmaster_pid, python_speed
from bench.database import BenchDatabase, bench_database, sibling_database
from bench.growth import DEFAULT_SIZES, GrowthRow, growth_markdown, measure_growth
from bench.http import LeanClient
from bench.measure import Phase, Side, compare
from bench.progress import Progress
from bench.report import Result, cpu_markdown, markdown, write_json
from bench.seed import (
    Scale,
    Seeded,
    analyze_columns,
    create_empty_projects,
    seed,
    settle_search_index,
)
from bench.server import Service, running_service

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
TREE_PATH = "/v1/projects/{project_id}/tree"
T = TypeVar("T")


def add_database_and_scale(p: argparse.ArgumentParser) -> None:
    """The options of every bench that seeds a full-scale database: where
    the database lives and how much it seeds (`python -m bench`,
    `bench.compare`)."""
    defaults = Scale()
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="superuser URL of a server to create the bench database on "
        "(default: $BENCH_DATABASE_URL, else an embedded PostgreSQL in a temp dir)",
    )
    p.add_argument("--creators", type=int, default=defaults.creators)
    p.add_argument("--courses", type=int, default=defaults.courses, help="per creator")
    p.add_argument("--modules", type=int, default=defaults.modules, help="per course")
    p.add_argument("--lessons-per-module", type=int, default=defaults.lessons_per_module)


def scale_and_seeding(scale: Scale, corpus: Corpus, seeded: Seeded) -> dict[str, Any]:
    """What a bench's JSON document says of the data it ran on."""
    return {
        "scale": {
            "creators": scale.creators,
            "courses_per_creator": scale.courses,
            "modules_per_course": scale.modules,
            "lessons_per_module": scale.lessons_per_module,
            "nodes_per_course": scale.nodes_per_course,
            "corpus": corpus.source,
        },
        "seeding": {
            "seconds": round(seeded.seconds, 1),
            "phases_seconds": {k: round(v, 1) for k, v in seeded.phases.items()},
            "rows": seeded.rows,
            "database_size": seeded.size,
        },
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Seed a realistic database, serve the API, and measure each operation "
        "through HTTP and as the raw asyncpg floor.",
    )
    add_database_and_scale(p)
    p.add_argument("--requests", type=int, default=200, help="timed requests per phase")
    p.add_argument("--warmup", type=int, default=20, help="untimed requests before each phase")
    p.add_argument("--concurrency", type=int, default=8, help="for the req/s phase")
    p.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="the timed requests are split into this many chunks, service and floor "
        "alternating (ABBA), so drift during the run hits both alike",
    )
    p.add_argument(
        "--only",
        default="",
        help="comma-separated operation keys (healthz, metrics, content_get, content_list, "
        "project_list, tree_read_nobody, tree_read_body, tree_upsert_new, tree_upsert_rerun, "
        "search), and the extra phases: workers (tree read req/s with 1 vs 2 uvicorn "
        "workers), growth (tree write/read by size on a fresh and an analyzed database)",
    )
    p.add_argument(
        "--growth-sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        help="node counts of the growth phase (each <= 5000)",
    )
    p.add_argument(
        "--growth-repeats", type=int, default=3, help="writes (and reads of each) per size"
    )
    p.add_argument(
        "--no-compression",
        action="store_true",
        help="send Accept-Encoding: identity (default: httpx's gzip, deflate, as clients "
        "do; the app gzips answers over 1 KB)",
    )
    p.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="run the service under cProfile and write its stats to FILE "
        "(for finding where the time goes; the numbers of such a run are not comparable)",
    )
    p.add_argument("--seed-jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    try:
        args.growth_sizes = tuple(int(x) for x in args.growth_sizes.split(",") if x.strip())
    except ValueError:
        p.error("--growth-sizes takes comma-separated integers")
    if not all(2 <= n <= 5000 for n in args.growth_sizes) or args.growth_repeats < 1:
        p.error("--growth-sizes must be between 2 and 5000, --growth-repeats >= 1")
    args.wanted = {key.strip() for key in args.only.split(",") if key.strip()}
    for name in ("creators", "courses", "modules", "lessons_per_module", "requests"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0 or args.concurrency < 1 or not 1 <= args.rounds <= args.requests:
        p.error("--warmup must be >= 0, --concurrency >= 1, 1 <= --rounds <= --requests")
    return args


def run_on_uvloop(coro: Coroutine[Any, Any, T]) -> T:
    """On uvloop, as uvicorn runs the app: client and floor on the same footing."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run(coro)
    return uvloop.run(coro)


def interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM cleans up like Ctrl-C does (the ExitStack below unwinds); and
    # Ctrl-C works even when started with SIGINT ignored (`cmd &` in a script).
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    progress = Progress()
    scale = Scale(args.creators, args.courses, args.modules, args.lessons_per_module)
    try:
        with ExitStack() as stack:
            progress.done(
                "bench: "
                + (
                    f"database on {re.sub(r'//[^@/]*@', '//…@', args.database_url)}"
                    if args.database_url
                    else "starting an embedded PostgreSQL in a temp dir"
                )
            )
            db = stack.enter_context(bench_database(args.database_url))
            corpus = Corpus.load(args.fixtures)
            seeded = run_on_uvloop(
                seed(db.admin_dsn, corpus, scale, jobs=args.seed_jobs, progress=progress)
            )
            secret = secrets.token_urlsafe(48)
            settings = Settings(_env_file=None, jwt_secret=SecretStr(secret))  # type: ignore[call-arg]
            log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
            service = stack.enter_context(
                running_service(
                    db.login_url,
                    jwt_secret=secret,
                    pool_size=settings.db_pool_size,
                    log_dir=log_dir,
                    profile=args.profile,
                )
            )
            document, results = run_on_uvloop(
                measure(args, db, seeded, corpus, scale, settings, service, progress)
            )
            workers_row = None
            if _wanted(args, "workers") and results_have_trees(document):
                workers_row = _workers_phase(
                    args, db, seeded, settings, secret, service, log_dir, progress
                )
                document["workers"] = workers_row
            growth: list[GrowthRow] = []
            if _wanted(args, "growth") and results_have_trees(document):
                growth = _growth_phase(args, db, corpus, settings, secret, log_dir, progress)
                document["growth"] = {
                    "body_bytes": 1000,
                    "autovacuum": "off on contents; 'analyzed' = after ANALYZE contents",
                    "rows": [row.as_json() for row in growth],
                }
            print()
            print(_preamble(document))
            print()
            if results:
                print(markdown(results, args.concurrency))
                print()
                print("CPU per request at concurrency 1, ms (who was busy while a caller waited):")
                print()
                print(cpu_markdown(results))
                print()
            if workers_row is not None:
                print(
                    f"Tree read (no bodies), req/s at concurrency {args.concurrency}: "
                    f"1 worker {workers_row['rps'][0]:,.0f}, 2 workers "
                    f"{workers_row['rps'][1]:,.0f} ({workers_row['speedup']:.2f}x)"
                )
                print()
            if growth:
                print(
                    "Growth: PUT then GET (no bodies) of a new course, 1 KB bodies, medians; "
                    "fresh = never analyzed (autovacuum off), then after ANALYZE:"
                )
                print()
                print(growth_markdown(growth))
                print()
            write_json(args.output, document)
            print(f"JSON: {args.output}")
    except KeyboardInterrupt:
        print("\nbench: interrupted; the service and the database were stopped", file=sys.stderr)
        return 130
    return 0


async def measure(
    args: argparse.Namespace,
    db: BenchDatabase,
    seeded: Seeded,
    corpus: Corpus,
    scale: Scale,
    settings: Settings,
    service: Service,
    progress: Progress,
) -> tuple[dict[str, Any], list[Result]]:
    """Every operation, service and floor; the JSON document and the results."""
    creator = seeded.creators[0]
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
    token = mint_token(secret, user_id=creator.user_id, ttl_seconds=24 * 3600)
    # The floor publishes exactly the claims the service gets from this token.
    principal: Principal = TokenVerifier(settings).verify(token)

    async with httpx.AsyncClient(base_url=service.base_url) as docs:
        paths = (await docs.get("/openapi.json")).json()["paths"]
    trees = TREE_PATH in paths and "put" in paths[TREE_PATH]
    if not trees:
        progress.done(f"bench: the service has no {TREE_PATH} yet; skipping the tree operations")

    per_phase = args.warmup + args.requests
    phase_count = 2 if args.concurrency > 1 else 1
    empty: list[Any] = []
    if trees:
        # Fresh upserts: service and floor, each concurrency, plus 2 for the checks.
        empty = await create_empty_projects(db.admin_dsn, creator, 2 * phase_count * per_phase + 2)
    await quiet_autovacuum(db.admin_dsn)

    targets = bench_ops.Targets(
        projects=creator.project_ids,
        contents=[content_id for content_id, _ in seeded.bench_contents],
        empty_projects=empty,
    )
    rng_course = random.Random(7)
    course = corpus.course(
        rng_course,
        "bench-course",
        "Bench: um curso novo inteiro",
        modules=scale.modules,
        lessons_per_module=scale.lessons_per_module,
    )
    operations = bench_ops.build_operations(
        targets,
        bench_ops.Floor(principal),
        course.payload(),
        scale.nodes_per_course,
        trees=trees,
    )
    if args.only:
        wanted = args.wanted - EXTRA_PHASES
        unknown = wanted - {op.key for op in operations}
        if unknown:
            raise SystemExit(
                f"bench: unknown or unavailable operations: {', '.join(sorted(unknown))}"
            )
        operations = [op for op in operations if op.key in wanted]

    pool = await asyncpg.create_pool(
        db.login_dsn,
        min_size=settings.db_pool_size,
        max_size=settings.db_pool_size,
        server_settings={"application_name": "creatoros-bench-floor"},
    )
    meter = CpuMeter(service.pid, await local_postmaster_pid(db.admin_dsn))
    speed_before = python_speed()

    async def refresh_stats() -> None:
        await settle_search_index(db.admin_dsn)
        await analyze_columns(db.admin_dsn)

    results: list[Result] = []
    try:
        for op in operations:
            await check_operation(op, service, token, pool)
            measured: dict[tuple[str, int], Phase] = {}
            for concurrency in sorted({1, args.concurrency}):
                async with lean_client(
                    service, token, concurrency, compression=not args.no_compression
                ) as client:
                    sides = [
                        Side(
                            "service",
                            functools.partial(op.service, client),
                            op.targets("service", concurrency, per_phase),
                        )
                    ]
                    if op.floor is not None:
                        sides.append(
                            Side(
                                "floor",
                                functools.partial(op.floor, pool),
                                op.targets("floor", concurrency, per_phase),
                            )
                        )
                    phases = await compare(
                        sides,
                        warmup=args.warmup,
                        rounds=args.rounds,
                        concurrency=concurrency,
                        progress=progress,
                        label=f"{op.key} c={concurrency}",
                        meter=meter,
                        between=refresh_stats if op.method != "GET" else None,
                    )
                for mode, phase in phases.items():
                    measured[(mode, concurrency)] = phase
            c = args.concurrency
            result = Result(
                op.key,
                op.label,
                measured[("service", 1)],
                measured[("service", c)],
                measured.get(("floor", 1)),
                measured.get(("floor", c)),
            )
            results.append(result)
            floor_note = (
                f", floor {result.floor_latency.pct(50):.2f} ms ({result.ratio_p50:.1f}x)"
                if result.floor_latency
                else ""
            )
            progress.done(
                f"{op.label}: p50 {result.service_latency.pct(50):.2f} ms{floor_note}, "
                f"{result.service_throughput.rps:,.0f} req/s at c={c}"
            )
    finally:
        await pool.close()
    gzip_cache = await _gzip_cache_lookups(service)

    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            **await machine_info(db, service),
            "python_loop_ms": {"before": speed_before, "after": python_speed()},
        },
        **scale_and_seeding(scale, corpus, seeded),
        "run": {
            "requests_per_phase": args.requests,
            "rounds": args.rounds,
            "warmup_per_phase": args.warmup,
            "concurrency": args.concurrency,
            "latency_from": "concurrency 1",
            "rps_from": f"concurrency {args.concurrency}",
            "pool_size": settings.db_pool_size,
            "http_client": "bench/http.py (asyncio streams, ISA-L gunzip), HTTP/1.1 keep-alive,"
            " same machine",
            "accept_encoding": _accept_encoding(not args.no_compression),
            "autovacuum": "off on contents and content_projects while measuring; "
            "ANALYZE (plain columns) after every chunk of writes, untimed",
            "tree_endpoints": trees,
            "gzip_cache_lookups": gzip_cache,
            "upsert_payload_bytes": len(bench_ops.encode_body(course.payload())),
        },
        "operations": [r.as_json() for r in results],
    }
    return document, results


EXTRA_PHASES = frozenset({"workers", "growth"})


def _wanted(args: argparse.Namespace, key: str) -> bool:
    return not args.wanted or key in args.wanted


def results_have_trees(document: dict[str, Any]) -> bool:
    return bool(document["run"]["tree_endpoints"])


def _workers_phase(
    args: argparse.Namespace,
    db: BenchDatabase,
    seeded: Seeded,
    settings: Settings,
    secret: str,
    service: Service,
    log_dir: Path,
    progress: Progress,
) -> dict[str, Any]:
    """Tree reads (no bodies) at `--concurrency`: the 1-worker service and a
    2-worker one on the same database, interleaved (ABBA)."""
    creator = seeded.creators[0]
    token = mint_token(secret, user_id=creator.user_id, ttl_seconds=24 * 3600)
    with running_service(
        db.login_url,
        jwt_secret=secret,
        pool_size=settings.db_pool_size,
        log_dir=log_dir,
        workers=2,
        name="uvicorn-2-workers",
    ) as two:

        async def run() -> dict[str, Phase]:
            count = args.warmup + args.requests
            projects = [creator.project_ids[i % len(creator.project_ids)] for i in range(count)]
            async with (
                lean_client(service, token, args.concurrency) as one_client,
                lean_client(two, token, args.concurrency) as two_client,
            ):
                return await compare(
                    [
                        Side(
                            "1 worker", functools.partial(bench_ops.read_tree, one_client), projects
                        ),
                        Side(
                            "2 workers",
                            functools.partial(bench_ops.read_tree, two_client),
                            projects,
                        ),
                    ],
                    warmup=args.warmup,
                    rounds=args.rounds,
                    concurrency=args.concurrency,
                    progress=progress,
                    label=f"workers c={args.concurrency}",
                )

        phases = run_on_uvloop(run())
    rps = [phases["1 worker"].rps, phases["2 workers"].rps]
    progress.done(
        f"tree read req/s at c={args.concurrency}: 1 worker {rps[0]:,.0f}, 2 {rps[1]:,.0f}"
    )
    return {
        "operation": "GET tree, no bodies",
        "concurrency": args.concurrency,
        "rps": [round(x, 1) for x in rps],
        "speedup": round(rps[1] / rps[0], 2),
        "p50_ms": [round(phases[k].pct(50), 3) for k in ("1 worker", "2 workers")],
    }


def _growth_phase(
    args: argparse.Namespace,
    db: BenchDatabase,
    corpus: Corpus,
    settings: Settings,
    secret: str,
    log_dir: Path,
    progress: Progress,
) -> list[GrowthRow]:
    """Growth on a database of its own, fresh from the migrations."""
    from app.db.engine import create_engine
    from app.ops.admin import provision_mind

    with sibling_database(db) as fresh:

        async def creator() -> uuid.UUID:
            engine = create_engine(fresh.login_url, settings.model_copy(update={"db_pool_size": 1}))
            try:
                mind = await provision_mind(engine, slug="growth", name="Growth", user_id=None)
            finally:
                await engine.dispose()
            return mind.user_id

        token = mint_token(secret, user_id=run_on_uvloop(creator()), ttl_seconds=24 * 3600)
        with running_service(
            fresh.login_url,
            jwt_secret=secret,
            pool_size=settings.db_pool_size,
            log_dir=log_dir,
            # The default MAX_BODY_BYTES, on purpose: it must take a
            # 5,000-node course with 1 KB bodies (~7 MB of JSON).
            name="uvicorn-growth",
        ) as service:

            async def run() -> list[GrowthRow]:
                async with httpx.AsyncClient(
                    base_url=service.base_url,
                    headers={"authorization": f"Bearer {token}"},
                    timeout=300,
                ) as client:
                    meter = CpuMeter(service.pid, await local_postmaster_pid(fresh.admin_dsn))
                    return await measure_growth(
                        client, fresh.admin_dsn, corpus, args.growth_sizes,
                        args.growth_repeats, progress, meter,
                    )  # fmt: skip

            return run_on_uvloop(run())


def _accept_encoding(compression: bool) -> str:
    """What clients send (gzip, which bench/http.py decodes), or none at all."""
    return "gzip, deflate" if compression else "identity"


def lean_client(
    service: Service, token: str, concurrency: int, *, compression: bool = True
) -> LeanClient:
    """The timed requests' client (bench/http.py: why not httpx there)."""
    headers = {"authorization": f"Bearer {token}", "accept-encoding": _accept_encoding(compression)}
    return LeanClient(service.base_url, headers, max_connections=concurrency)


async def check_operation(
    op: bench_ops.Operation,
    service: Service,
    token: str,
    pool: asyncpg.Pool | None,
    *,
    side: str = "service",
) -> None:
    """Both sides must do the work, not fail fast or see nothing (a floor
    that RLS hides every row from would look wonderfully quick). Without a
    pool, the service alone (`bench.compare`: each side is a service)."""
    async with lean_client(service, token, 1) as client:
        (target,) = op.targets(f"check-{side}", 1, 1)
        response = await op.service(client, target)
        got = op.service_rows(response)
    if got != op.expected_rows:
        raise RuntimeError(f"{op.key}: the {side} returned {got} rows, not {op.expected_rows}")
    if op.floor is not None and pool is not None:
        (target,) = op.targets("check-floor", 1, 1)
        got = await op.floor(pool, target)
        if got != op.expected_rows:
            raise RuntimeError(f"{op.key}: the floor saw {got} rows, not {op.expected_rows}")


async def quiet_autovacuum(dsn: str) -> None:
    """No autovacuum/autoanalyze on the big tables while measuring: the
    fresh-course upserts add enough rows to trigger an ANALYZE, which on
    this table means `to_tsvector` over a 30,000-row sample — seconds of a
    core, landing on whichever phase happens to be running. Instead the bench
    runs a cheap column-list ANALYZE after every chunk of writes (untimed),
    so plans still follow the table's growth. The bench database is dropped
    afterwards, so nothing needs resetting."""
    conn = await asyncpg.connect(dsn)
    try:
        for table in ("contents", "content_projects"):
            await conn.execute(f"ALTER TABLE public.{table} SET (autovacuum_enabled = false)")
    finally:
        await conn.close()


async def _gzip_cache_lookups(service: Service) -> dict[str, int]:
    """The service's gzip cache over the whole run (warm-ups and checks
    included), from its /metrics: how many tree answers were compressed
    (misses) and how many were served already compressed (hits)."""
    async with httpx.AsyncClient(base_url=service.base_url) as client:
        text = (await client.get("/metrics")).text
    return {
        sample.labels["result"]: int(sample.value)
        for family in text_string_to_metric_families(text)
        if family.name == "creatoros_gzip_cache_lookups"
        for sample in family.samples
        if sample.name.endswith("_total")
    }


async def machine_info(db: BenchDatabase, service: Service) -> dict[str, Any]:
    conn = await asyncpg.connect(db.admin_dsn)
    try:
        version = await conn.fetchval("SELECT version()")
        pg_settings = {
            r["name"]: r["value"]
            for r in await conn.fetch(
                "SELECT name, current_setting(name) AS value FROM pg_settings WHERE name IN ("
                "'shared_buffers', 'max_connections', 'synchronous_commit', 'fsync', "
                "'work_mem', 'jit')"
            )
        }
    finally:
        await conn.close()
    server_line = next(
        (
            line.strip()
            for line in service.log_path.read_text(errors="replace").splitlines()
            if line.startswith("bench.server:")
        ),
        "",
    )
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgresql": version,
        "postgresql_embedded": db.embedded,
        "postgresql_settings": pg_settings,
        "uvicorn": server_line.removeprefix("bench.server:").strip(),
    }


def _preamble(document: dict[str, Any]) -> str:
    m, s, r = document["machine"], document["scale"], document["run"]
    seeding = document["seeding"]
    return "\n".join(
        [
            f"Machine: {m['cpu_count']} CPUs, {m['platform']}, Python {m['python']}; "
            f"a fixed Python loop (bench.cpu.python_speed) took "
            f"{m['python_loop_ms']['before']} ms of CPU before the operations and "
            f"{m['python_loop_ms']['after']} ms after (machine speed: compare runs by it)",
            f"PostgreSQL: {m['postgresql'].split(' on ')[0]}"
            f"{' (embedded, temp dir)' if m['postgresql_embedded'] else ''}",
            f"Service: uvicorn, 1 worker ({m['uvicorn']}), same machine as PostgreSQL "
            "and the load generator",
            f"Data: {seeding['rows']['contents']:,} contents ({s['creators']} creators x "
            f"{s['courses_per_creator']} courses x {s['nodes_per_course']} nodes, ~5 KB "
            f"bodies), seeded in {seeding['seconds']} s; database {seeding['database_size']}",
            f"Run: {r['requests_per_phase']} timed requests per phase after "
            f"{r['warmup_per_phase']} warm-up, service and floor interleaved in "
            f"{r['rounds']} rounds; latency at concurrency 1, req/s at "
            f"concurrency {r['concurrency']}; Accept-Encoding: {r['accept_encoding']}; "
            f"floor = raw asyncpg, pool {r['pool_size']}, same tenant switch and SQL",
            "gzip cache (trees, by ETag) over the run: "
            + ", ".join(
                f"{n:,} {'hits' if k == 'hit' else 'misses'}"
                for k, n in sorted(r.get("gzip_cache_lookups", {}).items())
            ),
        ]
    )
