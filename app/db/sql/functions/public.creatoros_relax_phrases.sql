-- A query's phrases (`a <-> b`) relaxed to AND: a GIN index holds no word
-- positions, so the index is asked for this superset and the phrase itself
-- is checked on the rows the caller may read. Revision 0006.

CREATE OR REPLACE FUNCTION public.creatoros_relax_phrases(query tsquery) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = ''
AS $fn$
    SELECT CASE WHEN query::text ~ '<[0-9]*->'
                THEN pg_catalog.regexp_replace(query::text, '<[0-9]*->', '&', 'g')::tsquery
                ELSE query END
$fn$;
