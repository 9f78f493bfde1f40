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

ME = "(select public.current_mind_id())"
MARKER = "creatoros:baseline"
MY_PROJECTS = f"SELECT p.id FROM public.content_projects p WHERE p.creator_mind_id = {ME}"
PERSONA_PROJECTS = f"SELECT p.id FROM public.content_projects p WHERE p.persona_mind_id = {ME}"
MY_CONTENTS = f"SELECT c.id FROM public.contents c WHERE c.project_id IN ({MY_PROJECTS})"
PUBLISHED = "status = 'published' AND deleted_at IS NULL"

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


def _owner_writes(table: str, prefix: str, owned: str) -> list[tuple[str, str, str]]:
    """A `FOR ALL … USING (owned) WITH CHECK (owned)` policy, minus SELECT."""
    return [
        (table, f"{prefix}_insert", f"FOR INSERT TO authenticated WITH CHECK ({owned})"),
        (table, f"{prefix}_update",
         f"FOR UPDATE TO authenticated USING ({owned}) WITH CHECK ({owned})"),
        (table, f"{prefix}_delete", f"FOR DELETE TO authenticated USING ({owned})"),
    ]  # fmt: skip


OWN_PROJECT = f"creator_mind_id = {ME}"
IN_MY_PROJECTS = f"project_id IN ({MY_PROJECTS})"
IN_MY_CONTENTS = f"content_id IN ({MY_CONTENTS})"
OWN = f"owner_mind_id = {ME}"

# The policies this revision replaces (revision 0002's), restored on downgrade.
OLD_POLICIES: list[tuple[str, str, str]] = [
    ("tags", "tags_insert_any", "FOR INSERT TO authenticated WITH CHECK (true)"),
    ("content_projects", "content_projects_creator_all",
     f"FOR ALL TO authenticated USING ({OWN_PROJECT}) WITH CHECK ({OWN_PROJECT})"),
    ("content_projects", "content_projects_persona_select",
     f"FOR SELECT TO authenticated USING (persona_mind_id = {ME})"),
    ("contents", "contents_project_owner_all",
     f"FOR ALL TO authenticated USING ({IN_MY_PROJECTS}) WITH CHECK ({IN_MY_PROJECTS})"),
    ("contents", "contents_persona_select",
     f"FOR SELECT TO authenticated USING (project_id IN ({PERSONA_PROJECTS}))"),
    ("contents", "contents_published_select",
     f"FOR SELECT TO anon, authenticated USING ({PUBLISHED})"),
    ("content_minds", "content_minds_project_owner_all",
     f"FOR ALL TO authenticated USING ({IN_MY_CONTENTS}) WITH CHECK ({IN_MY_CONTENTS})"),
    ("content_tags", "content_tags_project_owner_all",
     f"FOR ALL TO authenticated USING ({IN_MY_CONTENTS}) WITH CHECK ({IN_MY_CONTENTS})"),
    ("market_research", "market_research_project_owner_all",
     f"FOR ALL TO authenticated USING ({IN_MY_PROJECTS}) WITH CHECK ({IN_MY_PROJECTS})"),
    ("market_research", "market_research_persona_select",
     f"FOR SELECT TO authenticated USING (project_id IN ({PERSONA_PROJECTS}))"),
    ("content_frameworks", "content_frameworks_owner_write",
     f"FOR ALL TO authenticated USING ({OWN}) WITH CHECK ({OWN})"),
]  # fmt: skip

# One SELECT policy per table and role. content_minds/content_tags keep
# `*_select_visible` (any visible content), which already covers the owner's
# rows; content_frameworks keeps `select_global_or_own`, which covers its
# owner's.
NEW_POLICIES: list[tuple[str, str, str]] = [
    # Tags are a shared vocabulary; only a user with a mind (a creator) adds to it.
    ("tags", "tags_insert_with_mind",
     f"FOR INSERT TO authenticated WITH CHECK ({ME} IS NOT NULL)"),
    ("content_projects", "content_projects_select",
     f"FOR SELECT TO authenticated USING ({OWN_PROJECT} OR persona_mind_id = {ME})"),
    # A public course page: anon reads a project that has a published
    # content. (anon only: for authenticated this policy would read contents,
    # whose policies read content_projects, a recursion PostgreSQL refuses.)
    ("content_projects", "content_projects_public_select",
     "FOR SELECT TO anon USING (EXISTS (SELECT FROM public.contents c"
     " WHERE c.project_id = content_projects.id AND c.status = 'published'"
     " AND c.deleted_at IS NULL))"),
    *_owner_writes("content_projects", "content_projects_creator", OWN_PROJECT),
    ("contents", "contents_select",
     f"FOR SELECT TO authenticated USING ({IN_MY_PROJECTS}"
     f" OR project_id IN ({PERSONA_PROJECTS}) OR ({PUBLISHED}))"),
    ("contents", "contents_public_select", f"FOR SELECT TO anon USING ({PUBLISHED})"),
    *_owner_writes("contents", "contents_project_owner", IN_MY_PROJECTS),
    *_owner_writes("content_minds", "content_minds_project_owner", IN_MY_CONTENTS),
    *_owner_writes("content_tags", "content_tags_project_owner", IN_MY_CONTENTS),
    ("market_research", "market_research_select",
     f"FOR SELECT TO authenticated USING ({IN_MY_PROJECTS}"
     f" OR project_id IN ({PERSONA_PROJECTS}))"),
    *_owner_writes("market_research", "market_research_project_owner", IN_MY_PROJECTS),
    *_owner_writes("content_frameworks", "content_frameworks_owner", OWN),
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
