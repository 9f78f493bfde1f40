"""Search in Portuguese: accent-insensitive, stemmed, and usable under RLS.

Replaces production's `idx_contents_fts` — `to_tsvector('english', title
|| ' ' || content)`, which stems Portuguese as English and keeps accents, so
"configuracao" never found "configuração" — with `idx_contents_search`, the
same document through `public.creatoros_pt`: a copy of the built-in
`portuguese` configuration whose word mappings first pass through the
`unaccent` dictionary, after `public.creatoros_pt_fold` turned plurals in
-ões into -ão (the stemmer only knows them accented). Writing cost stays
as it was (one GIN index, one `to_tsvector` per row; the parser dominates
whatever the configuration); the
old index is dropped only once the new one is valid, and both are built
CONCURRENTLY so a production-size `contents` stays writable.

`creatoros_internal.search_visible_content_ids(tsquery)` (in a schema of its
own, which Supabase does not expose as RPC): row level security puts the
policies' conditions before any condition of the query that is not
LEAKPROOF, and `@@` is not, so under RLS no full-text index is ever used
(a sequential scan recomputing `to_tsvector` for every visible row, seconds
at 30k rows). Only a superuser may mark a function LEAKPROOF (not possible
on Supabase), so this SECURITY DEFINER function does the index lookup and
keeps only rows the caller's read policies let through (published, or of a
project the caller creates or is the persona of; service_role: all). It
narrows, it does not decide: the API's search statement reads the rows back
from `contents` by id as the caller, where RLS applies as everywhere.

The `unaccent` extension goes where Supabase keeps extensions (schema
`extensions`) when that schema exists, else `public`; an existing one is
used where it is. The downgrade leaves the extension installed (other
objects may have come to use it) and restores `idx_contents_fts` with
production's exact definition. It loses no data.

Revision ID: 0006_search_portuguese
Revises: 0005_idempotency_keys
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_search_portuguese"
down_revision: str | None = "0005_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Checked before a downgrade runs (see app/db/migrations.py): this one drops
# only an index, a function and a text search configuration.
DATA_LOSS: str | None = None

# The Portuguese stemmer strips -ção/-ções only as written with accents;
# once unaccented, "configuracao" and "configuracoes" stem apart. Folding the
# plural -ões (or -oes, as typed without accents) into -ão first makes
# singular and plural one word again. Applied alike to documents and queries
# (an English word ending in -oes is folded on both sides, so still found).
# Plain SQL, no SET clause: the planner inlines it, in the index too.
FOLD_FUNCTION = """
CREATE OR REPLACE FUNCTION public.creatoros_pt_fold(body text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = ''
AS $fn$ SELECT pg_catalog.regexp_replace(body, '[õo]es\\M', 'ao', 'gi') $fn$;
"""

UNACCENT = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'unaccent') THEN
        IF to_regnamespace('extensions') IS NOT NULL THEN
            CREATE EXTENSION unaccent WITH SCHEMA extensions;
        ELSE
            CREATE EXTENSION unaccent WITH SCHEMA public;
        END IF;
    END IF;
END
$$;
"""

# Words with letters outside ASCII (`word`, `hword`, `hword_part`) lose their
# accents before the Portuguese stemmer sees them; ASCII words already map to
# it. The dictionary is found in whatever schema holds the extension.
TEXT_SEARCH_CONFIG = """
DO $$
DECLARE
    dictionary text;
BEGIN
    IF NOT EXISTS (
        SELECT FROM pg_ts_config
        WHERE cfgname = 'creatoros_pt' AND cfgnamespace = 'public'::regnamespace
    ) THEN
        SELECT format('%I.%I', n.nspname, d.dictname) INTO STRICT dictionary
        FROM pg_ts_dict d
        JOIN pg_namespace n ON n.oid = d.dictnamespace
        JOIN pg_extension e ON e.extnamespace = n.oid AND e.extname = 'unaccent'
        WHERE d.dictname = 'unaccent';
        CREATE TEXT SEARCH CONFIGURATION public.creatoros_pt (COPY = pg_catalog.portuguese);
        EXECUTE format('ALTER TEXT SEARCH CONFIGURATION public.creatoros_pt'
                       ' ALTER MAPPING FOR hword, hword_part, word WITH %s, portuguese_stem',
                       dictionary);
        COMMENT ON TEXT SEARCH CONFIGURATION public.creatoros_pt IS
            'creatoros: portuguese, accent-insensitive (unaccent then portuguese_stem)';
    END IF;
END
$$;
"""

# A phrase ("pull request", `'pull' <-> 'request'`) is checked against the
# words' positions, which a GIN index does not hold: every row having all the
# words is read and its document rebuilt (seconds for a common phrase at
# 133k rows). The index lookup therefore uses the same query with phrases
# relaxed to AND (a superset), the read policies narrow the rows to the
# caller's, and only those are checked for the phrase itself. Excluded
# phrases (`!( … <-> … )`) cannot be relaxed that way; the API refuses them.
RELAX_FUNCTION = """
CREATE OR REPLACE FUNCTION public.creatoros_relax_phrases(query tsquery) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = ''
AS $fn$
    SELECT CASE WHEN query::text ~ '<[0-9]*->'
                THEN pg_catalog.regexp_replace(query::text, '<[0-9]*->', '&', 'g')::tsquery
                ELSE query END
$fn$;
"""

# The read policies of `contents` (0002), as one condition: published and
# not deleted, or a project the caller creates or is the persona of.
# service_role bypasses RLS, so it keeps every match. OFFSET 0 keeps the
# phrase check above the narrowing.
SEARCH_FUNCTION = """
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
# Outside `public`: Supabase exposes every function of `public` as an RPC
# endpoint, and a SECURITY DEFINER one there is a linter warning
# (security_definer_function_executable). The API roles may only use it.
INTERNAL_SCHEMA = [
    "CREATE SCHEMA IF NOT EXISTS creatoros_internal;",
    "REVOKE ALL ON SCHEMA creatoros_internal FROM PUBLIC;",
    "GRANT USAGE ON SCHEMA creatoros_internal TO anon, authenticated, service_role;",
]

SEARCH_FUNCTION_GRANTS = [
    "REVOKE ALL ON FUNCTION creatoros_internal.search_visible_content_ids(tsquery) FROM PUBLIC;",
    "GRANT EXECUTE ON FUNCTION creatoros_internal.search_visible_content_ids(tsquery)"
    " TO anon, authenticated, service_role;",
    "COMMENT ON FUNCTION creatoros_internal.search_visible_content_ids(tsquery) IS"
    " 'creatoros: ids of the contents matching the query that the caller may read"
    " (full-text index lookup, which RLS cannot use: @@ is not leakproof)';",
]

# 0006's index: the Portuguese document of title and body.
CREATE_NEW_INDEX = """CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contents_search ON public.contents USING gin (to_tsvector('public.creatoros_pt'::regconfig, public.creatoros_pt_fold(coalesce(title, '') || ' ' || coalesce(content, ''))))"""  # noqa: E501
# Production's definition, exactly (SCHEMA.md part 1): a query only uses an
# expression index when it repeats its expression.
CREATE_OLD_INDEX = """CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contents_fts ON public.contents USING gin (to_tsvector('english', coalesce(title, '') || ' ' || coalesce(content, '')))"""  # noqa: E501

# A CONCURRENTLY build that failed leaves an INVALID index that IF NOT EXISTS
# would then skip: it is dropped first, so a re-run builds it again.
DROP_INVALID_NEW_INDEX = """
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
DROP_INVALID_OLD_INDEX = """
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relname = 'idx_contents_fts' AND NOT i.indisvalid) THEN
        DROP INDEX public.idx_contents_fts;
    END IF;
END
$$;
"""  # noqa: E501


def upgrade() -> None:
    op.execute(UNACCENT)
    op.execute(TEXT_SEARCH_CONFIG)
    op.execute(FOLD_FUNCTION)
    op.execute(RELAX_FUNCTION)
    for statement in INTERNAL_SCHEMA:
        op.execute(statement)
    op.execute(SEARCH_FUNCTION)
    for statement in SEARCH_FUNCTION_GRANTS:
        op.execute(statement)
    with op.get_context().autocommit_block():
        op.execute(DROP_INVALID_NEW_INDEX)
        op.execute(CREATE_NEW_INDEX)
        # Only once the new index is built: searches never lose their index.
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS public.idx_contents_fts")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(DROP_INVALID_OLD_INDEX)
        op.execute(CREATE_OLD_INDEX)
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS public.idx_contents_search")
    op.execute("DROP FUNCTION IF EXISTS creatoros_internal.search_visible_content_ids(tsquery);")
    op.execute("DROP SCHEMA IF EXISTS creatoros_internal RESTRICT;")
    op.execute("DROP FUNCTION IF EXISTS public.creatoros_relax_phrases(tsquery);")
    op.execute("DROP FUNCTION IF EXISTS public.creatoros_pt_fold(text);")
    op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS public.creatoros_pt;")
