"""What course versions cost (issue 23): the tree write with and without the
revision triggers, the history's storage after 20 re-imports, and the read
of an old revision's tree against the live one.

    python -m bench.revisions [--database-url URL] [--courses 20] [--repeats 10]
                              [--switch-per-write] [--http-rounds 8] [--http-requests 10]

On a fresh migrated database (its own, as the bench's): `--courses` other
133-node courses are written first (the table is not empty), then:

- **write cost**: the tree PUT's statements (`app.trees.sql`: lock, existing
  slugs, `UPSERT_NODES`) as `authenticated` with a creator's claims, as the
  service runs them, for a new 133-node course, a re-import with 3 changed
  lessons, and a no-op re-import; each in a transaction rolled back, with
  the three revision triggers on, off (ALTER TABLE … DISABLE TRIGGER), and
  replaced by the same three triggers over a function that returns at once
  (the floor: what firing statement triggers with transition tables costs
  before the function does anything), interleaved. Each variant's triggers
  are committed, then one write of each kind runs unkept, so that kept
  writes run on cached plans as a service's do (`--switch-per-write`: the
  DDL inside each measured write's transaction instead, as this bench did
  until revision 0013; every write then also re-plans whatever the DDL
  invalidated, a cost that falls on the triggers' statements).
  The backend's CPU (the server runs on this machine: Linux's per-task
  `schedstat`, in nanoseconds, else psutil's 10 ms ticks) and the wall
  clock, median over `--repeats`. On a shared host the wall clock carries
  the other tenants' load; the backend's own CPU time does not (much).
- **storage**: one course written, then re-imported 20 times with 3
  changed lessons each (committed): the live rows' bytes (pg_column_size,
  i.e. as stored, bodies compressed) against the history's (revisions,
  history rows, bodies).
- **write cost through the service** (`--http-rounds`, 0 to skip): the
  same three writes as real `PUT /v1/projects/{id}/tree` requests to the
  service (uvicorn, one worker) on this database, committed, with the
  revision triggers on and off (committed `ALTER TABLE`; after each switch,
  unkept requests until every pooled connection has its plans cached
  again), in ABBA rounds of `--http-requests` each: the
  write as a client and a backfill feel it. The 3-changed-lessons write
  alternates between two versions of a course (each PUT changes 3 lessons);
  each new course goes to a project of its own. Per request: wall median,
  the service's CPU and its PostgreSQL backends' (autovacuum and the
  server's background processes left out), to the nanosecond, up to the
  moment the service's indexer has built the search documents the chunk's
  writes deferred (their cost, not the next chunk's).
- **read**: the tree read's statement and nesting (`READ_PROJECT_TREE`,
  `shape.nest`, `tree_answer`) against the tree at revision 1 of that
  course (`app.revisions.sql.TREE_AT`), with and without bodies; median
  wall clock of `--repeats` x 10 reads, in one read-only transaction each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from app.auth import mint_token
from app.revisions import sql as revisions_sql
from app.trees import shape
from app.trees import sql as trees_sql
from app.trees.schemas import TreeNodeIn, TreeUpsert
from app.trees.service import tree_answer
from bench.corpus import Corpus
from bench.cpu import runtime_seconds
from bench.database import BenchDatabase, bench_database
from bench.measure import abba
from bench.server import running_service

TRIGGERS = ("contents_revision_insert", "contents_revision_update", "contents_revision_delete")

# The floor's trigger function (the bench's database only), and its triggers:
# the revision triggers' own declarations (transition tables and all) over it.
FLOOR_FUNCTION = """
CREATE FUNCTION creatoros_internal.bench_returns_at_once() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$"""
FLOOR_TRIGGERS = [
    """CREATE TRIGGER bench_floor_insert AFTER INSERT ON contents
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION creatoros_internal.bench_returns_at_once()""",
    """CREATE TRIGGER bench_floor_update AFTER UPDATE ON contents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION creatoros_internal.bench_returns_at_once()""",
    """CREATE TRIGGER bench_floor_delete AFTER DELETE ON contents
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION creatoros_internal.bench_returns_at_once()""",
]
VARIANTS = ("with revisions", "floor (returns at once)", "without")
# The three writes of the goal.
NEW, CHANGED, NO_OP = (
    "PUT a new 133-node course",
    "PUT 3 changed lessons",
    "PUT no-op (nothing changed)",
)


def course(corpus: Corpus, rng: random.Random, slug: str) -> list[TreeNodeIn]:
    """A 133-node course (1 outline, 12 modules of 10 lessons, ~5 KB bodies)."""
    root = corpus.course(rng, slug, slug.title(), modules=12, lessons_per_module=10)
    return TreeUpsert.model_validate_json(json.dumps({"nodes": [root.payload()]})).nodes


def with_changed_lessons(nodes: list[TreeNodeIn], changed: int, mark: str) -> list[TreeNodeIn]:
    """The same course, `changed` lessons' bodies edited."""
    tree = [n.model_copy(deep=True) for n in nodes]
    lessons = [n for n, _, _ in shape.walk(tree) if n.content_type == "course_lesson"]
    for lesson in random.Random(mark).sample(lessons, changed):
        lesson.content = f"{lesson.content}\n\nRevisto: {mark}.\n"
    return tree


