-- Folds the Portuguese plural -ões (or -oes, as typed without accents) into
-- -ão before stemming: once unaccented, the stemmer would keep singular and
-- plural apart. Applied alike to documents and queries. Revision 0006.

CREATE OR REPLACE FUNCTION public.creatoros_pt_fold(body text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = ''
AS $fn$ SELECT pg_catalog.regexp_replace(body, '[õo]es\M', 'ao', 'gi') $fn$;
