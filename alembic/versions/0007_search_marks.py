"""Search marks: one full-text index that also answers "visible to whom" and
"does the title say it", so a common word costs a page, not the corpus.

Measured on 0006 at bench scale (133k contents of ~5 KB; the caller sees
~30k of them): p95 ~250 ms, all in SQL. A common word matches a large part
of the corpus, and per match 0006 paid a heap visit to learn whether the
caller may read the row, a primary-key probe to read it back, and a
`ts_rank` over a freshly parsed title (~9 µs) — although only the rows
whose title holds a query word can rank above 0.

`public.creatoros_search_document(title, content, status, project_id)` is the
index's document: the words of title and body exactly as 0006 indexed them,
plus marker lexemes no text can produce — every marker holds a space, and
the parser never makes a token with one (neither in a document nor in what
websearch_to_tsquery makes of a query):

- `~ t <lexeme>` for each word of the title;
- `~ published` when the row is published, `~ p <project id>` for its project.

`creatoros_internal.search_page` (SECURITY DEFINER, as 0006's function, and
for the same reason: `@@` is not LEAKPROOF, so under RLS no full-text index
is used) asks the one GIN index for `query & ('~ published' | '~ p <each
project the caller creates or voices>')`: rows the caller cannot read are
never visited. It ranks only the rows the index says have the query's words
in their title (`… & ('~ t w1' | '~ t w2' …)`, or pairs of them for an AND
query, which ts_rank scores by pairs); every other match has the base rank
(what ts_rank gives a title without the words: 0, or 1e-20 for AND), and
those are ordered by id. A page above the base rank is answered without
touching the other matches at all; the base-rank rows are read in id order
only when a page reaches them. The markers only narrow: each row is checked
again against the read policies' condition (as 0006 did), and the API reads
the page's rows back as the caller, where RLS applies as everywhere. The
function returns a page of (id, rank), keyset cursor and filters included.
Measured (same machine, PostgreSQL 15, 133k contents, the bench's eight
queries as its first creator, the floor's statements): p50 17.4 ms, p95
21.5 ms; before, 68.4 / 181 ms.

One index, not two: a second GIN (e.g. btree_gin on `status`/`project_id`,
or one on the title) would be a second index to maintain on every write;
markers cost a second parse of the title and a merge per row, and a status
or project change re-indexes the row, which keeps the marks right. btree_gin
would also be an extension to install where it may not be. Measured
(embedded PostgreSQL 18, INSERT with the GIN index, per 1,000 rows): 1 KB
bodies 148 ms instead of 140 (+6 %), 5 KB bodies 633 instead of 615 (+3 %);
133 rows of 5 KB into the real `contents`: ~106 ms either way; the bench
floor's fresh 133-node course upsert, 0006 and 0007 interleaved on one
database: p50 98.5 and 100.1 ms.

The document function is inlined (see DOCUMENT_FUNCTION); 0006's fold, which
it calls, has `SET search_path` and is called, ~2 µs per call (two per row).

Safe on a production-size table: the new index is built CONCURRENTLY before
0006's is dropped; the downgrade rebuilds 0006's index (CONCURRENTLY, before
dropping this one) and restores 0006's function, both written out here as
0006 declared them. It loses no data.

Revision ID: 0007_search_marks
Revises: 0006_search_portuguese
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_search_marks"
down_revision: str | None = "0006_search_portuguese"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Checked before a downgrade runs (see app/db/migrations.py): this one drops
# only an index and functions.
DATA_LOSS: str | None = None

# Every statement below is written out whole, as it runs: a revision never
# changes once released, and never reads another one's text (the current
# definitions live in app/db/sql/).

# Words as 0006 indexed them (`to_tsvector` of title and body, folded), then
# the markers, written as a tsvector's text and cast: the title's lexemes
# come from its stripped tsvector's text (`'a' 'b'`: lexemes never hold a
# space, so each ` '` starts one), prefixed in place.
#
# Inlined, not called: the planner inlines a SQL function into the index
# expression (and the queries) only if it has no SET clause and calls
# nothing less than IMMUTABLE. Called instead, it cost ~20 µs more per row
# (~100 ms per 1,000 nodes of 1 KB bodies), measured. Without SET, its
# search_path must not matter: a SQL-standard body (BEGIN ATOMIC) is parsed
# when created, so every name in it is bound then, whatever the caller's
# search_path (the linter test exempts such bodies for that reason).
# IMMUTABLE is honest: the result depends on the arguments only.
DOCUMENT_FUNCTION = """
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
DOCUMENT_COMMENT = """
COMMENT ON FUNCTION public.creatoros_search_document(text, text, text, uuid) IS
    'creatoros: the search document of a content: its words, and markers (~ t <title word>,'
    ' ~ published, ~ p <project>) that let one GIN index narrow by title and visibility';
"""


