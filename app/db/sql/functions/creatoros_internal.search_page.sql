-- One page (id, rank) of the contents matching a query that the caller may
-- read, best first, after a keyset cursor. SECURITY DEFINER because under
-- RLS no full-text index is used (`@@` is not LEAKPROOF): it asks the GIN
-- index of the stored documents (contents.search_document, revision 0009)
-- for the query AND the caller's visibility markers, ranks only the rows
-- whose title holds a query word, and reads the others in id order only
-- when the page reaches them. It only narrows: the API reads the page's
-- rows back as the caller, under RLS.
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
-- Revision 0007, its row sources split by revision 0008, stored documents,
-- split visibility and owner-only deferred rows by revision 0009, a
-- persona's consent by revision 0010.

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

REVOKE ALL ON FUNCTION creatoros_internal.search_page(tsquery, uuid, text, text, double precision, uuid, integer)
    FROM PUBLIC;

GRANT EXECUTE ON FUNCTION creatoros_internal.search_page(tsquery, uuid, text, text, double precision, uuid, integer)
    TO anon, authenticated, service_role;

COMMENT ON FUNCTION creatoros_internal.search_page(tsquery, uuid, text, text, double precision, uuid, integer) IS
    'creatoros: one page (id, rank) of the contents matching the query that '
    'the caller may read (full-text index lookup, which RLS cannot use: @@ is'
    ' not leakproof); a deferred row only for the callers it belongs to';
