"""Persona consent, public reads for signed-in callers, and the foreign keys' own indexes.

Persona consent (issue 20, item 4). Any creator could name any public mind as
its project's persona, and a persona reads the project, its contents (drafts
included), its research, and finds them in search: 200 projects attached to
a victim's mind put 212 foreign drafts in its search results, 199 projects in
its project list, and took its searches from 5 to 1,096 ms. Now:

- `persona_grants (owner_mind_id, grantee_mind_id)`: the owner of a mind
  lets another mind name it as persona. The owner lists, adds and revokes
  them (`/v1/me/persona-grants`); the grantee sees the grants it holds.
- `creatoros_internal.persona_consented(persona, creator)`: the one rule. No
  persona, the creator's own mind, or a grant from the persona to the
  creator. SECURITY INVOKER: it sees only the grants the caller may see (its
  own and those given to it), so it tells nobody about other minds' grants.
- Writes: a project's INSERT and UPDATE policies check it (WITH CHECK), so
  naming a persona without consent fails with 42501 (the API's 403
  `persona-not-granted`). Every write of such a row needs consent at the
  time of the write: after a revocation, the creator clears
  `persona_mind_id` or asks again before changing the project.
- Reads: the persona arm of the SELECT policies of content_projects,
  contents and market_research, and the `own` projects of
  `creatoros_internal.search_page`, hold only with consent. Revoking a grant
  hides the rows from the persona at once; they are not changed.
- Existing rows are kept: the upgrade counts the projects whose persona
  has not consented (RAISE NOTICE) and changes none of them.

Reads consistent for anon and signed-in (item 7). `anon` read a project that
held a published content; a signed-in caller did not (the policy could not be
theirs: it read contents, whose policies read content_projects, a recursion
PostgreSQL refuses). `creatoros_internal.project_is_public(project)` asks the
same question as SECURITY DEFINER (it reads contents without their policies,
so nothing recurses), with a fixed empty search_path, for both roles. Its
partial index `idx_contents_published_project` makes it one probe.
`creatoros_internal.reads_whole_project(creator, persona)` (SECURITY DEFINER:
anon may not read user_profiles) says whether the caller sees a project's
whole row (its creator, its consenting persona) or the public projection the
API answers everyone else (app/projects/sql.py).

Foreign keys with an index of their own (item 10): contents.parent_content_id
(its two indexes are partial, so the cascade from a parent cannot use them to
find deleted children), content_projects.creator_mind_id,
audience_profiles.owner_mind_id and content_frameworks.owner_mind_id (their
unique constraints lead with the column; the index of their own keeps the
foreign key's lookups off the wider unique index and satisfies the linter's
rule as stated). Built CONCURRENTLY, as 0008 does.

The linter's `extension_in_public`: on a plain PostgreSQL (no `extensions`
schema, as Supabase has) unaccent moves from `public` to a new `extensions`
schema; production's placement is never touched.

Downgrade: unaccent back to `public` (only if this revision moved it),
0004's policies and 0009's search_page as they were (written out here), then
the helpers, the indexes and the table. It loses the grants (DATA_LOSS).

Revision ID: 0010_persona_consent
Revises: 0009_search_isolation
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import context, op

revision: str = "0010_persona_consent"
down_revision: str | None = "0009_search_isolation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Undoing it drops the grants.
DATA_LOSS: str | None = "EXISTS (SELECT FROM public.persona_grants)"

# Every statement below is written out whole, as it runs: a revision never
# changes once released, and never reads another one's text (the current
# definitions live in app/db/sql/).

TABLE = [
    """
CREATE TABLE IF NOT EXISTS public.persona_grants (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    owner_mind_id uuid NOT NULL DEFAULT public.current_mind_id(),
    grantee_mind_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_persona_grants PRIMARY KEY (id),
    CONSTRAINT fk_persona_grants_owner_mind_id FOREIGN KEY (owner_mind_id)
        REFERENCES public.minds (id) ON DELETE CASCADE,
    CONSTRAINT fk_persona_grants_grantee_mind_id FOREIGN KEY (grantee_mind_id)
        REFERENCES public.minds (id) ON DELETE CASCADE,
    CONSTRAINT uq_persona_grants_owner_grantee UNIQUE (owner_mind_id, grantee_mind_id),
    CONSTRAINT ck_persona_grants_not_self CHECK (owner_mind_id <> grantee_mind_id)
);
""",
    "COMMENT ON TABLE public.persona_grants IS 'creatoros: the owner of a mind lets"
    " another mind (the grantee) name it as the persona of the grantee''s projects'",
    "CREATE INDEX IF NOT EXISTS idx_persona_grants_grantee_mind_id"
    " ON public.persona_grants (grantee_mind_id)",
    "ALTER TABLE public.persona_grants ENABLE ROW LEVEL SECURITY",
    "GRANT SELECT, INSERT, DELETE ON public.persona_grants TO authenticated",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON public.persona_grants TO service_role",
]

GRANT_POLICIES = [
    # The owner and the grantee see a grant; only the owner gives or revokes it.
    """CREATE POLICY persona_grants_select ON public.persona_grants
    FOR SELECT TO authenticated
    USING (owner_mind_id = (select public.current_mind_id())
           OR grantee_mind_id = (select public.current_mind_id()))""",
    """CREATE POLICY persona_grants_owner_insert ON public.persona_grants
    FOR INSERT TO authenticated
    WITH CHECK (owner_mind_id = (select public.current_mind_id()))""",
    """CREATE POLICY persona_grants_owner_delete ON public.persona_grants
    FOR DELETE TO authenticated
    USING (owner_mind_id = (select public.current_mind_id()))""",
]

HELPERS = [
    """