# One page of the caller's matches, best first: (id, rank); ties by id;
# after the keyset cursor (after_rank, after_id). Phrases are looked up
# relaxed to AND (0006's creatoros_relax_phrases) and checked on the row
# itself, after the cheap conditions (OFFSET 0 keeps them apart).
#
# `base` is the rank of a title that holds none of the query's words:
# ts_rank's value when nothing matches (0, or 1e-20 for an AND query, where
# a title with only one of the words ranks the same). Most matches have it.
#
# 1. The markers: the caller's (none for service_role, which reads every
#    row), and the query's lexemes as title markers, taken from the query's
#    text form (lexemes quoted, quotes doubled: a prefix inside the quotes
#    keeps it valid). ts_rank scores an AND query (its root operator) by
#    pairs of its words, so a title with fewer than two of them ranks
#    `base`: for those, only titles with a pair are asked for (up to 8
#    words, 28 pairs; beyond, any word).
# 2. Every visible match with a query word in its title, ranked; those that
#    do not rank `base` are kept (ids and ranks): the page's rows above `base`
#    come from them.
# The planner cannot tell what the document costs (to_tsvector of a ~5 KB
# body takes ~0.1 ms; its estimate is a fraction of a microsecond), so for a
# common word it may prefer reading every row of `contents` and rebuilding
# each document to the GIN lookup: `SET enable_seqscan = off` for this
# function's statements leaves the index (tests/search reads the plans).
#
# 3. Only if the page is not full yet: the matches that rank `base`, in id
#    order (the phrase check, which rebuilds the document, stops at the
#    page's end); then the kept ones below `base`, if any (a title whose
#    words lie too far apart ranks 0).
#
# Its pieces: the rank is ts_rank of the title's words (weight A), as 0006's
# statement had it; the rows the caller may read are the read policies of
# `contents` (0002), as 0006's function had them, not deleted (the API never
# shows those), and the filters.
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

FUNCTION_GRANTS = [
    "REVOKE ALL ON FUNCTION creatoros_internal.search_page"
    "(tsquery, uuid, text, text, double precision, uuid, integer) FROM PUBLIC;",
    "GRANT EXECUTE ON FUNCTION creatoros_internal.search_page"
    "(tsquery, uuid, text, text, double precision, uuid, integer)"
    " TO anon, authenticated, service_role;",
    "COMMENT ON FUNCTION creatoros_internal.search_page"
    "(tsquery, uuid, text, text, double precision, uuid, integer) IS"
    " 'creatoros: one page (id, rank) of the contents matching the query that the caller"
    " may read (full-text index lookup, which RLS cannot use: @@ is not leakproof)';",
]


# A CONCURRENTLY build that failed leaves an INVALID index that IF NOT EXISTS
# would then skip: it is dropped first, so a re-run builds it again.
DROP_INVALID_NEW_INDEX = """
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
CREATE_NEW_INDEX = """CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contents_search_document ON public.contents USING gin (public.creatoros_search_document(title, content, status, project_id))"""  # noqa: E501

# The downgrade's target: 0006's function, its rights, and its index, as 0006
# declared them.
OLD_SEARCH_FUNCTION = """
CREATE OR REPLACE FUNCTION creatoros_internal.search_visible_content_ids(query tsquery)
RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = ''
AS $fn$
    SELECT id FROM (
        SELECT id, title, content FROM public.contents
        WHERE to_tsvector('public.creatoros_pt'::regconfig, public.creatoros_pt_fold(coalesce(title, '') || ' ' || coalesce(content, ''))) @@ public.creatoros_relax_phrases(query)
          AND ((status = 'published' AND deleted_at IS NULL)
               OR project_id IN (
                   SELECT p.id FROM public.content_projects p
                   WHERE (SELECT public.current_mind_id())
                         IN (p.creator_mind_id, p.persona_mind_id))
               OR (SELECT auth.role()) = 'service_role')
        OFFSET 0) visible
    WHERE CASE WHEN query::text ~ '<[0-9]*->' THEN to_tsvector('public.creatoros_pt'::regconfig, public.creatoros_pt_fold(coalesce(title, '') || ' ' || coalesce(content, ''))) @@ query ELSE true END
$fn$;
"""  # noqa: E501
OLD_SEARCH_FUNCTION_GRANTS = [
    "REVOKE ALL ON FUNCTION creatoros_internal.search_visible_content_ids(tsquery) FROM PUBLIC;",
    "GRANT EXECUTE ON FUNCTION creatoros_internal.search_visible_content_ids(tsquery)"
    " TO anon, authenticated, service_role;",
    "COMMENT ON FUNCTION creatoros_internal.search_visible_content_ids(tsquery) IS"
    " 'creatoros: ids of the contents matching the query that the caller may read"
    " (full-text index lookup, which RLS cannot use: @@ is not leakproof)';",
]
DROP_INVALID_OLD_INDEX = """
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relname = 'idx_contents_search' AND NOT i.indisvalid) THEN
        DROP INDEX public.idx_contents_search;
    END IF;
END
$$;
"""  # noqa: E501
CREATE_OLD_INDEX = """CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contents_search ON public.contents USING gin (to_tsvector('public.creatoros_pt'::regconfig, public.creatoros_pt_fold(coalesce(title, '') || ' ' || coalesce(content, ''))))"""  # noqa: E501


def upgrade() -> None:
    op.execute(DOCUMENT_FUNCTION)
    op.execute(DOCUMENT_COMMENT)
    op.execute(SEARCH_FUNCTION)
    for statement in FUNCTION_GRANTS:
        op.execute(statement)
    with op.get_context().autocommit_block():
        op.execute(DROP_INVALID_NEW_INDEX)
        op.execute(CREATE_NEW_INDEX)
        # Only once the new index is built: searches never lose their index.
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS public.idx_contents_search")
    op.execute("DROP FUNCTION IF EXISTS creatoros_internal.search_visible_content_ids(tsquery);")


def downgrade() -> None:
    op.execute(OLD_SEARCH_FUNCTION)
    for statement in OLD_SEARCH_FUNCTION_GRANTS:
        op.execute(statement)
    with op.get_context().autocommit_block():
        op.execute(DROP_INVALID_OLD_INDEX)
        op.execute(CREATE_OLD_INDEX)
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS public.idx_contents_search_document")
    op.execute(
        "DROP FUNCTION IF EXISTS creatoros_internal.search_page"
        "(tsquery, uuid, text, text, double precision, uuid, integer);"
    )
    op.execute("DROP FUNCTION IF EXISTS public.creatoros_search_document(text, text, text, uuid);")
