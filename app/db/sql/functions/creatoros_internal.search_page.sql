-- One page (id, rank) of the contents matching a query that the caller may
-- read, best first, after a keyset cursor. SECURITY DEFINER because under
-- RLS no full-text index is used (`@@` is not LEAKPROOF): it asks the GIN
-- index of the stored documents (contents.search_document, revision 0009)
-- for the query AND the caller's visibility markers, ranks only the rows
-- whose title holds a query word, and reads the others in id order only
-- when the page reaches them, one window of ids at a time. It only narrows:
-- the API reads the page's rows back as the caller, under RLS.
--
-- Its cost is the caller's, never another tenant's (revision 0009):
-- - visibility is two lookups, not one: the published rows that match, and
--   the matches of the caller's own projects (`own`, a project the caller
--   creates or voices — as a persona, only with its consent, revision
--   0010). One lookup for "~ published | ~ p a | ~ p b …" made
--   the index evaluate that OR for every row holding any of its markers:
--   every tenant's published row, ~15 ms at bench scale.
-- - nothing is rebuilt at query time for an indexed row: its document is
--   stored (the phrase check reads it), and its index has no pending list
--   (fastupdate off).
-- - the row sources hold nothing but the index's conditions (the others
--   wait behind OFFSET 0): no partial index's predicate (`deleted_at IS
--   NULL`) is implied there, so whatever the statistics say (a fresh,
--   never analyzed table looks empty) the planner cannot walk such an index
--   and check every row's document instead (seen: every published row of
--   every tenant read, 100 KB documents detoasted, per search).
-- - a row whose indexing is deferred (a tree write's, until the search
--   indexer catches up: it is woken after each tree write and sweeps every
--   SEARCH_INDEX_INTERVAL seconds) is searched only by the callers it
--   belongs to (its project is in `own`; service_role: every row), who pay
--   for building its document; everyone else finds it once it is indexed.
-- What a lookup costs is what the index decodes and what it sends to the
-- heap (revision 0011; at bench scale, 133k contents, it took PostgreSQL's
-- CPU per search from 15.1 to 10.1 ms, with the rank computed once):
-- - a published row's document also holds `~ tp <title word>` and
--   `~ ip <id prefix>` (creatoros_internal.search_markers): asked for
--   "~ published & ~ t w", the index decoded the entry of every published
--   row (~27k) on each lookup, 1.5-3 ms; `~ tp w` is as small as the title
--   words' own.
-- - the rows whose title holds no query word (the base rank, id order) are
--   read one window of ids at a time. Ids are random, so the first three
--   hex digits of an id (4096 slots; every stored document holds `~ i` of
--   its id's first 1, 2 and 3 digits) spread any query's matches evenly. A
--   window is a few prefixes OR'd into the lookup: the index hands the heap
--   the window's matches only (~40, not the ~5,000 of a common word), which
--   are sorted by id. The first window is 32 slots; the next is sized from
--   the matches the last one held (twice as wide at least), until the page
--   is full or the ids run out; when they say the query has few matches in
--   all, the rest is read unmarked. Exact: a window holds every match of
--   its slots, all after the previous window's.
-- Revision 0007, its row sources split by revision 0008, stored documents,
-- split visibility and owner-only deferred rows by revision 0009, a
-- persona's consent by revision 0010, id windows and published markers by
-- revision 0011.

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

REVOKE ALL ON FUNCTION creatoros_internal.search_page(tsquery, uuid, text, text, double precision, uuid, integer)
    FROM PUBLIC;

GRANT EXECUTE ON FUNCTION creatoros_internal.search_page(tsquery, uuid, text, text, double precision, uuid, integer)
    TO anon, authenticated, service_role;

COMMENT ON FUNCTION creatoros_internal.search_page(tsquery, uuid, text, text, double precision, uuid, integer) IS
    'creatoros: one page (id, rank) of the contents matching the query that '
    'the caller may read (full-text index lookup, which RLS cannot use: @@ is'
    ' not leakproof); a deferred row only for the callers it belongs to';
