-- The search document of a content: the words of title and body (Portuguese,
-- accent-insensitive), plus markers no text can produce (each holds a
-- space): `~ t <word>` for each title word, `~ published`, and
-- `~ p <project id>`. They let search_page ask the GIN index for "visible to
-- the caller" and "the title says it" at once. Revision 0007; revision 0009
-- stores it in contents.search_document (built by the
-- zzz_contents_search_document trigger, indexed by idx_contents_search_stored),
-- so it is no longer an index expression that must be inlined: it has a
-- fixed search_path like every other function.

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

COMMENT ON FUNCTION public.creatoros_search_document(text, text, text, uuid) IS
    'creatoros: the search document of a content: its words, and markers (~ t <title word>,'
    ' ~ published, ~ p <project>) that let one GIN index narrow by title and visibility';
