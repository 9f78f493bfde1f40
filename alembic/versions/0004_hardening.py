"""Hardening: what Supabase's database linter (splinter) flags, and public reads.

- `alembic_version` gets RLS and loses the login role's SELECT (lint
  `rls_disabled_in_public`, ERROR): `/readyz` reads the revision through
  `public.creatoros_schema_revision()`, a SECURITY DEFINER function only the
  login role may execute.
- A fixed, empty `search_path` on the functions the migrations created
  (`function_search_path_mutable`): their bodies name every object with its
  schema. Supabase's own `auth` functions are never touched (only those that
  carry the baseline's `creatoros:baseline` comment are ours); production's
  own public functions, which may use unqualified names, get `public, pg_temp`.
- One permissive SELECT policy per table and role (`multiple_permissive_policies`):
  each `FOR ALL` owner policy becomes INSERT/UPDATE/DELETE policies and the
  SELECT policies of a table are OR-ed into one, which is the same meaning
  (PostgreSQL ORs permissive policies anyway) evaluated once per row.
- `tags_insert_any` (WITH CHECK true, `rls_policy_always_true`) becomes
  `tags_insert_with_mind`: only a user with a mind may add a tag.
- Public reads: `anon` may read a project that has a published content
  (a public course page: project, published contents and their tree), and
  the tag vocabulary.

Every statement is guarded, so running it again changes nothing.

Revision ID: 0004_hardening
Revises: 0003_merge_patch
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004_hardening"
down_revision: str | None = "0003_merge_patch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Undoing this revision loses no row (see app/db/migrations.py).
DATA_LOSS: str | None = None

MARKER = "creatoros:baseline"

REVISION_FUNCTION = [
    """CREATE OR REPLACE FUNCTION public.creatoros_schema_revision() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $fn$
        SELECT string_agg(version_num, ',' ORDER BY version_num) FROM public.alembic_version
    $fn$;""",
    "COMMENT ON FUNCTION public.creatoros_schema_revision() IS 'The Alembic revision, for the"
    " service''s readiness check: alembic_version itself is closed to the API roles.';",
    "REVOKE ALL ON FUNCTION public.creatoros_schema_revision()"
    " FROM PUBLIC, anon, authenticated, service_role;",
    "GRANT EXECUTE ON FUNCTION public.creatoros_schema_revision() TO authenticator;",
]

CLOSE_ALEMBIC_VERSION = [
    "ALTER TABLE public.alembic_version ENABLE ROW LEVEL SECURITY;",
    "REVOKE ALL ON public.alembic_version"
    " FROM PUBLIC, authenticator, anon, authenticated, service_role;",
]

OPEN_ALEMBIC_VERSION = [
    "DROP FUNCTION IF EXISTS public.creatoros_schema_revision();",
    "ALTER TABLE public.alembic_version DISABLE ROW LEVEL SECURITY;",
    "GRANT SELECT ON public.alembic_version TO authenticator;",
]

# (signature, search_path when the function is ours, when it is production's).
# None: never altered unless ours.
FUNCTIONS: list[tuple[str, str | None]] = [
    ("public.current_mind_id()", "public, pg_temp"),
    ("public.set_updated_at()", "public, pg_temp"),
    ("public.jsonb_merge_patch(jsonb, jsonb)", None),
    ("auth.uid()", None),
    ("auth.role()", None),
    ("auth.jwt()", None),
]


def _set_search_path(signature: str, production_path: str | None) -> str:
    """Only a function without a search_path is changed; ours get an empty
    one. jsonb_merge_patch is revision 0003's (it has no marker)."""
    ours = (
        f"obj_description(to_regprocedure('{signature}'), 'pg_proc') = '{MARKER}'"
        if "jsonb_merge_patch" not in signature
        else "true"
    )
    other = "NULL;"
    if production_path:
        other = f"ALTER FUNCTION {signature} SET search_path = {production_path};"
    return f"""
DO $$
BEGIN
    IF to_regprocedure('{signature}') IS NOT NULL AND NOT EXISTS (
        SELECT FROM pg_proc p, unnest(coalesce(p.proconfig, '{{}}')) AS config
        WHERE p.oid = to_regprocedure('{signature}') AND config LIKE 'search_path=%')
    THEN
        IF {ours} THEN
            ALTER FUNCTION {signature} SET search_path = '';
        ELSE
            {other}
        END IF;
    END IF;
END
$$;
"""


def _reset_search_path(signature: str) -> str:
    return f"""
DO $$
BEGIN
    IF to_regprocedure('{signature}') IS NOT NULL AND EXISTS (
        SELECT FROM pg_proc p, unnest(coalesce(p.proconfig, '{{}}')) AS config
        WHERE p.oid = to_regprocedure('{signature}')
          AND config IN ('search_path=""', 'search_path=public, pg_temp'))
       AND (to_regprocedure('{signature}')::text NOT LIKE 'auth.%'
            OR obj_description(to_regprocedure('{signature}'), 'pg_proc') = '{MARKER}')
    THEN
        ALTER FUNCTION {signature} RESET search_path;
    END IF;
END
$$;
"""


