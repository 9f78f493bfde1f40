"""Seeding a realistic database fast: binary COPY as the superuser.

Why COPY and not the API: the default scale is ~133k contents with ~5 KB
bodies (~0.7 GB of text); through the API that would take longer than the
benchmark itself. COPY writes the same rows the API would (ids, parents,
sequence_order, project ownership) straight into the tables. The superuser
bypasses row level security, so `creator_mind_id` is set explicitly, as the
database default would have set it from the creator's token.

The secondary indexes of `contents` are dropped for the load and rebuilt
from their own definitions (`pg_get_indexdef`) afterwards, so the table ends
up exactly as migrated: maintaining the full-text GIN index row by row made
the load ~10x slower than building it once (in parallel on PostgreSQL 18).
Primary key, unique and foreign key constraints stay in place throughout.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from app.search.indexer import INDEX_DEFERRED
from app.settings import Settings
from bench.corpus import Corpus, Node
from bench.progress import Progress

CONTENT_COLUMNS = (
    "id", "project_id", "parent_content_id", "slug", "title", "content_type", "content",
    "sequence_order", "fidelity_score", "file_path", "metadata", "ai_generated", "status",
    "published_at", "created_at", "updated_at",
)  # fmt: skip

PROJECT_COLUMNS = (
    "id", "slug", "name", "project_type", "status", "project_metadata",
    "creator_mind_id", "persona_mind_id",
)  # fmt: skip

COURSE_NAMES = (
    ("claude-code", "Claude Code Expert: Automação Inteligente para Founders"),
    ("github-essencial", "GitHub Essencial: do Zero ao Primeiro Pull Request"),
    ("prompt-engineer", "Prompt Engineer: Arquitetura Geodésica de Prompts"),
    ("automacao-no-code", "Automação sem Código para Pequenos Negócios"),
    ("dados-para-founders", "Dados para Founders: Decisões com Planilhas e IA"),
)
# Courses are mostly drafts; some reviewed, some published (readable by all).
STATUSES = (("draft", 6), ("reviewed", 2), ("published", 2))


@dataclass(frozen=True)
class Scale:
    creators: int = 50
    courses: int = 20
    modules: int = 12
    lessons_per_module: int = 10

    @property
    def nodes_per_course(self) -> int:
        return 1 + self.modules + self.modules * self.lessons_per_module


@dataclass
class Creator:
    """A seeded tenant: a mind, the user profile of its login, its courses."""

    index: int
    mind_id: uuid.UUID
    user_id: uuid.UUID
    slug: str
    project_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass
class Seeded:
    """What the benchmark needs to know about the seeded data."""

    creators: list[Creator]
    # The bench creator's seeded contents: (id, project_id), to GET by id.
    bench_contents: list[tuple[uuid.UUID, uuid.UUID]]
    rows: dict[str, int]
    seconds: float
    phases: dict[str, float]  # load, indexes, vacuum_analyze: seconds each
    size: str


def _creators(count: int, rng: random.Random) -> list[Creator]:
    return [
        Creator(
            index=i,
            mind_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            user_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            slug=f"creator-{i:03d}",
        )
        for i in range(count)
    ]


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _content_records(
    corpus: Corpus,
    creator: Creator,
    scale: Scale,
    seed: int,
    sink: list[tuple[uuid.UUID, uuid.UUID]] | None,
) -> Iterator[tuple[Any, ...]]:
    """Rows of `contents` for one creator's courses, parents before children.
    Generated lazily: one creator is ~13 MB of text at the default scale."""
    rng = random.Random(seed * 1_000_003 + creator.index)
    epoch = datetime(2025, 1, 1, tzinfo=UTC)
    for j, project_id in enumerate(creator.project_ids):
        base_slug, name = COURSE_NAMES[j % len(COURSE_NAMES)]
        course = corpus.course(
            rng,
            f"{base_slug}-{j + 1:02d}",
            f"{name} ({j + 1})",
            modules=scale.modules,
            lessons_per_module=scale.lessons_per_module,
        )
        status = _weighted(rng, STATUSES)
        created = epoch + timedelta(days=rng.uniform(0, 300))
        published = created + timedelta(days=7) if status == "published" else None
        ids: dict[int, uuid.UUID] = {}
        for k, (node, parent) in enumerate(course.walk()):
            node_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            ids[id(node)] = node_id
            if sink is not None:
                sink.append((node_id, project_id))
            stamp = created + timedelta(seconds=k)
            yield _content_row(node, node_id, project_id, parent, ids, status, published, stamp)


def _content_row(
    node: Node,
    node_id: uuid.UUID,
    project_id: uuid.UUID,
    parent: Node | None,
    ids: dict[int, uuid.UUID],
    status: str,
    published: datetime | None,
    stamp: datetime,
) -> tuple[Any, ...]:
    return (
        node_id, project_id, ids[id(parent)] if parent is not None else None, node.slug,
        node.title, node.content_type, node.content, node.sequence_order, node.fidelity_score,
        node.file_path, json.dumps(node.metadata, ensure_ascii=False), True, status,
        published, stamp, stamp,
    )  # fmt: skip


async def seed(
    dsn: str,
    corpus: Corpus,
    scale: Scale,
    *,
    jobs: int,
    progress: Progress,
    seed: int = 42,
) -> Seeded:
    """Minds, user profiles, projects, then contents in `jobs` parallel COPYs
    (one per creator at a time), the indexes, then VACUUM ANALYZE."""
    started = time.perf_counter()
    rng = random.Random(seed)
    creators = _creators(scale.creators, rng)
    for creator in creators:
        creator.project_ids = [
            uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(scale.courses)
        ]
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "minds",
                columns=("id", "slug", "display_name", "primary_language", "created_by"),
                records=[
                    (c.mind_id, c.slug, f"Creator {c.index}", "pt", str(c.user_id))
                    for c in creators
                ],
            )
            await conn.copy_records_to_table(
                "user_profiles",
                columns=("id", "mind_id"),
                records=[(c.user_id, c.mind_id) for c in creators],
            )
            await conn.copy_records_to_table(
                "content_projects",
                columns=PROJECT_COLUMNS,
                records=[
                    (
                        project_id,
                        f"{COURSE_NAMES[j % len(COURSE_NAMES)][0]}-{j + 1:02d}",
                        f"{COURSE_NAMES[j % len(COURSE_NAMES)][1]} ({j + 1})",
                        "course",
                        "in_progress",
                        json.dumps({"language": "pt-BR", "source": "bench"}),
                        c.mind_id,
                        c.mind_id,
                    )
                    for c in creators
                    for j, project_id in enumerate(c.project_ids)
                ],
            )
    finally:
        await conn.close()

    bench_contents: list[tuple[uuid.UUID, uuid.UUID]] = []
    queue: asyncio.Queue[Creator] = asyncio.Queue()
    for creator in creators:
        queue.put_nowait(creator)
    done = 0
    total_rows = scale.creators * scale.courses * scale.nodes_per_course

    async def worker() -> None:
        nonlocal done
        conn = await asyncpg.connect(dsn)
        try:
            # Only this loading session: a crash mid-seed loses nothing we keep.
            await conn.execute("SET synchronous_commit = off")
            while not queue.empty():
                creator = queue.get_nowait()
                sink = bench_contents if creator.index == 0 else None
                await conn.copy_records_to_table(
                    "contents",
                    columns=CONTENT_COLUMNS,
                    records=_content_records(corpus, creator, scale, seed, sink),
                )
                done += 1
                rows = done * scale.courses * scale.nodes_per_course
                elapsed = time.perf_counter() - started
                progress.update(
                    f"seeding: {done}/{scale.creators} creators, {rows:,}/{total_rows:,} "
                    f"contents, {rows / elapsed:,.0f} rows/s"
                )
        finally:
            await conn.close()

    conn = await asyncpg.connect(dsn)
    try:
        indexes = await _secondary_indexes(conn)
        for name, _ in indexes:
            await conn.execute(f'DROP INDEX public."{name}"')
    finally:
        await conn.close()
    await asyncio.gather(*(worker() for _ in range(max(1, jobs))))
    phases = {"load": time.perf_counter() - started}
    progress.done(f"seeding: contents loaded in {phases['load']:.1f} s; building indexes")
    mark = time.perf_counter()
    await _build_indexes(dsn, [definition for _, definition in indexes], jobs, progress)
    phases["indexes"] = time.perf_counter() - mark
    progress.done(f"seeding: indexes built in {phases['indexes']:.1f} s; VACUUM ANALYZE")
    mark = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        # VACUUM too, not only ANALYZE: hint bits and the visibility map set,
        # as on a database that has been up for a while.
        await conn.execute("VACUUM (ANALYZE)")
        phases["vacuum_analyze"] = time.perf_counter() - mark
        rows = {
            table: int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
            for table in ("minds", "user_profiles", "content_projects", "contents")
        }
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    finally:
        await conn.close()
    seconds = time.perf_counter() - started
    progress.done(
        f"seeded {rows['contents']:,} contents ({rows['minds']} creators, "
        f"{rows['content_projects']} projects) in {seconds:.1f} s; database {size}"
    )
    return Seeded(creators, bench_contents, rows, seconds, phases, str(size))


_SECONDARY_INDEXES = """
SELECT i.relname, pg_get_indexdef(i.oid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = 'public.contents'::regclass
  AND NOT EXISTS (SELECT FROM pg_constraint c
                  WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid)
ORDER BY i.relname
"""


async def _secondary_indexes(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    """The indexes of `contents` that back no constraint, with their DDL."""
    return [(r[0], r[1]) for r in await conn.fetch(_SECONDARY_INDEXES)]


async def _build_indexes(
    dsn: str, definitions: list[str], workers: int, progress: Progress
) -> None:
    """Recreate the dropped indexes one by one, each with parallel workers.

    Nearly all the time goes to the GIN index (`to_tsvector` of every body,
    ~0.7 ms per 5 KB). The planner would build it single-threaded, because
    the heap itself is small (the bodies live in TOAST), so `parallel_workers`
    is set on the table for the build and reset afterwards.
    """
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET maintenance_work_mem = '512MB'")
        await conn.execute(f"SET max_parallel_maintenance_workers = {workers}")
        await conn.execute(f"ALTER TABLE public.contents SET (parallel_workers = {workers})")
        try:
            # The expensive GIN ones first, so the progress line tells the truth.
            pending = sorted(definitions, key=lambda d: " USING gin " not in d)
            for n, definition in enumerate(pending, start=1):
                label = f"seeding: building index {n}/{len(pending)}"
                ticker = asyncio.create_task(_index_progress(dsn, label, progress))
                try:
                    await conn.execute(definition)
                finally:
                    ticker.cancel()
        finally:
            await conn.execute("ALTER TABLE public.contents RESET (parallel_workers)")
    finally:
        await conn.close()


async def _index_progress(dsn: str, label: str, progress: Progress) -> None:
    """Keep the status line alive during a long index build."""
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        while True:
            row = await conn.fetchrow(
                "SELECT phase, blocks_done, blocks_total FROM pg_stat_progress_create_index"
                " WHERE datname = current_database() LIMIT 1"
            )
            detail = ""
            if row is not None:
                detail = f", {row['phase']}"
                if row["blocks_total"]:
                    detail += f" {100 * row['blocks_done'] // row['blocks_total']}%"
            progress.update(f"{label} ({time.perf_counter() - started:.0f} s{detail})")
            await asyncio.sleep(1)
    finally:
        await conn.close()


async def analyze_columns(dsn: str) -> float:
    """ANALYZE `contents` and `content_projects` by column list, between write
    phases, so that cached plans follow the table as the upserts grow it
    (autovacuum is off while measuring; see `cli.quiet_autovacuum`).

    A column list skips the statistics of the full-text index expression,
    which none of the measured queries use and which alone cost seconds
    (`to_tsvector` over a 30,000-row sample), and of the stored search
    documents (revision 0009: 30,000 of them read back); the plain columns
    take a fraction of a second (~0.35 s at the default scale).
    """
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        for table in ("contents", "content_projects"):
            columns = await conn.fetchval(
                "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute"
                " WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped"
                " AND atttypid <> 'tsvector'::regtype",
                f"public.{table}",
            )
            await conn.execute(f"ANALYZE public.{table} ({columns})")
    finally:
        await conn.close()
    return time.perf_counter() - started


DEFERRED = "SELECT count(*) FROM public.contents WHERE search_deferred"
# Rows per indexing transaction, as the service's indexer batches by default.
INDEX_BATCH: int = Settings.model_fields["search_index_batch"].default
POLL_SECONDS = 0.005


async def settle_search_index(dsn: str) -> float:
    """Index every row whose search indexing a tree write deferred (migration
    0008), as the service's indexer would, before the next timed phase: so
    that no phase pays for the indexing of the one before, and no search
    pays for rows left deferred. Seconds it took (untimed in the results)."""
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(int(120 / POLL_SECONDS)):
            indexed = await conn.fetchval(INDEX_DEFERRED, INDEX_BATCH)
            # Rows the service's indexer holds are skipped: wait for its commit.
            if not indexed and not await conn.fetchval(DEFERRED):
                break
            if not indexed:
                await asyncio.sleep(POLL_SECONDS)
    finally:
        await conn.close()
    return time.perf_counter() - started


async def wait_until_indexed(dsn: str, give_up_after_s: float = 120.0) -> float | None:
    """Milliseconds until the service's own indexer has indexed every deferred
    row (how long after a tree write its words are in the search index; search
    finds them meanwhile, at a cost); None if it gave up waiting."""
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(int(give_up_after_s / POLL_SECONDS)):
            if not await conn.fetchval(DEFERRED):
                return (time.perf_counter() - started) * 1000
            await asyncio.sleep(POLL_SECONDS)
        return None
    finally:
        await conn.close()


async def create_empty_projects(dsn: str, creator: Creator, count: int) -> list[uuid.UUID]:
    """Projects with no contents yet, owned by `creator`: each fresh-course
    upsert gets its own, so every one of them really inserts 133 nodes."""
    ids = [uuid.uuid4() for _ in range(count)]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "content_projects",
            columns=("id", "slug", "name", "project_type", "creator_mind_id"),
            records=[
                (pid, f"bench-upsert-{n:05d}", f"Bench upsert {n}", "course", creator.mind_id)
                for n, pid in enumerate(ids)
            ],
        )
        await conn.execute("ANALYZE content_projects")
    finally:
        await conn.close()
    return ids
