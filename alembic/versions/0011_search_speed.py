"""Search at full bench scale: id windows and published markers (issue 20, item 11).

At full bench scale (133k contents, 8 Portuguese queries) a search cost
15-18 ms of PostgreSQL CPU, nearly all of it `creatoros_internal.search_page`'s
index lookups and the rows they sent to the heap:

- the rows whose title holds no query word (the base rank, in id order)
  were all read to return the page's smallest ids: for a common word ~5,000
  rows on ~2,200 heap pages, for 21 of them;
- "published" was the `~ published` marker ANDed into each lookup, and the
  index decodes that entry (every published row of every tenant, ~27k) on
  every lookup: 1.5-3 ms each, four lookups a search.

Now every stored document also holds `creatoros_internal.search_markers`:
`~ i` of its id's first 1, 2 and 3 hex digits and, when published, `~ ip`
of the same and `~ tp <title word>`. search_page asks for the title
matches of published rows with `~ tp` (as small as the title words'
entries), and reads the base rank one window of ids at a time: a few id
prefixes OR'd into the lookup, so that the index hands the heap only the
window's matches; the next window is sized from the matches the last one
held, until the page is full. And a title match's rank is computed once,
not twice (the `rank <> base` filter, pushed down, parsed the title
again). The answers are the same rows in the same order (tests/search).
Measured on the bench's seed (interleaved with 0010's, PostgreSQL CPU per
search of the raw floor's statements): 15.1 -> 10.1 ms on average, p95
22.1 -> 13.3 ms.

The trigger appends the markers (they need the id, which the document
function is not given), now fires on an id change too, and builds the
document again when a writer sets it: the upgrade rebuilds every stored
document that way (one UPDATE; updated_at is put back, as in 0009).

Downgrade: the markers function made empty, the documents rebuilt (without
them), then 0010's search_page and 0009's trigger function and trigger
(written out here) and the markers function dropped. Nothing is lost: the
documents are derived from the rows.

Revision ID: 0011_search_speed
Revises: 0010_persona_consent
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011_search_speed"
down_revision: str | None = "0010_persona_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATA_LOSS: str | None = None

# Every statement below is written out whole, as it runs: a revision never
# changes once released, and never reads another one's text (the current
# definitions live in app/db/sql/).

MARKERS = [
    r"""
CREATE OR REPLACE FUNCTION creatoros_internal.search_markers(id uuid, title text, status text)
RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = ''
AS $fn$
SELECT pg_catalog.array_to_tsvector(
    ARRAY(SELECT '~ i ' || pg_catalog.left(id::text, n)
          FROM pg_catalog.generate_series(1, 3) n)
    || CASE WHEN status = 'published' THEN
           ARRAY(SELECT '~ ip ' || pg_catalog.left(id::text, n)
                 FROM pg_catalog.generate_series(1, 3) n)
           || ARRAY(SELECT '~ tp ' || w FROM pg_catalog.unnest(pg_catalog.tsvector_to_array(
                  pg_catalog.to_tsvector('public.creatoros_pt'::regconfig,
                      public.creatoros_pt_fold(COALESCE(title, ''))))) w)
       ELSE '{}'::text[] END)
$fn$;""",
    "REVOKE ALL ON FUNCTION creatoros_internal.search_markers(uuid, text, text) FROM PUBLIC",
    "GRANT EXECUTE ON FUNCTION creatoros_internal.search_markers(uuid, text, text)"
    " TO authenticated, service_role",
    """
