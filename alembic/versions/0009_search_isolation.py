"""Search isolation: a search costs what the caller's matches cost, never
what other tenants publish, rewrite or leave deferred (issue 20, items 3
and 11; and the mutable search_path of the search document, item 10).

Measured before (issue 20): after one creator published 133 lessons on a
fresh database, everyone's search went 3 → 208 ms; after 30 x 250 KB
published bodies, 5 → ~2,000 ms, some past the 15 s statement timeout;
while one creator rewrote its published bodies, another's p95 was 2.2-2.9 s.
Three causes, three changes:

- Deferred rows (0008) were matched by every search, each building their
  documents on the fly (a 250 KB body is deferred too: the limit is 256 KB):
  ~0.1 ms per 5 KB row, per search, for every tenant. Now a deferred row is
  searched only by the callers it belongs to (its project is one they create
  or voice; service_role: all), until the indexer, woken after each tree
  write and sweeping every SEARCH_INDEX_INTERVAL seconds, has indexed it.
  An edit that is not a tree write (PATCH, publishing) indexes the row in
  its own statement, as before.
- The document was an index expression: rebuilt for every phrase check,
  for every lossy bitmap page, and by ANALYZE's sample. It is now stored:
  `contents.search_document tsvector` (NULL while deferred), written by the
  trigger `zzz_contents_search_document` only (the writer's value for it or
  for `search_deferred` is overwritten: tenants cannot set either), and
  indexed by `idx_contents_search_stored` (GIN, `fastupdate = off`: no
  pending list that every search scans until a VACUUM merges it). The tree
  upsert asks for deferral through the transaction setting
  `creatoros.search_defer_max_bytes` (bodies over it are indexed in the
  write); no setting, no deferral.
- Visibility was one OR of markers (`~ published | ~ p <each own
  project>`) that the GIN index evaluates for every row holding any of
  them, so every published row of every tenant (~15 ms at bench scale, for
  "agente"). search_page now asks two lookups (the query and `~ published`;
  the query and the caller's projects), which the index answers by
  intersecting posting lists.

Also: search_page ranks with the fold written out (the function, having a
SET clause, is called, not inlined: a call per ranked title), and the
document function, no longer an index expression that must be inlined,
gets `SET search_path = ''` (splinter's function_search_path_mutable).
`zzz_contents_search_document` replaces 0008's
`zz_contents_search_indexed_keeps_updated_at` (indexing is not an edit:
updated_at is put back when nothing else changed).

Storage: the stored documents take about as much again as the bodies
(out of the row, uncompressed: `STORAGE EXTERNAL`, see ADD_COLUMN).
Writes: the document is built once per write (as the index expression
was); without a pending list a GIN insert goes into the index's pages at
once, which the indexer pays for deferred rows.

Safe on a production-size table: the column has no default (no rewrite);
the backfill is one UPDATE of the indexed rows (production's `contents` is
small; the trigger puts `updated_at` back); the new indexes are built
CONCURRENTLY before 0008's is dropped. The downgrade restores 0008's
document function (BEGIN ATOMIC, inlined), rebuilds 0008's index
CONCURRENTLY, restores 0008's search_page and trigger (written out here as
0008 declared them), and drops the column. It loses no data: the document
is derived from the row.

Revision ID: 0009_search_isolation
Revises: 0008_search_deferred
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009_search_isolation"
down_revision: str | None = "0008_search_deferred"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The stored document is derived from the row; dropping it loses nothing.
DATA_LOSS: str | None = None

# Every statement below is written out whole, as it runs: a revision never
# changes once released, and never reads another one's text (the current
# definitions live in app/db/sql/).

# STORAGE EXTERNAL: a document (~1x its body) is moved out of the row
# whenever the row passes ~2 KB, uncompressed, never kept in it compressed:
# the heap rows that every read of contents walks (trees, lists, the search's
# own heap visits) stay as narrow as before; reading a document back (the
# phrase check) needs no decompression. Measured at bench scale: kept in the
# row (the default), the database doubled and the heap with it.
ADD_COLUMN = [
    "ALTER TABLE public.contents ADD COLUMN IF NOT EXISTS search_document tsvector",
    "ALTER TABLE public.contents ALTER COLUMN search_document SET STORAGE EXTERNAL",
    "COMMENT ON COLUMN public.contents.search_document IS"
    " 'creatoros: the search document (public.creatoros_search_document), NULL while"
    " search_deferred; written by the trigger zzz_contents_search_document only'",
]

TRIGGER_FUNCTION = [
    """