def _create_policy(table: str, name: str, body: str) -> str:
    return f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_policies
                   WHERE schemaname = 'public' AND tablename = '{table}'
                     AND policyname = '{name}') THEN
        CREATE POLICY {name} ON public.{table} {body};
    END IF;
END
$$;
"""


# The policies this revision replaces (revision 0002's), restored on downgrade.
OLD_POLICIES: list[tuple[str, str, str]] = [
    ("tags", "tags_insert_any",
     "FOR INSERT TO authenticated WITH CHECK (true)"),
    ("content_projects", "content_projects_creator_all",
     "FOR ALL TO authenticated"
     " USING (creator_mind_id = (select public.current_mind_id()))"
     " WITH CHECK (creator_mind_id = (select public.current_mind_id()))"),
    ("content_projects", "content_projects_persona_select",
     "FOR SELECT TO authenticated USING (persona_mind_id = (select public.current_mind_id()))"),
    ("contents", "contents_project_owner_all",
     "FOR ALL TO authenticated"
     " USING (project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id())))"
     " WITH CHECK (project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id())))"),
    ("contents", "contents_persona_select",
     "FOR SELECT TO authenticated"
     " USING (project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.persona_mind_id = (select public.current_mind_id())))"),
    ("contents", "contents_published_select",
     "FOR SELECT TO anon, authenticated USING (status = 'published' AND deleted_at IS NULL)"),
    ("content_minds", "content_minds_project_owner_all",
     "FOR ALL TO authenticated"
     " USING (content_id IN (SELECT c.id FROM public.contents c"
     " WHERE c.project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id()))))"
     " WITH CHECK (content_id IN (SELECT c.id FROM public.contents c"
     " WHERE c.project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id()))))"),
    ("content_tags", "content_tags_project_owner_all",
     "FOR ALL TO authenticated"
     " USING (content_id IN (SELECT c.id FROM public.contents c"
     " WHERE c.project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id()))))"
     " WITH CHECK (content_id IN (SELECT c.id FROM public.contents c"
     " WHERE c.project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id()))))"),
    ("market_research", "market_research_project_owner_all",
     "FOR ALL TO authenticated"
     " USING (project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id())))"
     " WITH CHECK (project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id())))"),
    ("market_research", "market_research_persona_select",
     "FOR SELECT TO authenticated"
     " USING (project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.persona_mind_id = (select public.current_mind_id())))"),
    ("content_frameworks", "content_frameworks_owner_write",
     "FOR ALL TO authenticated"
     " USING (owner_mind_id = (select public.current_mind_id()))"
     " WITH CHECK (owner_mind_id = (select public.current_mind_id()))"),
]  # fmt: skip

# One SELECT policy per table and role. content_minds/content_tags keep
# `*_select_visible` (any visible content), which already covers the owner's
# rows; content_frameworks keeps `select_global_or_own`, which covers its
# owner's.
#
# Each `FOR ALL` owner policy of 0002 becomes INSERT, UPDATE and DELETE
# policies with its own condition; tags_insert_with_mind: only a user with a
# mind (a creator) adds to the shared vocabulary. content_projects_public_select
# (a public course page: anon reads a project that has a published content) is
# anon's only: for authenticated it would read contents, whose policies read
# content_projects, a recursion PostgreSQL refuses.
NEW_POLICIES: list[tuple[str, str, str]] = [
    ("tags", "tags_insert_with_mind",
     "FOR INSERT TO authenticated WITH CHECK ((select public.current_mind_id()) IS NOT NULL)"),
    ("content_projects", "content_projects_select",
     "FOR SELECT TO authenticated"
     " USING (creator_mind_id = (select public.current_mind_id())"
     " OR persona_mind_id = (select public.current_mind_id()))"),
    ("content_projects", "content_projects_public_select",
     "FOR SELECT TO anon"
     " USING (EXISTS (SELECT FROM public.contents c"
     " WHERE c.project_id = content_projects.id AND c.status = 'published'"
     " AND c.deleted_at IS NULL))"),
    ("content_projects", "content_projects_creator_insert",
     "FOR INSERT TO authenticated"
     " WITH CHECK (creator_mind_id = (select public.current_mind_id()))"),
    ("content_projects", "content_projects_creator_update",
     "FOR UPDATE TO authenticated"
     " USING (creator_mind_id = (select public.current_mind_id()))"
     " WITH CHECK (creator_mind_id = (select public.current_mind_id()))"),
    ("content_projects", "content_projects_creator_delete",
     "FOR DELETE TO authenticated USING (creator_mind_id = (select public.current_mind_id()))"),
    ("contents", "contents_select",
     "FOR SELECT TO authenticated"
     " USING (project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id()))"
     " OR project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.persona_mind_id = (select public.current_mind_id()))"
     " OR (status = 'published' AND deleted_at IS NULL))"),
    ("contents", "contents_public_select",
     "FOR SELECT TO anon USING (status = 'published' AND deleted_at IS NULL)"),
    ("contents", "contents_project_owner_insert",
     "FOR INSERT TO authenticated"
     " WITH CHECK (project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id())))"),
    ("contents", "contents_project_owner_update",
     "FOR UPDATE TO authenticated"
     " USING (project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id())))"
     " WITH CHECK (project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id())))"),
    ("contents", "contents_project_owner_delete",
     "FOR DELETE TO authenticated"
     " USING (project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id())))"),
    ("content_minds", "content_minds_project_owner_insert",
     "FOR INSERT TO authenticated"
     " WITH CHECK (content_id IN (SELECT c.id FROM public.contents c"
     " WHERE c.project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id()))))"),
    ("content_minds", "content_minds_project_owner_update",
     "FOR UPDATE TO authenticated"
     " USING (content_id IN (SELECT c.id FROM public.contents c"
     " WHERE c.project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id()))))"
     " WITH CHECK (content_id IN (SELECT c.id FROM public.contents c"
     " WHERE c.project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id()))))"),
    ("content_minds", "content_minds_project_owner_delete",
     "FOR DELETE TO authenticated"
     " USING (content_id IN (SELECT c.id FROM public.contents c"
     " WHERE c.project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id()))))"),
    ("content_tags", "content_tags_project_owner_insert",
     "FOR INSERT TO authenticated"
     " WITH CHECK (content_id IN (SELECT c.id FROM public.contents c"
     " WHERE c.project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id()))))"),
    ("content_tags", "content_tags_project_owner_update",
     "FOR UPDATE TO authenticated"
     " USING (content_id IN (SELECT c.id FROM public.contents c"
     " WHERE c.project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id()))))"
     " WITH CHECK (content_id IN (SELECT c.id FROM public.contents c"
     " WHERE c.project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id()))))"),
    ("content_tags", "content_tags_project_owner_delete",
     "FOR DELETE TO authenticated"
     " USING (content_id IN (SELECT c.id FROM public.contents c"
     " WHERE c.project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id()))))"),
    ("market_research", "market_research_select",
     "FOR SELECT TO authenticated"
     " USING (project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id()))"
     " OR project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.persona_mind_id = (select public.current_mind_id())))"),
    ("market_research", "market_research_project_owner_insert",
     "FOR INSERT TO authenticated"
     " WITH CHECK (project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id())))"),
    ("market_research", "market_research_project_owner_update",
     "FOR UPDATE TO authenticated"
     " USING (project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id())))"
     " WITH CHECK (project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id())))"),
    ("market_research", "market_research_project_owner_delete",
     "FOR DELETE TO authenticated"
     " USING (project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id())))"),
    ("content_frameworks", "content_frameworks_owner_insert",
     "FOR INSERT TO authenticated"
     " WITH CHECK (owner_mind_id = (select public.current_mind_id()))"),
    ("content_frameworks", "content_frameworks_owner_update",
     "FOR UPDATE TO authenticated"
     " USING (owner_mind_id = (select public.current_mind_id()))"
     " WITH CHECK (owner_mind_id = (select public.current_mind_id()))"),
    ("content_frameworks", "content_frameworks_owner_delete",
     "FOR DELETE TO authenticated USING (owner_mind_id = (select public.current_mind_id()))"),
]  # fmt: skip


def _drop_policy(table: str, name: str) -> str:
    return f"DROP POLICY IF EXISTS {name} ON public.{table};"


def upgrade() -> None:
    for statement in (*REVISION_FUNCTION, *CLOSE_ALEMBIC_VERSION):
        op.execute(statement)
    for signature, production_path in FUNCTIONS:
        op.execute(_set_search_path(signature, production_path))
    for table, name, body in NEW_POLICIES:
        op.execute(_create_policy(table, name, body))
    for table, name, _ in OLD_POLICIES:
        op.execute(_drop_policy(table, name))
    op.execute("GRANT SELECT ON public.content_projects, public.tags TO anon;")
    op.execute("ALTER POLICY tags_select_all ON public.tags TO anon, authenticated;")


def downgrade() -> None:
    op.execute("ALTER POLICY tags_select_all ON public.tags TO authenticated;")
    op.execute("REVOKE SELECT ON public.content_projects, public.tags FROM anon;")
    for table, name, body in OLD_POLICIES:
        op.execute(_create_policy(table, name, body))
    for table, name, _ in NEW_POLICIES:
        op.execute(_drop_policy(table, name))
    for signature, _ in FUNCTIONS:
        op.execute(_reset_search_path(signature))
    for statement in OPEN_ALEMBIC_VERSION:
        op.execute(statement)
