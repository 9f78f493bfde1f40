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
function (written out here as 0007 declared it) and drops the column. It
loses no data: the flag is derived state.

Revision ID: 0008_search_deferred
Revises: 0007_search_marks
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_search_deferred"
down_revision: str | None = "0007_search_marks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The flag is derived from whether a row is indexed; dropping it loses nothing.
DATA_LOSS: str | None = None

# Every statement below is written out whole, as it runs: a revision never
# changes once released, and never reads another one's text (the current
# definitions live in app/db/sql/).

ADD_COLUMN = [
    "ALTER TABLE public.contents"
    " ADD COLUMN IF NOT EXISTS search_deferred boolean NOT NULL DEFAULT false",
    "COMMENT ON COLUMN public.contents.search_deferred IS"
    " 'creatoros: true while the row''s words are not in the search index yet"
    " (creatoros_internal.index_deferred_search indexes them)'",
]


# 0007's index, partial; and the deferred rows. A CONCURRENTLY build that
# failed leaves an INVALID index that IF NOT EXISTS would then skip: it is
# dropped first, so a re-run builds it again.
DROP_INVALID_INDEXED_INDEX = """
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relname = 'idx_contents_search_indexed' AND NOT i.indisvalid) THEN
        DROP INDEX public.idx_contents_search_indexed;
    END IF;
END
$$;
"""  # noqa: E501
CREATE_INDEXED_INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contents_search_indexed ON public.contents"
    " USING gin (public.creatoros_search_document(title, content, status, project_id))"
    " WHERE NOT search_deferred"
)
DROP_INVALID_DEFERRED_INDEX = """
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relname = 'idx_contents_search_deferred' AND NOT i.indisvalid) THEN
        DROP INDEX public.idx_contents_search_deferred;
    END IF;
END
$$;
"""  # noqa: E501
CREATE_DEFERRED_INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contents_search_deferred ON public.contents (id)"
    " WHERE search_deferred"
)


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