COMMENT ON FUNCTION creatoros_internal.search_markers(uuid, text, text) IS
    'creatoros: the id-prefix and published-title markers a stored search document holds '
    '(~ i, ~ ip, ~ tp) so that search_page''s index lookups stay small'""",
]

TRIGGER_FUNCTION = r"""
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
        rewritten := (NEW.id, NEW.title, NEW.content, NEW.status, NEW.project_id)
                     IS DISTINCT FROM (OLD.id, OLD.title, OLD.content, OLD.status, OLD.project_id);
    END IF;
    IF rewritten THEN
        NEW.search_deferred := coalesce(defer_max, '') <> ''
            AND coalesce(pg_catalog.octet_length(NEW.content), 0) <= defer_max::bigint;
    ELSE
        NEW.search_deferred := OLD.search_deferred AND NEW.search_deferred IS TRUE;
    END IF;
    IF NEW.search_deferred THEN
        NEW.search_document := NULL;
    ELSIF NOT rewritten AND OLD.search_document IS NOT NULL
          AND NEW.search_document IS NOT DISTINCT FROM OLD.search_document THEN
        NEW.search_document := OLD.search_document;
    ELSE
        NEW.search_document := public.creatoros_search_document(
            NEW.title, NEW.content, NEW.status, NEW.project_id)
            || creatoros_internal.search_markers(NEW.id, NEW.title, NEW.status);
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
$fn$;"""

TRIGGER = """
CREATE OR REPLACE TRIGGER zzz_contents_search_document
    BEFORE INSERT OR UPDATE OF id, title, content, status, project_id, search_deferred,
        search_document
    ON public.contents
    FOR EACH ROW EXECUTE FUNCTION creatoros_internal.contents_search_document()"""

# Every stored document built again (the trigger builds a document a writer
# sets, and puts updated_at back); deferred rows get theirs when indexed.
REBUILD = "UPDATE public.contents SET search_document = NULL WHERE search_document IS NOT NULL"

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
    -- The lookups of title matches (service_role: one).
    titled_published tsquery;
    titled_own tsquery;
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
    -- The id windows: slots [slot, upto) of 4096, as prefixes of ids.
    slot integer := 0;
    width integer := 32;
    upto integer;
    block integer;
    prefixes text[];
    window_any tsquery;
    window_published tsquery;
    window_own tsquery;
    low uuid;
    high uuid;
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
                     WHERE ((SELECT public.current_mind_id()) = p.creator_mind_id
                            -- A persona's projects only with its consent (0010).
                            OR ((SELECT public.current_mind_id()) = p.persona_mind_id
                                AND creatoros_internal.persona_consented(p.persona_mind_id, p.creator_mind_id)))
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
        titled_published := (
            SELECT pg_catalog.string_agg(
                       '''~ tp ' || substr(a, 2) || ' & ''~ tp ' || substr(b, 2), ' | ')
            FROM unnest(lexemes) a, unnest(lexemes) b WHERE a < b)::tsquery;
    ELSE
        titled := (
            SELECT pg_catalog.string_agg('''~ t ' || substr(a, 2), ' | ')
            FROM unnest(lexemes) a)::tsquery;
        titled_published := (
            SELECT pg_catalog.string_agg('''~ tp ' || substr(a, 2), ' | ')
            FROM unnest(lexemes) a)::tsquery;
    END IF;
    IF sees_all THEN
        titled_published := lookup && titled;
    ELSE
        -- `~ tp w`: published, and w in the title (revision 0011).
        titled_published := lookup && titled_published;
        titled_own := visible_own && titled;
    END IF;

    -- The rank: ts_rank of the title's words (weight A), folded as
    -- public.creatoros_pt_fold folds (written out: a function with a SET
    -- clause is not inlined, and costs a call per row). Computed once a row
    -- (OFFSET 0): `r.rank <> base`, pushed down, parsed each title again.
    SELECT coalesce(array_agg(r.id), '{}'), coalesce(array_agg(r.rank), '{}')
    INTO ranked_ids, ranks
    FROM (SELECT c.id, pg_catalog.ts_rank(pg_catalog.setweight(pg_catalog.to_tsvector('public.creatoros_pt'::regconfig, pg_catalog.regexp_replace(coalesce(c.title, ''), '[õo]es\M', 'ao', 'gi')), 'A'), query)::float8 AS rank
          FROM (SELECT c.id, c.title, c.content, c.status, c.project_id, c.document
                FROM (
                SELECT r.id, r.title, r.content, r.status, r.project_id, r.content_type, r.deleted_at, r.search_document AS document FROM public.contents r
                WHERE r.search_document @@ titled_published OR r.search_document @@ titled_own
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
          WHERE NOT phrase OR coalesce(c.document, public.creatoros_search_document(c.title, c.content, c.status, c.project_id)) @@ query
          OFFSET 0) r
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
        -- The rest, in id order, window by window (revision 0011): from the
        -- cursor's slot (its rows up to the cursor are left out below).
        IF after_rank = base THEN
            slot := ('x' || substr(after_id::text, 1, 3))::bit(12)::integer;
        END IF;
        WHILE found_rows < page_size AND slot < 4096 LOOP
            upto := least(slot + width, 4096);
            low := (lpad(to_hex(slot), 3, '0') || '00000-0000-0000-0000-000000000000')::uuid;
            high := CASE WHEN upto < 4096
                         THEN (lpad(to_hex(upto), 3, '0') || '00000-0000-0000-0000-000000000000')::uuid END;
            IF width >= 4096 THEN
                -- Few matches in all: every one, unmarked (ids from `low` on).
                window_published := visible_published;
                window_own := visible_own;
            ELSE
                -- The slots as the fewest prefixes: 256 slots share their
                -- first digit, 16 their first two.
                prefixes := '{}';
                block := slot;
                WHILE block < upto LOOP
                    IF block % 256 = 0 AND block + 256 <= upto THEN
                        prefixes := prefixes || substr(lpad(to_hex(block), 3, '0'), 1, 1);
                        block := block + 256;
                    ELSIF block % 16 = 0 AND block + 16 <= upto THEN
                        prefixes := prefixes || substr(lpad(to_hex(block), 3, '0'), 1, 2);
                        block := block + 16;
                    ELSE
                        prefixes := prefixes || lpad(to_hex(block), 3, '0');
                        block := block + 1;
                    END IF;
                END LOOP;
                window_any := pg_catalog.array_to_string(
                    ARRAY(SELECT '''~ i ' || p || '''' FROM unnest(prefixes) p), ' | ')::tsquery;
                window_own := visible_own && window_any;
                IF sees_all THEN
                    window_published := visible_published && window_any;
                ELSE
                    -- `~ ip`: published, in the window.
                    window_published := lookup && pg_catalog.array_to_string(
                        ARRAY(SELECT '''~ ip ' || p || '''' FROM unnest(prefixes) p), ' | ')::tsquery;
                END IF;
            END IF;
            -- All the window's matches first (MATERIALIZED: planned for all
            -- its rows, so a GIN lookup), then id order. Asked for "ORDER BY
            -- id LIMIT n" in one go, the planner may walk the primary key
            -- instead, reading every row it passes (seen: 100 ms at 133k
            -- rows). Deferred rows have no markers: their window is checked
            -- on the row, before their document is built.
            RETURN QUERY
            WITH matches AS MATERIALIZED (
                SELECT c.id, c.title, c.content, c.status, c.project_id, c.document
                FROM (
                    SELECT r.id, r.title, r.content, r.status, r.project_id, r.content_type, r.deleted_at, r.search_document AS document FROM public.contents r
                    WHERE r.search_document @@ window_published OR r.search_document @@ window_own
                    UNION ALL
                    SELECT d.id, d.title, d.content, d.status, d.project_id, d.content_type, d.deleted_at, NULL FROM (
                        SELECT r.id, r.title, r.content, r.status, r.project_id, r.content_type, r.deleted_at FROM public.contents r
                        WHERE r.search_deferred AND r.project_id = ANY (own) OFFSET 0) d
                    WHERE d.id >= low AND (high IS NULL OR d.id < high)
                      AND public.creatoros_search_document(d.title, d.content, d.status, d.project_id) @@ lookup
                    UNION ALL
                    SELECT d.id, d.title, d.content, d.status, d.project_id, d.content_type, d.deleted_at, NULL FROM (
                        SELECT r.id, r.title, r.content, r.status, r.project_id, r.content_type, r.deleted_at FROM public.contents r
                        WHERE sees_all AND r.search_deferred OFFSET 0) d
                    WHERE d.id >= low AND (high IS NULL OR d.id < high)
                      AND public.creatoros_search_document(d.title, d.content, d.status, d.project_id) @@ lookup
                    OFFSET 0) c
                WHERE c.deleted_at IS NULL
              AND (sees_all OR c.status = 'published' OR c.project_id = ANY (own))
              AND (only_project IS NULL OR c.project_id = only_project)
              AND (only_type IS NULL OR c.content_type = only_type)
              AND (only_status IS NULL OR c.status = only_status)
                  AND (after_rank IS NULL OR after_rank > base OR c.id > after_id)
                  AND c.id >= low AND (high IS NULL OR c.id < high)
                  AND c.id NOT IN (SELECT unnest(ranked_ids)))
            SELECT rest.id, base FROM (
                SELECT * FROM matches m ORDER BY m.id OFFSET 0) rest
            WHERE NOT phrase OR coalesce(rest.document, public.creatoros_search_document(rest.title, rest.content, rest.status, rest.project_id)) @@ query
            LIMIT page_size - found_rows;
            GET DIAGNOSTICS more = ROW_COUNT;
            found_rows := found_rows + more;
            -- The next window: wide enough for the rest of the page at the
            -- density this one had (and half again), twice this one at least;
            -- all the rest, unmarked, when that density says the query has
            -- few matches in all (reading them costs less than more lookups).
            width := least(4096, CASE WHEN more = 0 THEN width * 8
                                      ELSE greatest(width * 2, ceil(1.5 * (page_size - found_rows) * (upto - slot) / more)) END);
            IF (more + 1) * 4096.0 / (upto - slot) <= 8 * page_size THEN
                width := 4096;
            END IF;
            slot := upto;
        END LOOP;
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

# The downgrade rebuilds the documents through this revision's trigger with
# no markers, before 0009's trigger (which keeps a stored document) is back.
NO_MARKERS = r"""
CREATE OR REPLACE FUNCTION creatoros_internal.search_markers(id uuid, title text, status text)
RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = ''
AS $fn$
SELECT ''::tsvector
$fn$;"""

# 0009's trigger function and trigger, restored on downgrade.
OLD_TRIGGER_FUNCTION = r"""
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
$fn$;"""

OLD_TRIGGER = """
CREATE OR REPLACE TRIGGER zzz_contents_search_document
    BEFORE INSERT OR UPDATE OF title, content, status, project_id, search_deferred, search_document
    ON public.contents
    FOR EACH ROW EXECUTE FUNCTION creatoros_internal.contents_search_document()"""

# 0010's search_page, restored on downgrade.
OLD_SEARCH_FUNCTION = r"""
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
                     WHERE ((SELECT public.current_mind_id()) = p.creator_mind_id
                            -- A persona's projects only with its consent (0010).
                            OR ((SELECT public.current_mind_id()) = p.persona_mind_id
                                AND creatoros_internal.persona_consented(p.persona_mind_id, p.creator_mind_id)))
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


def upgrade() -> None:
    for statement in (*MARKERS, TRIGGER_FUNCTION, TRIGGER, REBUILD, SEARCH_FUNCTION):
        op.execute(statement)


def downgrade() -> None:
    for statement in (NO_MARKERS, REBUILD, OLD_TRIGGER_FUNCTION, OLD_TRIGGER, OLD_SEARCH_FUNCTION):
        op.execute(statement)
    op.execute("DROP FUNCTION IF EXISTS creatoros_internal.search_markers(uuid, text, text)")