CREATE OR REPLACE FUNCTION creatoros_internal.persona_consented(persona uuid, creator uuid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = ''
AS $fn$
    SELECT persona IS NULL OR persona = creator
        OR EXISTS (SELECT FROM public.persona_grants g
                   WHERE g.owner_mind_id = persona AND g.grantee_mind_id = creator)
$fn$""",
    "REVOKE ALL ON FUNCTION creatoros_internal.persona_consented(uuid, uuid) FROM PUBLIC",
    "GRANT EXECUTE ON FUNCTION creatoros_internal.persona_consented(uuid, uuid)"
    " TO authenticated, service_role",
    "COMMENT ON FUNCTION creatoros_internal.persona_consented(uuid, uuid) IS"
    " 'creatoros: whether a project of creator may name persona (none, its own mind,"
    " or a grant from persona to creator); as the caller: only grants it may see count'",
    """
CREATE OR REPLACE FUNCTION creatoros_internal.project_is_public(project uuid)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = ''
AS $fn$
    SELECT EXISTS (SELECT FROM public.contents c
                   WHERE c.project_id = project
                     AND c.status = 'published' AND c.deleted_at IS NULL)
$fn$""",
    "REVOKE ALL ON FUNCTION creatoros_internal.project_is_public(uuid) FROM PUBLIC",
    "GRANT EXECUTE ON FUNCTION creatoros_internal.project_is_public(uuid)"
    " TO anon, authenticated, service_role",
    "COMMENT ON FUNCTION creatoros_internal.project_is_public(uuid) IS"
    " 'creatoros: whether a project holds a published content (a public course page);"
    " SECURITY DEFINER so that the projects'' read policy does not recurse through contents'",
    """
CREATE OR REPLACE FUNCTION creatoros_internal.reads_whole_project(creator uuid, persona uuid)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = ''
AS $fn$
    SELECT coalesce((SELECT public.current_mind_id()) = creator
                    OR ((SELECT public.current_mind_id()) = persona
                        AND creatoros_internal.persona_consented(persona, creator)), false)
$fn$""",
    "REVOKE ALL ON FUNCTION creatoros_internal.reads_whole_project(uuid, uuid) FROM PUBLIC",
    "GRANT EXECUTE ON FUNCTION creatoros_internal.reads_whole_project(uuid, uuid)"
    " TO anon, authenticated, service_role",
    "COMMENT ON FUNCTION creatoros_internal.reads_whole_project(uuid, uuid) IS"
    " 'creatoros: whether the caller reads a project''s whole row (its creator, or its"
    " consenting persona); everyone else gets its public projection'",
]

# (table, policy, its whole new text). Each replaces 0004's policy of that name.
POLICIES: list[tuple[str, str, str]] = [
    ("content_projects", "content_projects_select", """CREATE POLICY content_projects_select ON public.content_projects
    FOR SELECT TO authenticated
    USING (creator_mind_id = (select public.current_mind_id())
           OR (persona_mind_id = (select public.current_mind_id())
               AND creatoros_internal.persona_consented(persona_mind_id, creator_mind_id))
           OR creatoros_internal.project_is_public(id))"""),  # noqa: E501
    ("content_projects", "content_projects_public_select", """CREATE POLICY content_projects_public_select ON public.content_projects
    FOR SELECT TO anon
    USING (creatoros_internal.project_is_public(id))"""),  # noqa: E501
    ("content_projects", "content_projects_creator_insert", """CREATE POLICY content_projects_creator_insert ON public.content_projects
    FOR INSERT TO authenticated
    WITH CHECK (creator_mind_id = (select public.current_mind_id())
                AND creatoros_internal.persona_consented(persona_mind_id, creator_mind_id))"""),  # noqa: E501
    ("content_projects", "content_projects_creator_update", """CREATE POLICY content_projects_creator_update ON public.content_projects
    FOR UPDATE TO authenticated
    USING (creator_mind_id = (select public.current_mind_id()))
    WITH CHECK (creator_mind_id = (select public.current_mind_id())
                AND creatoros_internal.persona_consented(persona_mind_id, creator_mind_id))"""),  # noqa: E501
    ("contents", "contents_select", """CREATE POLICY contents_select ON public.contents
    FOR SELECT TO authenticated
    USING (project_id IN (SELECT p.id FROM public.content_projects p
                          WHERE p.creator_mind_id = (select public.current_mind_id()))
           OR project_id IN (SELECT p.id FROM public.content_projects p
                             WHERE p.persona_mind_id = (select public.current_mind_id())
                               AND creatoros_internal.persona_consented(p.persona_mind_id, p.creator_mind_id))
           OR (status = 'published' AND deleted_at IS NULL))"""),  # noqa: E501
    ("market_research", "market_research_select", """CREATE POLICY market_research_select ON public.market_research
    FOR SELECT TO authenticated
    USING (project_id IN (SELECT p.id FROM public.content_projects p
                          WHERE p.creator_mind_id = (select public.current_mind_id()))
           OR project_id IN (SELECT p.id FROM public.content_projects p
                             WHERE p.persona_mind_id = (select public.current_mind_id())
                               AND creatoros_internal.persona_consented(p.persona_mind_id, p.creator_mind_id)))"""),  # noqa: E501
]  # fmt: skip

# 0004's text of the same policies, restored on downgrade.
OLD_POLICIES: list[tuple[str, str, str]] = [
    ("content_projects", "content_projects_select", """CREATE POLICY content_projects_select ON public.content_projects
    FOR SELECT TO authenticated
    USING (creator_mind_id = (select public.current_mind_id()) OR persona_mind_id = (select public.current_mind_id()))"""),  # noqa: E501
    ("content_projects", "content_projects_public_select", """CREATE POLICY content_projects_public_select ON public.content_projects
    FOR SELECT TO anon
    USING (EXISTS (SELECT FROM public.contents c
                   WHERE c.project_id = content_projects.id
                     AND c.status = 'published' AND c.deleted_at IS NULL))"""),  # noqa: E501
    ("content_projects", "content_projects_creator_insert", """CREATE POLICY content_projects_creator_insert ON public.content_projects
    FOR INSERT TO authenticated
    WITH CHECK (creator_mind_id = (select public.current_mind_id()))"""),  # noqa: E501
    ("content_projects", "content_projects_creator_update", """CREATE POLICY content_projects_creator_update ON public.content_projects
    FOR UPDATE TO authenticated
    USING (creator_mind_id = (select public.current_mind_id()))
    WITH CHECK (creator_mind_id = (select public.current_mind_id()))"""),  # noqa: E501
    ("contents", "contents_select", """CREATE POLICY contents_select ON public.contents
    FOR SELECT TO authenticated
    USING (project_id IN (SELECT p.id FROM public.content_projects p
                          WHERE p.creator_mind_id = (select public.current_mind_id()))
           OR project_id IN (SELECT p.id FROM public.content_projects p
                             WHERE p.persona_mind_id = (select public.current_mind_id()))
           OR (status = 'published' AND deleted_at IS NULL))"""),
    ("market_research", "market_research_select", """CREATE POLICY market_research_select ON public.market_research
    FOR SELECT TO authenticated
    USING (project_id IN (SELECT p.id FROM public.content_projects p
                          WHERE p.creator_mind_id = (select public.current_mind_id()))
           OR project_id IN (SELECT p.id FROM public.content_projects p
                             WHERE p.persona_mind_id = (select public.current_mind_id())))"""),  # noqa: E501
]  # fmt: skip

# Existing rows are kept: the upgrade says how many name a persona that has
# not consented (hidden from that persona from now on), and changes none.
REPORT_UNCONSENTED = """
DO $$
DECLARE
    unconsented bigint;
BEGIN
    SELECT count(*) INTO unconsented FROM public.content_projects p
    WHERE NOT creatoros_internal.persona_consented(p.persona_mind_id, p.creator_mind_id);
    RAISE NOTICE 'creatoros: % project(s) name a persona that has not granted it; they are kept,'
                 ' their persona no longer reads them until it grants their creator'
                 ' (SELECT id, creator_mind_id, persona_mind_id FROM public.content_projects'
                 ' WHERE NOT creatoros_internal.persona_consented(persona_mind_id, creator_mind_id))',
                 unconsented;
END
$$;
"""  # noqa: E501

# (name, definition). A CONCURRENTLY build that failed leaves an INVALID
# index that IF NOT EXISTS would then skip: it is dropped first.
INDEXES: list[tuple[str, str]] = [
    ("idx_contents_published_project",
     "ON public.contents (project_id) WHERE status = 'published' AND deleted_at IS NULL"),
    ("idx_contents_parent_content_id", "ON public.contents (parent_content_id)"),
    ("idx_content_projects_creator_mind_id", "ON public.content_projects (creator_mind_id)"),
    ("idx_audience_profiles_owner_mind_id", "ON public.audience_profiles (owner_mind_id)"),
    ("idx_content_frameworks_owner_mind_id", "ON public.content_frameworks (owner_mind_id)"),
]  # fmt: skip


def _drop_invalid_index(name: str) -> str:
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


def _guarded(table: str, name: str, create: str) -> str:
    """`create` (a CREATE POLICY) unless the table has a policy of that name."""
    return f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_policies
                   WHERE schemaname = 'public' AND tablename = '{table}'
                     AND policyname = '{name}') THEN
        {create};
    END IF;
END
$$;
"""


def _replace_policies(policies: list[tuple[str, str, str]]) -> None:
    for table, name, create in policies:
        op.execute(f"DROP POLICY IF EXISTS {name} ON public.{table}")
        op.execute(create)


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

# 0009's search_page, restored on downgrade.
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

# Supabase keeps extensions in the schema `extensions`; on a plain PostgreSQL
# (no such schema) revision 0006 put unaccent in `public`, which the linter
# flags (extension_in_public: its functions become callable API surface).
# Moved only there, where the schema is made for it, so production's own
# placement is never changed; the marker tells the downgrade to move it back.
EXTENSIONS_MARKER = "creatoros: made by revision 0010 for unaccent, moved here from public"
MOVE_UNACCENT = f"""
DO $$
BEGIN
    IF to_regnamespace('extensions') IS NULL
       AND EXISTS (SELECT FROM pg_extension
                   WHERE extname = 'unaccent' AND extnamespace = 'public'::regnamespace) THEN
        CREATE SCHEMA extensions;
        COMMENT ON SCHEMA extensions IS '{EXTENSIONS_MARKER}';
        GRANT USAGE ON SCHEMA extensions TO anon, authenticated, service_role;
        ALTER EXTENSION unaccent SET SCHEMA extensions;
    END IF;
END
$$;
"""
RESTORE_UNACCENT = f"""
DO $$
BEGIN
    IF obj_description(to_regnamespace('extensions')::oid, 'pg_namespace') = '{EXTENSIONS_MARKER}'
    THEN
        ALTER EXTENSION unaccent SET SCHEMA public;
        DROP SCHEMA extensions RESTRICT;
    END IF;
END
$$;
"""

REFUSE_DATA_LOSS = f"""
DO $$
BEGIN
    IF ({DATA_LOSS}) THEN
        RAISE EXCEPTION 'refusing to drop persona_grants: it holds grants'
            USING HINT = 'pass -x allow_data_loss=true (creatoros db downgrade --allow-data-loss)';
    END IF;
END
$$;
"""


def upgrade() -> None:
    for statement in TABLE:
        op.execute(statement)
    for statement in GRANT_POLICIES:
        name = statement.split()[2]
        op.execute(_guarded("persona_grants", name, statement))
    for statement in HELPERS:
        op.execute(statement)
    with op.get_context().autocommit_block():
        for name, definition in INDEXES:
            op.execute(_drop_invalid_index(name))
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} {definition}")
    _replace_policies(POLICIES)
    op.execute(SEARCH_FUNCTION)
    op.execute(MOVE_UNACCENT)
    op.execute(REPORT_UNCONSENTED)


def downgrade() -> None:
    allow = context.get_x_argument(as_dictionary=True).get("allow_data_loss", "")
    if allow.lower() not in ("1", "true", "yes"):
        op.execute(REFUSE_DATA_LOSS)
    op.execute(RESTORE_UNACCENT)
    _replace_policies(OLD_POLICIES)
    op.execute(OLD_SEARCH_FUNCTION)
    with op.get_context().autocommit_block():
        for name, _ in reversed(INDEXES):
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS public.{name}")
    for signature in ("reads_whole_project(uuid, uuid)", "project_is_public(uuid)",
                      "persona_consented(uuid, uuid)"):  # fmt: skip
        op.execute(f"DROP FUNCTION IF EXISTS creatoros_internal.{signature}")
    op.execute("DROP TABLE IF EXISTS public.persona_grants")