# 0007's search_page with each of its two row sources (`contents` where the
# document matches `titled`, then `lookup`) read as the indexed rows that
# match (through the GIN index) plus the deferred rows whose document, built
# now, matches (`search_deferred` in both branches keeps them apart).
SEARCH_FUNCTION = """
CREATE OR REPLACE FUNCTION creatoros_internal.search_page(
    query tsquery, only_project uuid, only_type text, only_status text,
    after_rank double precision, after_id uuid, page_size integer)
RETURNS TABLE (id uuid, rank double precision)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = ''
SET enable_seqscan = off
AS $fn$
DECLARE
    sees_all boolean := (SELECT auth.role()) = 'service_role';
    own uuid[];
    lookup tsquery := public.creatoros_relax_phrases(query);
    titled tsquery;
    -- The query's lexemes, quoted as in its text form, and its operators
    -- outside any parentheses (the root's).
    lexemes text[] := ARRAY(
        SELECT DISTINCT m[1]
        FROM pg_catalog.regexp_matches(query::text, '''(?:[^'']|'''')*''', 'g') m);
    root text := pg_catalog.regexp_replace(query::text, '''(?:[^'']|'''')*''', '', 'g');
    phrase boolean := query::text ~ '<[0-9]*->';
    base float8 := pg_catalog.ts_rank('{"~ none"}'::tsvector, query)::float8;
    ranked_ids uuid[];
    ranks float8[];
    found_rows bigint;
    more bigint;
BEGIN
    IF NOT sees_all THEN
        -- Each project is one more OR'd marker that the index's check
        -- evaluates for every candidate row: projects without contents add
        -- cost and no rows (a creator with 900 projects, most of them empty,
        -- took "ferramentas de IA" from 20 to 190 ms).
        own := ARRAY(SELECT p.id FROM public.content_projects p
                     WHERE (SELECT public.current_mind_id())
                           IN (p.creator_mind_id, p.persona_mind_id)
                       AND EXISTS (SELECT FROM public.contents c
                                   WHERE c.project_id = p.id AND c.deleted_at IS NULL));
        lookup := lookup && pg_catalog.array_to_string(
            ARRAY['''~ published'''] || ARRAY(SELECT '''~ p ' || o || '''' FROM unnest(own) o),
            ' | ')::tsquery;
    END IF;
    WHILE root ~ '[(]' LOOP
        root := pg_catalog.regexp_replace(root, '[(][^()]*[)]', '', 'g');
    END LOOP;
    IF root ~ '&' AND root !~ '[|]' AND cardinality(lexemes) BETWEEN 2 AND 8 THEN
        -- ts_rank of an AND query only rises above `base` for a title with
        -- two of its words (it scores pairs): ask for titles with a pair.
        titled := lookup && (
            SELECT pg_catalog.string_agg(
                       '''~ t ' || substr(a, 2) || ' & ''~ t ' || substr(b, 2), ' | ')
            FROM unnest(lexemes) a, unnest(lexemes) b WHERE a < b)::tsquery;
    ELSE
        titled := lookup && (
            SELECT pg_catalog.string_agg('''~ t ' || substr(a, 2), ' | ')
            FROM unnest(lexemes) a)::tsquery;
    END IF;

    SELECT coalesce(array_agg(r.id), '{}'), coalesce(array_agg(r.rank), '{}')
    INTO ranked_ids, ranks
    FROM (SELECT c.id, pg_catalog.ts_rank(pg_catalog.setweight(pg_catalog.to_tsvector('public.creatoros_pt'::regconfig, public.creatoros_pt_fold(coalesce(c.title, ''))), 'A'), query)::float8 AS rank
          FROM (SELECT c.id, c.title, c.content, c.status, c.project_id
                FROM (
                SELECT r.id, r.title, r.content, r.status, r.project_id, r.content_type, r.deleted_at FROM public.contents r
                WHERE NOT r.search_deferred AND public.creatoros_search_document(r.title, r.content, r.status, r.project_id) @@ titled
                UNION ALL
                SELECT r.id, r.title, r.content, r.status, r.project_id, r.content_type, r.deleted_at FROM public.contents r
                WHERE r.search_deferred AND public.creatoros_search_document(r.title, r.content, r.status, r.project_id) @@ titled) c
                WHERE c.deleted_at IS NULL
          AND (sees_all OR c.status = 'published' OR c.project_id = ANY (own))
          AND (only_project IS NULL OR c.project_id = only_project)
          AND (only_type IS NULL OR c.content_type = only_type)
          AND (only_status IS NULL OR c.status = only_status)
                OFFSET 0) c
          WHERE NOT phrase OR public.creatoros_search_document(c.title, c.content, c.status, c.project_id) @@ query) r
    WHERE r.rank <> base;

    RETURN QUERY
    SELECT r.id, r.rank FROM unnest(ranked_ids, ranks) r(id, rank)
    WHERE r.rank > base
      AND (after_rank IS NULL OR r.rank < after_rank
           OR (r.rank = after_rank AND r.id > after_id))
    ORDER BY r.rank DESC, r.id
    LIMIT page_size;
    GET DIAGNOSTICS found_rows = ROW_COUNT;
    IF found_rows >= page_size THEN
        RETURN;
    END IF;

    IF after_rank IS NULL OR after_rank >= base THEN
        -- All the matches first (MATERIALIZED: planned for all its rows, so
        -- a GIN lookup), then id order. Asked for "ORDER BY id LIMIT n" in
        -- one go, the planner may walk the primary key instead, rebuilding
        -- the document of every row it passes (seen: 100 ms at 133k rows).
        RETURN QUERY
        WITH matches AS MATERIALIZED (
            SELECT c.id, c.title, c.content, c.status, c.project_id
            FROM (
                SELECT r.id, r.title, r.content, r.status, r.project_id, r.content_type, r.deleted_at FROM public.contents r
                WHERE NOT r.search_deferred AND public.creatoros_search_document(r.title, r.content, r.status, r.project_id) @@ lookup
                UNION ALL
                SELECT r.id, r.title, r.content, r.status, r.project_id, r.content_type, r.deleted_at FROM public.contents r
                WHERE r.search_deferred AND public.creatoros_search_document(r.title, r.content, r.status, r.project_id) @@ lookup) c
            WHERE c.deleted_at IS NULL
          AND (sees_all OR c.status = 'published' OR c.project_id = ANY (own))
          AND (only_project IS NULL OR c.project_id = only_project)
          AND (only_type IS NULL OR c.content_type = only_type)
          AND (only_status IS NULL OR c.status = only_status)
              AND (after_rank IS NULL OR after_rank > base OR c.id > after_id)
              AND c.id NOT IN (SELECT unnest(ranked_ids)))
        SELECT rest.id, base FROM (
            SELECT * FROM matches m ORDER BY m.id OFFSET 0) rest
        WHERE NOT phrase OR public.creatoros_search_document(rest.title, rest.content, rest.status, rest.project_id) @@ query
        LIMIT page_size - found_rows;
        GET DIAGNOSTICS more = ROW_COUNT;
        found_rows := found_rows + more;
    END IF;

    RETURN QUERY
    SELECT r.id, r.rank FROM unnest(ranked_ids, ranks) r(id, rank)
    WHERE r.rank < base
      AND (after_rank IS NULL OR after_rank >= base OR r.rank < after_rank
           OR (r.rank = after_rank AND r.id > after_id))
    ORDER BY r.rank DESC, r.id
    LIMIT page_size - found_rows;
END
$fn$;
"""  # noqa: E501