async def as_creator(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """This transaction as the service runs a creator's request."""
    claims = json.dumps({"sub": str(user_id), "role": "authenticated"})
    await conn.execute(
        "SELECT set_config('role', 'authenticated', true),"
        " set_config('request.jwt.claims', $1, true),"
        " set_config('application_name', 'creatoros bench', true)",
        claims,
    )


async def upsert(conn: asyncpg.Connection, project: uuid.UUID, nodes: list[TreeNodeIn]) -> None:
    """The tree PUT's writing statements, as `app.trees.service.upsert_tree` runs them."""
    await conn.execute(trees_sql.LOCK_PROJECT, project)
    slugs = shape.all_slugs(nodes)
    existing = {
        r["slug"]: r["id"] for r in await conn.fetch(trees_sql.EXISTING_SLUGS, project, slugs)
    }
    plan = shape.plan_upsert(nodes, existing)
    await conn.execute(trees_sql.UPSERT_NODES, *plan.args(project))


async def new_creator(conn: asyncpg.Connection, slug: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A mind and a user signed in as it: (mind id, user id)."""
    mind: uuid.UUID = await conn.fetchval(
        "INSERT INTO minds (slug, display_name) VALUES ($1, $1) RETURNING id", slug
    )
    user = uuid.uuid4()
    await conn.execute("INSERT INTO user_profiles (id, mind_id) VALUES ($1, $2)", user, mind)
    return mind, user


async def new_project(conn: asyncpg.Connection, mind: uuid.UUID, slug: str) -> uuid.UUID:
    project: uuid.UUID = await conn.fetchval(
        "INSERT INTO content_projects (slug, name, project_type, creator_mind_id)"
        " VALUES ($1, $1, 'course', $2) RETURNING id",
        slug,
        mind,
    )
    return project


def cpu_ms(process: psutil.Process) -> float:
    """CPU milliseconds `process` has run: Linux's schedstat (nanoseconds), else
    psutil's user + system times (10 ms ticks)."""
    try:
        with open(f"/proc/{process.pid}/schedstat") as stat:
            return int(stat.read().split()[0]) / 1e6
    except OSError:
        times = process.cpu_times()
        return (times.user + times.system) * 1000


async def timed(process: psutil.Process, work: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """(CPU ms of the backend, wall ms) of `work`."""
    before, started = cpu_ms(process), time.perf_counter()
    await work()
    return cpu_ms(process) - before, (time.perf_counter() - started) * 1000


async def measure(
    dsn: str, courses: int, repeats: int, switch_per_write: bool = False
) -> dict[str, Any]:
    rng = random.Random(23)
    corpus = Corpus.load()
    conn = await asyncpg.connect(dsn)
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    try:
        mind, user = await new_creator(conn, "bench")
        base = course(corpus, rng, "base")
        for n in range(courses):
            other = await new_project(conn, mind, f"other-{n}")
            async with conn.transaction():
                await as_creator(conn, user)
                await upsert(conn, other, course(corpus, rng, f"other-{n}"))
        written = await new_project(conn, mind, "written")
        async with conn.transaction():
            await as_creator(conn, user)
            await upsert(conn, written, base)
        empty = await new_project(conn, mind, "empty")
        await conn.execute(FLOOR_FUNCTION)
        await conn.execute("VACUUM ANALYZE")
        process = psutil.Process(await conn.fetchval("SELECT pg_backend_pid()"))

        operations: dict[str, tuple[uuid.UUID, list[TreeNodeIn]]] = {
            NEW: (empty, base),
            CHANGED: (written, with_changed_lessons(base, 3, "write")),
            NO_OP: (written, base),
        }
        cost: dict[str, dict[str, list[tuple[float, float]]]] = {}

        async def switch(variant: str) -> None:
            """The variant's triggers on `contents` (in the write's transaction)."""
            if variant != "with revisions":
                for name in TRIGGERS:
                    await conn.execute(f"ALTER TABLE contents DISABLE TRIGGER {name}")
            if variant.startswith("floor"):
                for statement in FLOOR_TRIGGERS:
                    await conn.execute(statement)

        async def write(
            variant: str, project: uuid.UUID, nodes: list[TreeNodeIn]
        ) -> tuple[float, float]:
            """One write in a transaction rolled back: (CPU ms, wall ms)."""
            transaction = conn.transaction()
            await transaction.start()
            try:
                if switch_per_write:
                    await switch(variant)
                await as_creator(conn, user)
                return await timed(process, lambda: upsert(conn, project, nodes))
            finally:
                await transaction.rollback()

        for repeat in range(repeats + 1):  # the first is a warm-up (plans cached), not kept
            for variant in VARIANTS:
                if not switch_per_write:
                    # The variant's triggers committed, then one write of each
                    # kind not kept: every kept write runs on cached plans, as
                    # a service's writes do between two DDL statements.
                    async with conn.transaction():
                        await switch(variant)
                    for project, nodes in operations.values():
                        await write(variant, project, nodes)
                for label, (project, nodes) in operations.items():
                    spent = await write(variant, project, nodes)
                    if repeat:
                        cost.setdefault(label, {}).setdefault(variant, []).append(spent)
                if not switch_per_write:
                    async with conn.transaction():
                        for name in (
                            "bench_floor_insert",
                            "bench_floor_update",
                            "bench_floor_delete",
                        ):
                            await conn.execute(f"DROP TRIGGER IF EXISTS {name} ON contents")
                        await conn.execute("ALTER TABLE contents ENABLE TRIGGER USER")

        # Storage: 20 re-imports of 3 changed lessons each.
        stored = await new_project(conn, mind, "stored")
        nodes = base
        for n in range(21):
            if n:
                nodes = with_changed_lessons(nodes, 3, f"import {n}")
            async with conn.transaction():
                await as_creator(conn, user)
                await upsert(conn, stored, nodes)
        sizes = await conn.fetchrow(
            """SELECT
                 (SELECT sum(pg_column_size(c.*)) FROM contents c WHERE c.project_id = $1) AS live,
                 (SELECT sum(pg_column_size(c.content)) FROM contents c
                  WHERE c.project_id = $1) AS live_bodies,
                 (SELECT count(*) FROM content_revisions r WHERE r.project_id = $1) AS revisions,
                 (SELECT sum(pg_column_size(r.*)) FROM content_revisions r
                  WHERE r.project_id = $1) AS revision_rows,
                 (SELECT sum(pg_column_size(h.*)) FROM content_history h
                  WHERE h.project_id = $1) AS history_rows,
                 (SELECT count(*) FROM content_history h WHERE h.project_id = $1) AS history_count,
                 (SELECT sum(pg_column_size(b.*)) FROM content_bodies b
                  WHERE b.project_id = $1) AS body_rows,
                 (SELECT count(*) FROM content_bodies b WHERE b.project_id = $1) AS body_count""",
            stored,
        )

        # Reads: the live tree against revision 1's, same course (21 revisions deep).
        reads: dict[str, list[float]] = {}
        project_row = await conn.fetchrow("SELECT * FROM content_projects WHERE id = $1", stored)
        assert project_row is not None
        for _ in range(repeats):
            for include_body in (False, True):
                for label, statement, args in (
                    ("live tree", trees_sql.READ_PROJECT_TREE, (stored, include_body)),
                    ("tree at revision 1", revisions_sql.TREE_AT, (stored, 1, include_body)),
                ):
                    async with conn.transaction(readonly=True):
                        await as_creator(conn, user)
                        for _ in range(10):
                            started = time.perf_counter()
                            rows = await conn.fetch(statement, *args)
                            tree_answer(
                                dict(project_row),
                                shape.nest(rows, include_body=include_body, max_depth=16),
                            )
                            reads.setdefault(
                                f"{label}{', bodies' if include_body else ''}", []
                            ).append((time.perf_counter() - started) * 1000)
        return {"cost": cost, "sizes": dict(sizes), "reads": reads}
    finally:
        await conn.close()


HTTP_VARIANTS = ("with revisions", "without")
# The service's pool in that phase: few connections, so each has its plans
# cached again soon after a switch of the triggers.
HTTP_POOL = 2


async def set_revision_triggers(conn: asyncpg.Connection, on: bool) -> None:
    """The revision triggers on or off, committed (the service's pooled
    connections see it at their next statement)."""
    verb = "ENABLE" if on else "DISABLE"
    async with conn.transaction():
        for name in TRIGGERS:
            await conn.execute(f"ALTER TABLE contents {verb} TRIGGER {name}")


async def measure_http(db: BenchDatabase, rounds: int, requests: int) -> dict[str, Any]:
    """The three writes as PUT requests to the service, triggers on and off
    in ABBA rounds: per write and variant, each request's wall ms and each
    chunk's service and PostgreSQL CPU ms per request."""
    rng = random.Random(2323)
    corpus = Corpus.load()
    conn = await asyncpg.connect(db.admin_dsn)
    try:
        mind, user = await new_creator(conn, "bench-http")
        base = course(corpus, rng, "http-base")
        versions = [base, with_changed_lessons(base, 3, "http")]
        steady = await new_project(conn, mind, "http-steady")
        changing = await new_project(conn, mind, "http-changing")
        # Every new course lands in a project of its own: warm-ups included.
        fresh = [
            await new_project(conn, mind, f"http-new-{n}")
            for n in range(rounds * len(HTTP_VARIANTS) * (requests + HTTP_POOL * 6) + 1)
        ]
        secret = secrets.token_urlsafe(48)
        token = mint_token(secret, user_id=user, ttl_seconds=24 * 3600)

        def body(nodes: list[TreeNodeIn]) -> bytes:
            return TreeUpsert(nodes=nodes).model_dump_json(exclude_unset=True).encode()

        bodies = [body(v) for v in versions]
        # The statement phase wrote its courses as the tree PUT does, search
        # indexing deferred, and no indexer ran: left so, the service's
        # indexer would spend minutes on them during the chunks. This bench
        # searches nothing: they are marked done, their documents unbuilt
        # (triggers off for that one statement: a superuser's replica role).
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("UPDATE contents SET search_deferred = false WHERE search_deferred")
        flips = iter(range(1 << 30))

        def next_write(label: str) -> tuple[uuid.UUID, bytes]:
            if label == NEW:
                return fresh.pop(), bodies[0]
            if label == CHANGED:
                return changing, bodies[next(flips) % 2]
            return steady, bodies[0]

        labels = (NEW, CHANGED, NO_OP)
        found: dict[str, dict[str, dict[str, list[float]]]] = {}
        with (
            tempfile.TemporaryDirectory(prefix="bench-revisions-") as logs,
            running_service(
                db.login_url, jwt_secret=secret, pool_size=HTTP_POOL, log_dir=Path(logs)
            ) as service,
        ):
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            async with httpx.AsyncClient(
                base_url=service.base_url, headers=headers, timeout=60
            ) as client:

                async def put(label: str) -> float:
                    project, content = next_write(label)
                    started = time.perf_counter()
                    answer = await client.put(f"/v1/projects/{project}/tree", content=content)
                    wall = (time.perf_counter() - started) * 1000
                    assert answer.status_code == 200, answer.text
                    return wall

                async def backends_cpu() -> dict[int, float]:
                    """CPU seconds of each client backend but this one: the
                    service's connections (its indexer's too), not autovacuum
                    nor the server's background processes, whose work (the
                    statement phase's rolled-back rows, vacuumed meanwhile)
                    would dilute the ratio."""
                    pids = await conn.fetch(
                        "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend'"
                        " AND pid <> pg_backend_pid()"
                    )
                    found: dict[int, float] = {}
                    for row in pids:
                        try:
                            found[row["pid"]] = runtime_seconds(row["pid"])
                        except psutil.Error:  # it just exited
                            continue
                    return found

                async def indexed() -> None:
                    """Wait until the service's indexer has built the documents
                    the writes deferred: that work is theirs, and left over it
                    would fall on the next chunk's writes."""
                    for _ in range(6000):  # a minute at most
                        if not await conn.fetchval(
                            "SELECT EXISTS (SELECT FROM contents WHERE search_deferred)"
                        ):
                            return
                        await asyncio.sleep(0.01)
                    raise RuntimeError("the service's indexer did not catch up in a minute")

                for label in labels:  # the projects hold their first versions
                    await put(label)
                for order in abba(HTTP_VARIANTS, rounds):
                    for variant in order:
                        await set_revision_triggers(conn, variant == "with revisions")
                        for label in labels:
                            # The DDL dropped every connection's cached plans:
                            # enough unkept requests that each of the pool's
                            # connections has its generic plans again (the
                            # 6th execution of a statement), as between two
                            # deployments.
                            for _ in range(HTTP_POOL * 6):
                                await put(label)
                            await indexed()
                            app_cpu = runtime_seconds(service.pid)
                            pg_before = await backends_cpu()
                            walls = [await put(label) for _ in range(requests)]
                            await indexed()  # the chunk's deferred search documents
                            app_cpu = (runtime_seconds(service.pid) - app_cpu) * 1000 / requests
                            pg_after = await backends_cpu()
                            pg_cpu = (
                                sum(
                                    seconds - pg_before.get(pid, 0.0)
                                    for pid, seconds in pg_after.items()
                                )
                                * 1000
                                / requests
                            )
                            cell = found.setdefault(label, {}).setdefault(
                                variant, {"wall": [], "app": [], "pg": []}
                            )
                            cell["wall"] += walls
                            cell["app"].append(app_cpu)
                            cell["pg"].append(pg_cpu)
        await set_revision_triggers(conn, True)
        return found
    finally:
        await conn.close()


def report_http(found: dict[str, Any], rounds: int, requests: int) -> str:
    lines = [
        f"Write cost through the service (PUT /v1/projects/{{id}}/tree, committed; {rounds}"
        f" ABBA rounds x {requests} requests per write and variant): wall median ms; CPU ms"
        " per request, median of rounds (service + PostgreSQL); added: against without"
    ]
    for label, by in found.items():
        cells = {
            variant: (
                statistics.median(v["wall"]),
                statistics.median(v["app"]),
                statistics.median(v["pg"]),
            )
            for variant, v in by.items()
        }
        without = cells["without"]
        lines.append(f"  {label}:")
        for variant in HTTP_VARIANTS:
            wall, app_cpu, pg_cpu = cells[variant]
            line = (
                f"    {variant:16s} wall {wall:6.2f}  cpu {app_cpu + pg_cpu:6.2f}"
                f" (service {app_cpu:6.2f} + PostgreSQL {pg_cpu:6.2f})"
            )
            if variant != "without":
                line += (
                    f"   added: wall {(wall / without[0] - 1) * 100:+5.1f} %,"
                    f" cpu {((app_cpu + pg_cpu) / (without[1] + without[2]) - 1) * 100:+5.1f} %,"
                    f" PostgreSQL cpu {(pg_cpu / without[2] - 1) * 100:+5.1f} %"
                )
            lines.append(line)
    return "\n".join(lines)


def report(found: dict[str, Any], courses: int, repeats: int) -> str:
    lines = [f"Write cost: the tree PUT's statements, {courses} other courses in the table,"
             f" {repeats} runs each, interleaved: wall ms median (min), backend CPU ms median;"
             " added: against the triggers off"]  # fmt: skip

    def added(value: float, base: float) -> str:
        return f"{(value / base - 1) * 100:+6.1f} %"

    for label, by in found["cost"].items():
        cells = {}
        for key, values in by.items():
            walls = [v[1] for v in values]
            cpus = [v[0] for v in values]
            cells[key] = (statistics.median(walls), min(walls), statistics.median(cpus))
        without = cells["without"]
        lines.append(f"  {label}:")
        for variant in VARIANTS:
            wall, fastest, cpu = cells[variant]
            lines.append(
                f"    {variant:24s} wall {wall:6.2f} ({fastest:6.2f}) cpu {cpu:6.2f}"
                + (
                    f"   added: wall median {added(wall, without[0])},"
                    f" min {added(fastest, without[1])}, cpu median {added(cpu, without[2])}"
                    if variant != "without"
                    else ""
                )
            )
    s = found["sizes"]
    history = s["revision_rows"] + s["history_rows"] + s["body_rows"]
    lines += [
        "Storage after 1 import + 20 re-imports of 3 changed lessons each:",
        f"  live rows {s['live']:,} B (bodies {s['live_bodies']:,} B)",
        f"  history {history:,} B: {s['revisions']} revisions {s['revision_rows']:,} B,"
        f" {s['history_count']} history rows {s['history_rows']:,} B,"
        f" {s['body_count']} bodies {s['body_rows']:,} B",
        f"  history / live = {history / s['live']:.2f}x"
        f" (a copy per import would be {21 * s['live_bodies'] / s['live']:.1f}x in bodies alone)",
        f"Read (median ms of {repeats}x10, statement + nesting + serialization):",
    ]
    for label, values in found["reads"].items():
        lines.append(f"  {label:28s} {statistics.median(values):7.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.revisions", description=__doc__)
    parser.add_argument("--database-url", default=None, help="superuser URL (default: embedded)")
    parser.add_argument("--courses", type=int, default=20, help="other 133-node courses first")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--switch-per-write",
        action="store_true",
        help="switch the triggers inside each measured write's transaction (the bench's method"
        " until revision 0013: every write then re-plans what the DDL invalidated)",
    )
    parser.add_argument(
        "--http-rounds",
        type=int,
        default=8,
        help="ABBA rounds of the write cost through the service (0: skip that phase)",
    )
    parser.add_argument("--http-requests", type=int, default=10, help="PUTs per round and write")
    args = parser.parse_args()
    with bench_database(args.database_url) as db:
        found = asyncio.run(
            measure(db.admin_dsn, args.courses, args.repeats, args.switch_per_write)
        )
        print(report(found, args.courses, args.repeats), flush=True)
        if args.http_rounds > 0:
            through = asyncio.run(measure_http(db, args.http_rounds, args.http_requests))
            print(report_http(through, args.http_rounds, args.http_requests))


if __name__ == "__main__":
    main()
