"""Where PostgreSQL's time goes when a big tree is written: the pieces of the
tree upsert's statement, each timed as the CPU of the backend that runs it.

    python -m bench.write_cost [--database-url URL] [--nodes 5000] [--repeats 3]

The growth phase (`bench.growth`) says how long `PUT …/tree` takes and how
its CPU splits between the service and PostgreSQL; this says which part of
PostgreSQL's share is what. On a fresh migrated database (its own, as the
bench's), with the growth phase's course (1 KB bodies of real lessons), it
times:

- the search document's pieces, SELECT only, over the same titles and
  bodies: the parser alone (`simple`), `creatoros_pt` without and with the
  -ões fold, and the whole document (title markers included);
- the app's own `UPSERT_NODES` (`app.trees.sql`, parameters from
  `plan_upsert`), each in a transaction rolled back afterwards: as it is
  (its rows' indexing deferred, migration 0008), then the search indexer's
  work on them (`index_deferred_search`); indexing in the statement, as
  before 0008, with and without the search index (dropped inside the
  transaction); and the indexer with the GIN pending list allowed to hold
  the whole write, then the merge of that pending list alone
  (`gin_clean_pending_list`).

Each figure is the backend's CPU (user + system; psutil, so the server must
run on this machine), the minimum over `--repeats` runs, interleaved. CPU,
not wall clock: the machine is shared, and CPU is what a piece costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import psutil

from app.search.indexer import INDEX_DEFERRED
from app.trees import shape, sql
from app.trees.schemas import TreeUpsert
from bench.corpus import Corpus
from bench.database import bench_database
from bench.growth import course_of

INDEX = "idx_contents_search_stored"
# What the service's search indexer runs after a tree write (migration 0008),
# all the rows in one go.
INDEX_ALL_DEFERRED = INDEX_DEFERRED.replace("$1", "1000000")


# The upsert defers its rows' indexing only when its transaction asks (the
# tree service's LOCK_PROJECT does, migration 0009); without, it indexes them
# in the statement, as before 0008.
DEFER = sql.DEFER_INDEXING
CONFIG = "public.creatoros_pt"
# The same titles and bodies, as a table the SELECT-only timings read.
SAMPLE = "write_cost_sample"
DOCUMENT_PIECES: dict[str, str] = {
    "parser only (to_tsvector 'simple')": "to_tsvector('simple', title || ' ' || body)",
    "creatoros_pt, no fold": f"to_tsvector('{CONFIG}', title || ' ' || body)",
    "creatoros_pt, folded (0006's document)": (
        f"to_tsvector('{CONFIG}', public.creatoros_pt_fold(title || ' ' || body))"
    ),
    "the fold alone (regexp_replace)": "public.creatoros_pt_fold(title || ' ' || body)",
    "whole document (0007: + title markers)": (
        "public.creatoros_search_document(title, body, 'draft', project_id)"
    ),
}


async def _cpu_ms(process: psutil.Process, run: Callable[..., Awaitable[Any]], *args: Any) -> float:
    before = process.cpu_times()
    await run(*args)
    after = process.cpu_times()
    return (after.user + after.system - before.user - before.system) * 1000


async def measure(dsn: str, nodes: int, repeats: int) -> dict[str, list[float]]:
    rng = random.Random(11)
    payload = {"nodes": [course_of(Corpus.load(), nodes, rng)]}
    tree = TreeUpsert.model_validate_json(json.dumps(payload))
    plan = shape.plan_upsert(tree.nodes, {})
    conn = await asyncpg.connect(dsn)
    try:
        mind = await conn.fetchval(
            "INSERT INTO minds (slug, display_name) VALUES ('write-cost', 'W') RETURNING id"
        )
        project = await conn.fetchval(
            "INSERT INTO content_projects (slug, name, project_type, creator_mind_id)"
            " VALUES ('write-cost', 'W', 'course', $1) RETURNING id",
            mind,
        )
        await conn.execute(
            f"CREATE TABLE {SAMPLE} AS SELECT t.title, t.body, $1::uuid AS project_id"
            " FROM unnest($2::text[], $3::text[]) AS t(title, body)",
            project,
            plan.titles,
            plan.contents,
        )
        process = psutil.Process(await conn.fetchval("SELECT pg_backend_pid()"))
        args = plan.args(project)

        async def upsert(
            *setup: str, statement: str = sql.UPSERT_NODES, after: Sequence[str] = ()
        ) -> list[float]:
            """The CPU of the upsert, then of each `after` statement, in one
            transaction rolled back afterwards."""
            transaction = conn.transaction()
            await transaction.start()
            try:
                for prepare in setup:
                    await conn.execute(prepare)
                spent = [await _cpu_ms(process, conn.execute, statement, *args)]
                for then in after:
                    spent.append(await _cpu_ms(process, conn.execute, then))
                return spent
            finally:
                await transaction.rollback()

        found: dict[str, list[float]] = {}

        def record(labels: Sequence[str], spent: list[float]) -> None:
            for label, ms in zip(labels, spent, strict=True):
                found.setdefault(label, []).append(ms)

        for _ in range(repeats):
            for label, expression in DOCUMENT_PIECES.items():
                statement = f"SELECT sum(length({expression})) FROM {SAMPLE}"
                spent = await _cpu_ms(process, conn.execute, statement)
                found.setdefault(f"SELECT {label}", []).append(spent)
            # Rolled back each time, but the GIN index keeps what the
            # rollback left (dead entries): vacuum so each run starts alike.
            await conn.execute(f"VACUUM {SAMPLE}, contents")
            record(
                ("UPSERT_NODES as it is (indexing deferred)", "  then the indexer (0008)"),
                await upsert(DEFER, after=[INDEX_ALL_DEFERRED]),
            )
            await conn.execute("VACUUM contents")
            record(
                ("UPSERT_NODES indexing in the statement (as 0007)",),
                await upsert(),
            )
            await conn.execute("VACUUM contents")
            record(
                ("UPSERT_NODES indexing in the statement, no search index",),
                await upsert(f"DROP INDEX {INDEX}"),
            )
            await conn.execute("VACUUM contents")
            record(
                (
                    "UPSERT_NODES as it is, again",
                    "  then the indexer, GIN pending list (fastupdate on) never merged",
                    "  then merging that pending list alone",
                ),
                await upsert(
                    DEFER,
                    f"ALTER INDEX {INDEX} SET (fastupdate = on)",
                    "SET LOCAL gin_pending_list_limit = '64MB'",
                    after=[INDEX_ALL_DEFERRED, f"SELECT gin_clean_pending_list('{INDEX}')"],
                ),
            )
        return found
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.write_cost", description=__doc__)
    parser.add_argument("--database-url", default=None, help="superuser URL (default: embedded)")
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with bench_database(args.database_url) as db:
        found = asyncio.run(measure(db.admin_dsn, args.nodes, args.repeats))
    print(f"PostgreSQL CPU, ms, {args.nodes:,} nodes (min over {args.repeats}; median; all):")
    for label, values in found.items():
        print(
            f"  {label:48s} {min(values):7.0f} {statistics.median(values):7.0f}  "
            f"{[round(v) for v in values]}"
        )


if __name__ == "__main__":
    main()
