"""Deferred search indexing: a big tree write indexes its words after it
commits, and search stays exact meanwhile.

Why: a 5,000-node course (1 KB bodies) took PostgreSQL ~1 s to write, ~0.6 s
of it building the search document (the text parser, the dictionaries, the
title markers of 0007) and 0.2 to 0.4 s inserting it into the GIN index; the
table and its eleven btrees took ~0.13 s. Done after the answer instead, the
write's own PostgreSQL CPU fell from 0.98-1.26 s to 0.17-0.20 s
(`python -m bench.write_cost`), and the write through HTTP from 1.26-2.14 s
to 0.36-0.43 s (`python -m bench`, growth phase).

How:

- `contents.search_deferred boolean NOT NULL DEFAULT false`: true while a
  row's words are not in the index yet. The tree upsert (PUT …/tree) sets it
  on every row it inserts or changes; every other write leaves it false and
  is indexed as before, in its own statement.
- `idx_contents_search_indexed`: 0007's GIN index, partial `WHERE NOT
  search_deferred`, so PostgreSQL does not compute the document of a
  deferred row at all (a partial index evaluates its predicate first).
- `idx_contents_search_deferred`: the deferred rows, by id.
- `creatoros_internal.index_deferred_search(batch_size)` (SECURITY DEFINER,
  granted to service_role only) clears the flag on up to `batch_size`
  deferred rows (`FOR UPDATE SKIP LOCKED`: several API processes share the
  work) and so indexes them; the API runs it after each tree write and every
  `SEARCH_INDEX_INTERVAL` seconds (pg_cron can run it too). The UPDATE reads
  the row's latest version, so a write racing with it is never indexed
  stale: whichever commits last decides the flag.
- Clearing the flag is not an edit: `set_updated_at()` would bump
  `updated_at` (and so the tree's ETag), so a trigger that fires after it
  (BEFORE triggers fire in name order; whatever production named its
  `set_updated_at` trigger, `zz_…` comes later) puts the old value back when
  nothing but the flag changed.
- `creatoros_internal.search_page` is 0007's, with its two row sources
  (`contents` where the document matches) read as the indexed rows that match
  (the GIN index) plus the deferred rows whose document, built on the fly,
  matches. Results are the same whether a row is indexed yet or not; while
  rows are deferred each search pays ~0.1 ms per deferred row.

What it costs: the indexer's UPDATE writes a second version of each row (not
HOT: the flag is in an index's predicate): 1.12-1.40 s of PostgreSQL CPU per
5,000 rows, against 0.98-1.26 s for indexing inside the write, and dead rows
for autovacuum.

Safe on a production-size table: the column is added with a constant
default (no rewrite); the partial index is built CONCURRENTLY before 0007's
is dropped; the downgrade rebuilds 0007's index (CONCURRENTLY, over every
row, deferred or not) before dropping this one, then restores 0007's search
function and drops the column. It loses no data: the flag is derived state.

Revision ID: 0008_search_deferred
Revises: 0007_search_marks
Create Date: 2026-11-26
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0008_search_deferred"
down_revision: str | None = "0007_search_marks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The flag is derived from whether a row is indexed; dropping it loses nothing.
DATA_LOSS: str | None = None


def _revision(filename: str) -> ModuleType:
    """An earlier revision's module: its statements are reused, not copied."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"creatoros_revision_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


INDEXED_INDEX = "idx_contents_search_indexed"
DEFERRED_INDEX = "idx_contents_search_deferred"

ADD_COLUMN = [
    "ALTER TABLE public.contents"
    " ADD COLUMN IF NOT EXISTS search_deferred boolean NOT NULL DEFAULT false",
    "COMMENT ON COLUMN public.contents.search_deferred IS"
    " 'creatoros: true while the row''s words are not in the search index yet"
    " (creatoros_internal.index_deferred_search indexes them)'",
]


# 0007's index, partial; and the deferred rows.
CREATE_INDEXES = [
    (
        INDEXED_INDEX,
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEXED_INDEX} ON public.contents USING gin"
        " (public.creatoros_search_document(title, content, status, project_id))"
        " WHERE NOT search_deferred",
    ),
    (
        DEFERRED_INDEX,
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {DEFERRED_INDEX} ON public.contents (id)"
        " WHERE search_deferred",
    ),
]


INDEXER_FUNCTION = [
    """
CREATE OR REPLACE FUNCTION creatoros_internal.index_deferred_search(batch_size integer)
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = ''
AS $fn$
    -- `= ANY (ARRAY(…))`: one index probe per claimed row, whatever the
    -- statistics say. Joined to the batch instead, the UPDATE was planned
    -- as a nested loop over every deferred row once ANALYZE had seen none
    -- deferred: 0.45 s per batch of 500 out of 5,000, not 0.06 s.
    WITH batch AS (
        SELECT id FROM public.contents WHERE search_deferred
        ORDER BY id LIMIT batch_size FOR UPDATE SKIP LOCKED
    ), indexed AS (
        UPDATE public.contents c SET search_deferred = false
        WHERE c.id = ANY (ARRAY(SELECT id FROM batch)) AND c.search_deferred
        RETURNING 1
    )
    SELECT count(*)::integer FROM indexed;
$fn$""",
    "REVOKE ALL ON FUNCTION creatoros_internal.index_deferred_search(integer) FROM PUBLIC",
    "GRANT EXECUTE ON FUNCTION creatoros_internal.index_deferred_search(integer) TO service_role",
    "COMMENT ON FUNCTION creatoros_internal.index_deferred_search(integer) IS"
    " 'creatoros: index up to batch_size contents whose search indexing was deferred;"
    " returns how many it indexed'",
]

