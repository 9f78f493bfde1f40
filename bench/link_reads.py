"""One content's tags, minds and generation job read, under revision 0014's
read policies and under 0015's, on the same database.

    python -m bench.link_reads [--database-url URL] [--creators 5] [--courses 20]
                               [--reads 200] [--rounds 4]

Until revision 0015 the read policies of `content_tags` and `content_minds`
were `content_id IN (SELECT c.id FROM contents c)`, and `job_executions`'
the same shape: every such read hashed all the contents its caller could
see (~5.6 ms of PostgreSQL for a creator among 100 courses). This seeds a
database as `python -m bench` seeds it (default: 5 creators x 20 courses of
133 nodes, ~13,300 contents), tags every content of the first creator and
40 published contents (three tags each), names two minds on them and gives
40 of the creator's and the 40 published a generation job each, and times
the API's own statements (`app.contents.sql`: `TAG_NAMES`, `CONTENT_MINDS`,
the generation-run check a content write makes, and the first page of
`GET /v1/contents?tag=`, which reads many tags at once: the case where
hashing them all once may still be the better plan) as
the floor of `python -m bench` runs them: a pool logged in as
`authenticator`, each read in its own read-only transaction opened with the
service's tenant switch; only the statement is timed. The database goes
back and forth between the two revisions (`alembic downgrade
0014_shared_policies`, `upgrade 0015_read_policies`) in `--rounds` rounds, ABBA, so that
the host's drift hits both alike; each side's median over its rounds, and
the shared buffers one read touches (EXPLAIN (ANALYZE, BUFFERS)).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.auth import Principal, principal_for
from app.contents import service as contents_service
from app.contents import sql as contents_sql
from app.db import migrations
from app.db.tenancy import begin_switched, switch_args
from app.http.pagination import DEFAULT_LIMIT
from bench.corpus import Corpus
from bench.database import bench_database
from bench.progress import Progress
from bench.seed import Scale, seed

# The revision measured and the one before it (not head: later revisions
# would be counted as 0015's).
BEFORE, AFTER = "0014_shared_policies", "0015_read_policies"
SIDES = {BEFORE: "0014", AFTER: "0015"}
TAGGED = 40  # contents of each kind given tags, minds and a job
# GET /v1/contents?tag=…: a first page, with the tag every tagged content has.
LIST_BY_TAG, _LIST_ORDER = contents_service.ROWS.page_sql(("tag",), False)
TAG = "bench-1"
JOB = next(r for r in contents_sql.REFERENCES if r.field == "generation_execution_id").sql

# $1 the contents: three tags, two minds (the first creator's and another)
# and a job of its own each.
LINK = """
WITH t AS (
    INSERT INTO tags (name, tag_type)
    SELECT 'bench-' || g, 'theme' FROM generate_series(1, 5) g
    ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id),
  tagged AS (
    INSERT INTO content_tags (content_id, tag_id)
    SELECT c, t.id FROM unnest($1::uuid[]) c, (SELECT id FROM t ORDER BY id LIMIT 3) t
    ON CONFLICT DO NOTHING)
INSERT INTO content_minds (content_id, mind_id, role)
SELECT c, m.id, 'author' FROM unnest($1::uuid[]) c, (SELECT id FROM minds ORDER BY slug LIMIT 2) m
ON CONFLICT DO NOTHING
"""
JOBS = """
WITH j AS (
    INSERT INTO job_executions (llm_model)
    SELECT 'bench' FROM unnest($1::uuid[]) RETURNING id),
  numbered AS (SELECT id, row_number() OVER () AS n FROM j)
UPDATE contents c SET generation_execution_id = numbered.id
FROM (SELECT c, row_number() OVER () AS n FROM unnest($1::uuid[]) c) cs
JOIN numbered USING (n)
WHERE c.id = cs.c
RETURNING c.id, c.generation_execution_id
"""


@dataclass(frozen=True)
class Read:
    """One row of the table: a statement, as whom, on which targets."""

    label: str
    principal: Principal
    statement: str
    targets: list[tuple[Any, ...]]  # the arguments of each read, in turn


async def _link(
    admin_dsn: str, own: list[uuid.UUID], all_own: list[uuid.UUID]
) -> tuple[list[uuid.UUID], dict[uuid.UUID, uuid.UUID]]:
    """Tags, minds and jobs for `own` and for as many published contents,
    tags and minds for `all_own` too: (the published ones, the job of each
    of `own`)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        published = [
            r[0]
            for r in await conn.fetch(
                "SELECT id FROM contents WHERE status = 'published' AND deleted_at IS NULL"
                " ORDER BY id LIMIT $1",
                TAGGED,
            )
        ]
        if len(own) < TAGGED or len(published) < TAGGED:
            raise SystemExit(
                f"too small a seed: {len(own)} own and {len(published)} published contents,"
                f" {TAGGED} of each needed (more --courses)"
            )
        await conn.execute(LINK, all_own + published)
        jobs = {r[0]: r[1] for r in await conn.fetch(JOBS, own)}
        await conn.execute("ANALYZE content_tags; ANALYZE content_minds; ANALYZE job_executions")
    finally:
        await conn.close()
    return published, jobs


