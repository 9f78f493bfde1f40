-- The markers a stored search document holds besides
-- public.creatoros_search_document's (revision 0011), so that
-- creatoros_internal.search_page asks the GIN index small questions:
-- - `~ i <h>`, `~ i <hh>`, `~ i <hhh>`: the first 1, 2 and 3 hex digits of
--   the row's id. Ids are random: a run of prefixes is a window of ids that
--   holds the same share of any query's matches, so the rows matched by no
--   title word are read in id order one window at a time.
-- - a published row's `~ ip <prefix>` (the same three) and `~ tp <word>` for
--   each word of its title: "published and in this window", "published
--   with w in its title" in one small entry each. `~ published & ~ t w`
--   made the index decode the entry of every published row (~27k at bench
--   scale) on each lookup.
-- The trigger appends them to the document (contents_search_document):
-- they need the id, which the document function is not given. No text
-- produces them: each holds a space.

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
$fn$;

REVOKE ALL ON FUNCTION creatoros_internal.search_markers(uuid, text, text) FROM PUBLIC;

-- The trigger runs as the writer.
GRANT EXECUTE ON FUNCTION creatoros_internal.search_markers(uuid, text, text)
    TO authenticated, service_role;

COMMENT ON FUNCTION creatoros_internal.search_markers(uuid, text, text) IS
    'creatoros: the id-prefix and published-title markers a stored search document holds '
    '(~ i, ~ ip, ~ tp) so that search_page''s index lookups stay small';