# Fires after `set_updated_at()` whatever that trigger is named (`zz_`):
# BEFORE ROW triggers run in name order. Only on the flag's clearing; it
# compares the rest of the row so that an edit that also clears it (by hand)
# still counts as one.
KEEP_UPDATED_AT = [
    """
CREATE OR REPLACE FUNCTION creatoros_internal.search_indexed_keeps_updated_at()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $fn$
DECLARE
    unedited public.contents := NEW;
BEGIN
    unedited.updated_at := OLD.updated_at;
    unedited.search_deferred := OLD.search_deferred;
    IF unedited IS NOT DISTINCT FROM OLD THEN
        NEW.updated_at := OLD.updated_at;
    END IF;
    RETURN NEW;
END
$fn$""",
    "REVOKE ALL ON FUNCTION creatoros_internal.search_indexed_keeps_updated_at() FROM PUBLIC",
    """
CREATE OR REPLACE TRIGGER zz_contents_search_indexed_keeps_updated_at
    BEFORE UPDATE OF search_deferred ON public.contents
    FOR EACH ROW WHEN (OLD.search_deferred AND NOT NEW.search_deferred)
    EXECUTE FUNCTION creatoros_internal.search_indexed_keeps_updated_at()""",
]

DROP_KEEP_UPDATED_AT = [
    "DROP TRIGGER IF EXISTS zz_contents_search_indexed_keeps_updated_at ON public.contents",
    "DROP FUNCTION IF EXISTS creatoros_internal.search_indexed_keeps_updated_at()",
]

_COLUMNS = ("id", "title", "content", "status", "project_id", "content_type", "deleted_at")


def _rows(document: Callable[[str], str], query: str) -> str:
    """The contents whose document matches `query`: the indexed ones through the
    GIN index, the deferred ones by building their document now."""
    columns = ", ".join(f"r.{name}" for name in _COLUMNS)
    return f"""(
                SELECT {columns} FROM public.contents r
                WHERE NOT r.search_deferred AND {document("r")} @@ {query}
                UNION ALL
                SELECT {columns} FROM public.contents r
                WHERE r.search_deferred AND {document("r")} @@ {query})"""


def _search_function(r0007: ModuleType) -> str:
    """0007's search_page, each of its two row sources replaced by `_rows`.
    0007 is released and never changes, so each piece is found exactly once
    (checked: a mismatch fails the migration instead of changing nothing)."""
    function: str = r0007.SEARCH_FUNCTION
    document = r0007._document
    for query, indent in (("titled", " " * 16), ("lookup", " " * 12)):
        old = f"FROM public.contents c\n{indent}WHERE {document('c')} @@ {query}\n{indent}  AND "
        new = f"FROM {_rows(document, query)} c\n{indent}WHERE "
        if function.count(old) != 1:
            raise RuntimeError(f"0007's search_page no longer reads its {query} rows as expected")
        function = function.replace(old, new)
    return function


def upgrade() -> None:
    r0006 = _revision("0006_search_portuguese.py")
    r0007 = _revision("0007_search_marks.py")
    for statement in (*ADD_COLUMN, *INDEXER_FUNCTION, *KEEP_UPDATED_AT):
        op.execute(statement)
    with op.get_context().autocommit_block():
        for name, statement in CREATE_INDEXES:
            op.execute(r0006._drop_invalid_index(name))
            op.execute(statement)
        # Only once the new index is built: searches never lose their index.
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS public.{r0007.NEW_INDEX}")
    op.execute(_search_function(r0007))


def downgrade() -> None:
    r0006 = _revision("0006_search_portuguese.py")
    r0007 = _revision("0007_search_marks.py")
    with op.get_context().autocommit_block():
        # 0007's index holds every row, deferred or not.
        op.execute(r0006._drop_invalid_index(r0007.NEW_INDEX))
        op.execute(r0007.CREATE_NEW_INDEX)
    op.execute(r0007.SEARCH_FUNCTION)
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS public.{INDEXED_INDEX}")
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS public.{DEFERRED_INDEX}")
    for statement in DROP_KEEP_UPDATED_AT:
        op.execute(statement)
    op.execute("DROP FUNCTION IF EXISTS creatoros_internal.index_deferred_search(integer);")
    op.execute("ALTER TABLE public.contents DROP COLUMN IF EXISTS search_deferred;")