async def _time(pool: asyncpg.Pool, read: Read, count: int) -> list[float]:
    """Milliseconds of each of `count` reads (the statement only)."""
    begin = begin_switched(switch_args(read.principal, None), read_only=True)
    timings: list[float] = []
    async with pool.acquire() as conn:
        for i in range(count):
            await conn.execute(begin)
            started = time.perf_counter()
            rows = await conn.fetch(read.statement, *read.targets[i % len(read.targets)])
            timings.append((time.perf_counter() - started) * 1000)
            await conn.execute("COMMIT")
            if not rows:
                raise RuntimeError(f"{read.label}: nothing read (a broken bench, not a fast read)")
    return timings


async def _buffers(pool: asyncpg.Pool, read: Read) -> int:
    """Shared buffers one read touches, its nested policy functions included."""
    begin = begin_switched(switch_args(read.principal, None), read_only=True)
    async with pool.acquire() as conn:
        found = 0
        for _ in range(2):  # the second, with plans and caches warm
            await conn.execute(begin)
            (plan,) = json.loads(
                await conn.fetchval(
                    f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {read.statement}", *read.targets[0]
                )
            )
            await conn.execute("COMMIT")
            top = plan["Plan"]
            found = top["Shared Hit Blocks"] + top["Shared Read Blocks"]
        return int(found)


def _order(rounds: int) -> list[str]:
    """ABBA: before, after; after, before; ..."""
    pairs = [(BEFORE, AFTER), (AFTER, BEFORE)]
    return [side for r in range(rounds) for side in pairs[r % 2]]


async def _measure(
    db_admin_url: str, login_dsn: str, reads: Sequence[Read], args: argparse.Namespace
) -> None:
    timings: dict[str, dict[str, list[float]]] = {r.label: {BEFORE: [], AFTER: []} for r in reads}
    buffers: dict[str, dict[str, int]] = {r.label: {} for r in reads}
    # The database was made at head: down to the measured revision first.
    await asyncio.to_thread(migrations.downgrade, db_admin_url, AFTER)
    current = AFTER
    pool = await asyncpg.create_pool(login_dsn, min_size=1, max_size=1)
    try:
        for side in _order(args.rounds):
            if side != current:
                await pool.expire_connections()
                migrate = migrations.downgrade if side == BEFORE else migrations.upgrade
                await asyncio.to_thread(migrate, db_admin_url, side)
                current = side
            for read in reads:
                await _time(pool, read, args.warmup)
                timings[read.label][side] += await _time(pool, read, args.reads)
                buffers[read.label].setdefault(side, await _buffers(pool, read))
    finally:
        await pool.close()
        if current != AFTER:
            await asyncio.to_thread(migrations.upgrade, db_admin_url, AFTER)
    _table(timings, buffers)


def _table(timings: dict[str, dict[str, list[float]]], buffers: dict[str, dict[str, int]]) -> None:
    print("\n| read | 0014 p50 ms | 0015 p50 ms | 0014/0015 | buffers 0014 | buffers 0015 |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, sides in timings.items():
        before, after = statistics.median(sides[BEFORE]), statistics.median(sides[AFTER])
        print(
            f"| {label} | {before:.3f} | {after:.3f} | {before / after:.1f}x"
            f" | {buffers[label][BEFORE]} | {buffers[label][AFTER]} |"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.link_reads", description=__doc__)
    parser.add_argument("--database-url", default=None, help="a superuser URL (else embedded)")
    parser.add_argument("--creators", type=int, default=5)
    parser.add_argument("--courses", type=int, default=20, help="per creator")
    parser.add_argument("--reads", type=int, default=200, help="timed reads per round and read")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=4, help="an even number: ABBA")
    args = parser.parse_args(argv)

    scale = Scale(creators=args.creators, courses=args.courses)
    with bench_database(args.database_url) as db:
        seeded = asyncio.run(
            seed(db.admin_dsn, Corpus.load(), scale, jobs=1, progress=Progress(), seed=7)
        )
        creator = seeded.creators[0]
        all_own = [content for content, _ in seeded.bench_contents]
        own = all_own[:TAGGED]
        published, jobs = asyncio.run(_link(db.admin_dsn, own, all_own))
        me, anon = principal_for(creator.user_id), Principal(role="anon")
        mine = [(c,) for c in own]
        public = [(c,) for c in published]
        by_tag = {"tag": TAG, "limit_plus_one": DEFAULT_LIMIT + 1}
        page = [tuple(by_tag[name] for name in _LIST_ORDER)]
        reads = [
            Read("tags of an own content (creator)", me, contents_sql.TAG_NAMES, mine),
            Read("minds of an own content (creator)", me, contents_sql.CONTENT_MINDS, mine),
            Read("generation job of an own content (creator)", me, JOB,
                 [(jobs[c],) for c in own]),
            Read("tags of a published content (anon)", anon, contents_sql.TAG_NAMES, public),
            Read("minds of a published content (anon)", anon, contents_sql.CONTENT_MINDS, public),
            Read(f"first page of ?tag= (creator; all its {len(all_own):,} contents tagged)", me,
                 LIST_BY_TAG, page),
            Read("first page of ?tag= (anon)", anon, LIST_BY_TAG, page),
        ]  # fmt: skip
        print(
            f"\n## One content's tags, minds and job ({seeded.rows.get('contents', 0):,} contents,"
            f" {args.creators} creators x {args.courses} courses; {args.rounds} rounds ABBA"
            f" x {args.reads} reads per side)"
        )
        asyncio.run(_measure(db.admin_url, db.login_dsn, reads, args))


if __name__ == "__main__":
    main()