# The downgrade's target: 0007's index (over every row) and search_page, as
# 0007 declared them.
DROP_INVALID_OLD_INDEX = """
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relname = 'idx_contents_search_document' AND NOT i.indisvalid) THEN
        DROP INDEX public.idx_contents_search_document;
    END IF;
END
$$;
"""  # noqa: E501
CREATE_OLD_INDEX = """CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contents_search_document ON public.contents USING gin (public.creatoros_search_document(title, content, status, project_id))"""  # noqa: E501
OLD_SEARCH_FUNCTION = """
CREATE OR REPLACE FUNCTION creatoros_internal.search_page(
    query tsquery, only_project uuid, only_type text, only_status text,
    after_rank double precision, after_id uuid, page_size integer)
RETURNS TABLE (id uuid, rank double precision)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = ''
SET enable_seqscan = off
AS $fn$
DECLARE
    sees_all boolean := (SELECT auth.role()) = 'service_role';
    own uuid[];
    lookup tsquery := public.creatoros_relax_phrases(query);
    titled tsquery;
    -- The query's lexemes, quoted as in its text form, and its operators
    -- outside any parentheses (the root's).
    lexemes text[] := ARRAY(
        SELECT DISTINCT m[1]
        FROM pg_catalog.regexp_matches(query::text, '''(?:[^'']|'''')*''', 'g') m);
    root text := pg_catalog.regexp_replace(query::text, '''(?:[^'']|'''')*''', '', 'g');
    phrase boolean := query::text ~ '<[0-9]*->';
    base float8 := pg_catalog.ts_rank('{"~ none"}'::tsvector, query)::float8;
    ranked_ids uuid[];
    ranks float8[];
    found_rows bigint;
    more bigint;
BEGIN
    IF NOT sees_all THEN
        -- Each project is one more OR'd marker that the index's check
        -- evaluates for every candidate row: projects without contents add
        -- cost and no rows (a creator with 900 projects, most of them empty,
        -- took "ferramentas de IA" from 20 to 190 ms).
        own := ARRAY(SELECT p.id FROM public.content_projects p
                     WHERE (SELECT public.current_mind_id())
                           IN (p.creator_mind_id, p.persona_mind_id)
                       AND EXISTS (SELECT FROM public.contents c
                                   WHERE c.project_id = p.id AND c.deleted_at IS NULL));
        lookup := lookup && pg_catalog.array_to_string(
            ARRAY['''~ published'''] || ARRAY(SELECT '''~ p ' || o || '''' FROM unnest(own) o),
            ' | ')::tsquery;
    END IF;
    WHILE root ~ '[(]' LOOP
        root := pg_catalog.regexp_replace(root, '[(][^()]*[)]', '', 'g');
    END LOOP;
    IF root ~ '&' AND root !~ '[|]' AND cardinality(lexemes) BETWEEN 2 AND 8 THEN
        -- ts_rank of an AND query only rises above `base` for a title with
        -- two of its words (it scores pairs): ask for titles with a pair.
        titled := lookup && (
            SELECT pg_catalog.string_agg(
                       '''~ t ' || substr(a, 2) || ' & ''~ t ' || substr(b, 2), ' | ')
            FROM unnest(lexemes) a, unnest(lexemes) b WHERE a < b)::tsquery;
    ELSE
        titled := lookup && (
            SELECT pg_catalog.string_agg('''~ t ' || substr(a, 2), ' | ')
            FROM unnest(lexemes) a)::tsquery;
    END IF;

    SELECT coalesce(array_agg(r.id), '{}'), coalesce(array_agg(r.rank), '{}')
    INTO ranked_ids, ranks
    FROM (SELECT c.id, pg_catalog.ts_rank(pg_catalog.setweight(pg_catalog.to_tsvector('public.creatoros_pt'::regconfig, public.creatoros_pt_fold(coalesce(c.title, ''))), 'A'), query)::float8 AS rank
          FROM (SELECT c.id, c.title, c.content, c.status, c.project_id
                FROM public.contents c
                WHERE public.creatoros_search_document(c.title, c.content, c.status, c.project_id) @@ titled
                  AND c.deleted_at IS NULL
          AND (sees_all OR c.status = 'published' OR c.project_id = ANY (own))
          AND (only_project IS NULL OR c.project_id = only_project)
          AND (only_type IS NULL OR c.content_type = only_type)
          AND (only_status IS NULL OR c.status = only_status)
                OFFSET 0) c
          WHERE NOT phrase OR public.creatoros_search_document(c.title, c.content, c.status, c.project_id) @@ query) r
    WHERE r.rank <> base;

    RETURN QUERY
    SELECT r.id, r.rank FROM unnest(ranked_ids, ranks) r(id, rank)
    WHERE r.rank > base
      AND (after_rank IS NULL OR r.rank < after_rank
           OR (r.rank = after_rank AND r.id > after_id))
    ORDER BY r.rank DESC, r.id
    LIMIT page_size;
    GET DIAGNOSTICS found_rows = ROW_COUNT;
    IF found_rows >= page_size THEN
        RETURN;
    END IF;

    IF after_rank IS NULL OR after_rank >= base THEN
        -- All the matches first (MATERIALIZED: planned for all its rows, so
        -- a GIN lookup), then id order. Asked for "ORDER BY id LIMIT n" in
        -- one go, the planner may walk the primary key instead, rebuilding
        -- the document of every row it passes (seen: 100 ms at 133k rows).
        RETURN QUERY
        WITH matches AS MATERIALIZED (
            SELECT c.id, c.title, c.content, c.status, c.project_id
            FROM public.contents c
            WHERE public.creatoros_search_document(c.title, c.content, c.status, c.project_id) @@ lookup
              AND c.deleted_at IS NULL
          AND (sees_all OR c.status = 'published' OR c.project_id = ANY (own))
          AND (only_project IS NULL OR c.project_id = only_project)
          AND (only_type IS NULL OR c.content_type = only_type)
          AND (only_status IS NULL OR c.status = only_status)
              AND (after_rank IS NULL OR after_rank > base OR c.id > after_id)
              AND c.id NOT IN (SELECT unnest(ranked_ids)))
        SELECT rest.id, base FROM (
            SELECT * FROM matches m ORDER BY m.id OFFSET 0) rest
        WHERE NOT phrase OR public.creatoros_search_document(rest.title, rest.content, rest.status, rest.project_id) @@ query
        LIMIT page_size - found_rows;
        GET DIAGNOSTICS more = ROW_COUNT;
        found_rows := found_rows + more;
    END IF;

    RETURN QUERY
    SELECT r.id, r.rank FROM unnest(ranked_ids, ranks) r(id, rank)
    WHERE r.rank < base
      AND (after_rank IS NULL OR after_rank >= base OR r.rank < after_rank
           OR (r.rank = after_rank AND r.id > after_id))
    ORDER BY r.rank DESC, r.id
    LIMIT page_size - found_rows;
END
$fn$;
"""  # noqa: E501


def upgrade() -> None:
    for statement in (*ADD_COLUMN, *INDEXER_FUNCTION, *KEEP_UPDATED_AT):
        op.execute(statement)
    with op.get_context().autocommit_block():
        op.execute(DROP_INVALID_INDEXED_INDEX)
        op.execute(CREATE_INDEXED_INDEX)
        op.execute(DROP_INVALID_DEFERRED_INDEX)
        op.execute(CREATE_DEFERRED_INDEX)
        # Only once the new index is built: searches never lose their index.
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS public.idx_contents_search_document")
    op.execute(SEARCH_FUNCTION)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        # 0007's index holds every row, deferred or not.
        op.execute(DROP_INVALID_OLD_INDEX)
        op.execute(CREATE_OLD_INDEX)
    op.execute(OLD_SEARCH_FUNCTION)
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS public.idx_contents_search_indexed")
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS public.idx_contents_search_deferred")
    for statement in DROP_KEEP_UPDATED_AT:
        op.execute(statement)
    op.execute("DROP FUNCTION IF EXISTS creatoros_internal.index_deferred_search(integer);")
    op.execute("ALTER TABLE public.contents DROP COLUMN IF EXISTS search_deferred;")