CREATE OR REPLACE FUNCTION creatoros_internal.contents_search_document()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $fn$
DECLARE
    defer_max text := pg_catalog.current_setting('creatoros.search_defer_max_bytes', true);
    rewritten boolean := true;
    unedited public.contents;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        rewritten := (NEW.title, NEW.content, NEW.status, NEW.project_id)
                     IS DISTINCT FROM (OLD.title, OLD.content, OLD.status, OLD.project_id);
    END IF;
    IF rewritten THEN
        NEW.search_deferred := coalesce(defer_max, '') <> ''
            AND coalesce(pg_catalog.octet_length(NEW.content), 0) <= defer_max::bigint;
    ELSE
        NEW.search_deferred := OLD.search_deferred AND NEW.search_deferred IS TRUE;
    END IF;
    IF NEW.search_deferred THEN
        NEW.search_document := NULL;
    ELSIF NOT rewritten AND OLD.search_document IS NOT NULL THEN
        NEW.search_document := OLD.search_document;
    ELSE
        NEW.search_document := public.creatoros_search_document(
            NEW.title, NEW.content, NEW.status, NEW.project_id);
    END IF;
    IF NOT rewritten THEN
        unedited := NEW;
        unedited.updated_at := OLD.updated_at;
        unedited.search_deferred := OLD.search_deferred;
        unedited.search_document := OLD.search_document;
        IF unedited IS NOT DISTINCT FROM OLD THEN
            NEW.updated_at := OLD.updated_at;
        END IF;
    END IF;
    RETURN NEW;
END
$fn$;""",
    "REVOKE ALL ON FUNCTION creatoros_internal.contents_search_document() FROM PUBLIC",
]
TRIGGER = """
CREATE OR REPLACE TRIGGER zzz_contents_search_document
    BEFORE INSERT OR UPDATE OF title, content, status, project_id, search_deferred, search_document
    ON public.contents
    FOR EACH ROW EXECUTE FUNCTION creatoros_internal.contents_search_document()"""

# Every indexed row gets its document (the trigger builds it: the column is
# in the SET list and its old value is NULL; it puts updated_at back).
BACKFILL = (
    "UPDATE public.contents SET search_document = NULL"
    " WHERE NOT search_deferred AND search_document IS NULL"
)

DROP_KEEP_UPDATED_AT = [
    "DROP TRIGGER IF EXISTS zz_contents_search_indexed_keeps_updated_at ON public.contents",
    "DROP FUNCTION IF EXISTS creatoros_internal.search_indexed_keeps_updated_at()",
]


def _drop_invalid(name: str) -> str:
    """A CONCURRENTLY build that failed leaves an INVALID index that IF NOT
    EXISTS would then skip: dropped first, so a re-run builds it again."""
    return f"""
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relname = '{name}' AND NOT i.indisvalid) THEN
        DROP INDEX public.{name};
    END IF;
END
$$;
"""


CREATE_STORED_INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contents_search_stored ON public.contents"
    " USING gin (search_document) WITH (fastupdate = off)"
)
# A caller's own deferred rows, by project: never the other tenants'. Its
# predicate names project_id so that only a condition on the project can use
# it: the indexer's statements (`WHERE search_deferred`) keep 0008's index and
# their probes by id, whatever the statistics say.
CREATE_DEFERRED_PROJECT_INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contents_search_deferred_project"
    " ON public.contents (project_id) WHERE search_deferred AND project_id IS NOT NULL"
)

DOCUMENT_FUNCTION = """
CREATE OR REPLACE FUNCTION public.creatoros_search_document(
    title text, body text, status text, project_id uuid)
RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = ''
AS $fn$
SELECT pg_catalog.to_tsvector('public.creatoros_pt'::regconfig,
           public.creatoros_pt_fold(COALESCE(title, '') || ' ' || COALESCE(body, '')))
    OPERATOR(pg_catalog.||) (
        COALESCE('''~ t ' OPERATOR(pg_catalog.||) pg_catalog.replace(pg_catalog.substr(NULLIF(
            pg_catalog.strip(pg_catalog.to_tsvector('public.creatoros_pt'::regconfig,
                public.creatoros_pt_fold(COALESCE(title, ''))))::text, ''), 2),
            ' ''', ' ''~ t '), '')
        OPERATOR(pg_catalog.||) CASE WHEN status OPERATOR(pg_catalog.=) 'published'
                                     THEN ' ''~ published''' ELSE '' END
        OPERATOR(pg_catalog.||) COALESCE(' ''~ p ' OPERATOR(pg_catalog.||) project_id::text
                                         OPERATOR(pg_catalog.||) '''', '')
    )::tsvector
$fn$;
"""

SEARCH_FUNCTION = r"""
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
    own uuid[] := '{}';
    lookup tsquery := public.creatoros_relax_phrases(query);
    -- The two visibility lookups (service_role: the query alone, and none).
    visible_published tsquery;
    visible_own tsquery;
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
    IF sees_all THEN
        visible_published := lookup;
    ELSE
        -- Each project is one more OR'd marker that the index's check
        -- evaluates for every candidate row: projects without contents add
        -- cost and no rows (a creator with 900 projects, most of them empty,
        -- took "ferramentas de IA" from 20 to 190 ms).
        -- (A probe of each project's rows, `deleted_at` checked behind OFFSET
        -- 0: never a walk of an index of every live content, which a never
        -- analyzed table makes look cheap.)
        own := ARRAY(SELECT p.id FROM public.content_projects p
                     WHERE (SELECT public.current_mind_id())
                           IN (p.creator_mind_id, p.persona_mind_id)
                       AND EXISTS (SELECT FROM (SELECT c.deleted_at FROM public.contents c
                                                WHERE c.project_id = p.id OFFSET 0) c
                                   WHERE c.deleted_at IS NULL));
        visible_published := lookup && '''~ published'''::tsquery;
        IF cardinality(own) > 0 THEN
            visible_own := lookup && pg_catalog.array_to_string(
                ARRAY(SELECT '''~ p ' || o || '''' FROM unnest(own) o), ' | ')::tsquery;
        END IF;
    END IF;
    WHILE root ~ '[(]' LOOP
        root := pg_catalog.regexp_replace(root, '[(][^()]*[)]', '', 'g');
    END LOOP;
    IF root ~ '&' AND root !~ '[|]' AND cardinality(lexemes) BETWEEN 2 AND 8 THEN
        -- ts_rank of an AND query only rises above `base` for a title with
        -- two of its words (it scores pairs): ask for titles with a pair.
        titled := (
            SELECT pg_catalog.string_agg(
                       '''~ t ' || substr(a, 2) || ' & ''~ t ' || substr(b, 2), ' | ')
            FROM unnest(lexemes) a, unnest(lexemes) b WHERE a < b)::tsquery;
    ELSE
        titled := (
            SELECT pg_catalog.string_agg('''~ t ' || substr(a, 2), ' | ')
            FROM unnest(lexemes) a)::tsquery;
    END IF;

    -- The rank: ts_rank of the title's words (weight A), folded as
    -- public.creatoros_pt_fold folds (written out: a function with a SET
    -- clause is not inlined, and costs a call per row).
    SELECT coalesce(array_agg(r.id), '{}'), coalesce(array_agg(r.rank), '{}')
    INTO ranked_ids, ranks
    FROM (SELECT c.id, pg_catalog.ts_rank(pg_catalog.setweight(pg_catalog.to_tsvector('public.creatoros_pt'::regconfig, pg_catalog.regexp_replace(coalesce(c.title, ''), '[õo]es\M', 'ao', 'gi')), 'A'), query)::float8 AS rank
          FROM (SELECT c.id, c.title, c.content, c.status, c.project_id, c.document
                FROM (
                SELECT r.id, r.title, r.content, r.status, r.project_id, r.content_type, r.deleted_at, r.search_document AS document FROM public.contents r
                WHERE r.search_document @@ (visible_published && titled) OR r.search_document @@ (visible_own && titled)
                UNION ALL
                SELECT r.id, r.title, r.content, r.status, r.project_id, r.content_type, r.deleted_at, NULL FROM public.contents r
                WHERE r.search_deferred AND r.project_id = ANY (own) AND public.creatoros_search_document(r.title, r.content, r.status, r.project_id) @@ (lookup && titled)
                UNION ALL
                SELECT r.id, r.title, r.content, r.status, r.project_id, r.content_type, r.deleted_at, NULL FROM public.contents r
                WHERE sees_all AND r.search_deferred AND public.creatoros_search_document(r.title, r.content, r.status, r.project_id) @@ (lookup && titled)
                OFFSET 0) c
                WHERE c.deleted_at IS NULL
          AND (sees_all OR c.status = 'published' OR c.project_id = ANY (own))
          AND (only_project IS NULL OR c.project_id = only_project)
          AND (only_type IS NULL OR c.content_type = only_type)
          AND (only_status IS NULL OR c.status = only_status)
                OFFSET 0) c
          WHERE NOT phrase OR coalesce(c.document, public.creatoros_search_document(c.title, c.content, c.status, c.project_id)) @@ query) r
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
        -- one go, the planner may walk the primary key instead, reading
        -- every row it passes (seen: 100 ms at 133k rows).
        RETURN QUERY
        WITH matches AS MATERIALIZED (
            SELECT c.id, c.title, c.content, c.status, c.project_id, c.document
            FROM (
                SELECT r.id, r.title, r.content, r.status, r.project_id, r.content_type, r.deleted_at, r.search_document AS document FROM public.contents r
                WHERE r.search_document @@ visible_published OR r.search_document @@ visible_own
                UNION ALL
                SELECT r.id, r.title, r.content, r.status, r.project_id, r.content_type, r.deleted_at, NULL FROM public.contents r
                WHERE r.search_deferred AND r.project_id = ANY (own) AND public.creatoros_search_document(r.title, r.content, r.status, r.project_id) @@ lookup
                UNION ALL
                SELECT r.id, r.title, r.content, r.status, r.project_id, r.content_type, r.deleted_at, NULL FROM public.contents r
                WHERE sees_all AND r.search_deferred AND public.creatoros_search_document(r.title, r.content, r.status, r.project_id) @@ lookup
                OFFSET 0) c
            WHERE c.deleted_at IS NULL
          AND (sees_all OR c.status = 'published' OR c.project_id = ANY (own))
          AND (only_project IS NULL OR c.project_id = only_project)
          AND (only_type IS NULL OR c.content_type = only_type)
          AND (only_status IS NULL OR c.status = only_status)
              AND (after_rank IS NULL OR after_rank > base OR c.id > after_id)
              AND c.id NOT IN (SELECT unnest(ranked_ids)))
        SELECT rest.id, base FROM (
            SELECT * FROM matches m ORDER BY m.id OFFSET 0) rest
        WHERE NOT phrase OR coalesce(rest.document, public.creatoros_search_document(rest.title, rest.content, rest.status, rest.project_id)) @@ query
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
SEARCH_COMMENT = (
    "COMMENT ON FUNCTION creatoros_internal.search_page(tsquery, uuid, text, text,"
    " double precision, uuid, integer) IS"
    " 'creatoros: one page (id, rank) of the contents matching the query that"
    " the caller may read (full-text index lookup, which RLS cannot use: @@ is"
    " not leakproof); a deferred row only for the callers it belongs to'"
)

# The downgrade's target: 0008's document function (0007's, BEGIN ATOMIC),
# index, search_page and trigger, as they declared them.
OLD_DOCUMENT_FUNCTION = """
CREATE OR REPLACE FUNCTION public.creatoros_search_document(
    title text, body text, status text, project_id uuid)
RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
SELECT pg_catalog.to_tsvector('public.creatoros_pt'::regconfig,
           public.creatoros_pt_fold(COALESCE(title, '') || ' ' || COALESCE(body, '')))
    OPERATOR(pg_catalog.||) (
        COALESCE('''~ t ' OPERATOR(pg_catalog.||) pg_catalog.replace(pg_catalog.substr(NULLIF(
            pg_catalog.strip(pg_catalog.to_tsvector('public.creatoros_pt'::regconfig,
                public.creatoros_pt_fold(COALESCE(title, ''))))::text, ''), 2),
            ' ''', ' ''~ t '), '')
        OPERATOR(pg_catalog.||) CASE WHEN status OPERATOR(pg_catalog.=) 'published'
                                     THEN ' ''~ published''' ELSE '' END
        OPERATOR(pg_catalog.||) COALESCE(' ''~ p ' OPERATOR(pg_catalog.||) project_id::text
                                         OPERATOR(pg_catalog.||) '''', '')
    )::tsvector;
END;
"""
CREATE_OLD_INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contents_search_indexed ON public.contents"
    " USING gin (public.creatoros_search_document(title, content, status, project_id))"
    " WHERE NOT search_deferred"
)
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
OLD_SEARCH_COMMENT = (
    "COMMENT ON FUNCTION creatoros_internal.search_page(tsquery, uuid, text, text,"
    " double precision, uuid, integer) IS"
    " 'creatoros: one page (id, rank) of the contents matching the query that"
    " the caller may read (full-text index lookup, which RLS cannot use: @@ is"
    " not leakproof)'"
)
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
$fn$;""",
    "REVOKE ALL ON FUNCTION creatoros_internal.search_indexed_keeps_updated_at() FROM PUBLIC",
    """
CREATE OR REPLACE TRIGGER zz_contents_search_indexed_keeps_updated_at
    BEFORE UPDATE OF search_deferred ON public.contents
    FOR EACH ROW WHEN (OLD.search_deferred AND NOT NEW.search_deferred)
    EXECUTE FUNCTION creatoros_internal.search_indexed_keeps_updated_at()""",
]


def upgrade() -> None:
    for statement in (*ADD_COLUMN, *TRIGGER_FUNCTION, TRIGGER, BACKFILL, *DROP_KEEP_UPDATED_AT):
        op.execute(statement)
    with op.get_context().autocommit_block():
        op.execute(_drop_invalid("idx_contents_search_stored"))
        op.execute(CREATE_STORED_INDEX)
        op.execute(_drop_invalid("idx_contents_search_deferred_project"))
        op.execute(CREATE_DEFERRED_PROJECT_INDEX)
    # search_page reads the stored documents from here on; the expression
    # index goes only then, so searches never lose their index.
    op.execute(SEARCH_FUNCTION)
    op.execute(SEARCH_COMMENT)
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS public.idx_contents_search_indexed")
    # No longer an index expression: it may have a fixed search_path now.
    op.execute(DOCUMENT_FUNCTION)


def downgrade() -> None:
    # Inlinable again before 0008's index is built on it.
    op.execute(OLD_DOCUMENT_FUNCTION)
    with op.get_context().autocommit_block():
        op.execute(_drop_invalid("idx_contents_search_indexed"))
        op.execute(CREATE_OLD_INDEX)
    op.execute(OLD_SEARCH_FUNCTION)
    op.execute(OLD_SEARCH_COMMENT)
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS public.idx_contents_search_stored")
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS public.idx_contents_search_deferred_project")
    for statement in KEEP_UPDATED_AT:
        op.execute(statement)
    op.execute("DROP TRIGGER IF EXISTS zzz_contents_search_document ON public.contents")
    op.execute("DROP FUNCTION IF EXISTS creatoros_internal.contents_search_document()")
    op.execute("ALTER TABLE public.contents DROP COLUMN IF EXISTS search_document")
