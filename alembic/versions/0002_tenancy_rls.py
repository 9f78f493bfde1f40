"""Tenancy: mind attribution, owners, row level security, per-tenant slugs.

SCHEMA.md part 2, points 1 to 8. Safe on production: every statement checks
the catalog (or says IF NOT EXISTS) and changes only what is missing; index
builds run CONCURRENTLY outside a transaction so a big `contents` table stays
writable; the new per-tenant unique constraint is in place before the global
one is dropped, so slugs are never unguarded.

Revision ID: 0002_tenancy_rls
Revises: 0001_baseline_v070
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from alembic import op

revision: str = "0002_tenancy_rls"
down_revision: str | None = "0001_baseline_v070"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables the API exposes, each with RLS on after this revision.
RLS_TABLES = (
    "minds",
    "user_profiles",
    "tags",
    "job_executions",
    "content_frameworks",
    "audience_profiles",
    "content_projects",
    "contents",
    "content_minds",
    "content_tags",
    "market_research",
)
# RLS that may predate this revision in production: never switched off again.
RLS_KEPT_ON_DOWNGRADE = ("minds", "user_profiles")

# Undoing this revision drops market research and the columns that say who
# owns a row: data (and, with it, every row's tenancy) is lost as soon as any
# of them holds a value. See app/db/migrations.py.
DATA_LOSS: str | None = " OR ".join(
    f"EXISTS (SELECT FROM public.{table}{where})"
    for table, where in (
        ("market_research", ""),
        ("content_projects", " WHERE creator_mind_id IS NOT NULL OR persona_mind_id IS NOT NULL"),
        ("audience_profiles", " WHERE owner_mind_id IS NOT NULL"),
        ("content_frameworks", " WHERE owner_mind_id IS NOT NULL"),
        ("contents", " WHERE keywords IS NOT NULL OR framework_id IS NOT NULL"),
    )
)

LOGIN_ROLE = """
DO $$
BEGIN
    -- The service's login role: it may only connect and switch to one of the
    -- three API roles (PostgREST's `authenticator`). Supabase has it already.
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticator') THEN
        CREATE ROLE authenticator LOGIN NOINHERIT NOCREATEDB NOCREATEROLE NOSUPERUSER;
    END IF;
    IF NOT pg_has_role('authenticator', 'anon', 'MEMBER') THEN
        GRANT anon TO authenticator;
    END IF;
    IF NOT pg_has_role('authenticator', 'authenticated', 'MEMBER') THEN
        GRANT authenticated TO authenticator;
    END IF;
    IF NOT pg_has_role('authenticator', 'service_role', 'MEMBER') THEN
        GRANT service_role TO authenticator;
    END IF;
    -- /readyz compares the schema's revision with the code's, as this role.
    IF to_regclass('public.alembic_version') IS NOT NULL THEN
        GRANT SELECT ON public.alembic_version TO authenticator;
    END IF;
END
$$;
"""


def _add_column(table: str, column: str, definition: str) -> str:
    return f"ALTER TABLE public.{table} ADD COLUMN IF NOT EXISTS {column} {definition};"


def _add_constraint(table: str, name: str, definition: str) -> str:
    return f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint
                   WHERE conname = '{name}' AND conrelid = 'public.{table}'::regclass) THEN
        ALTER TABLE public.{table} ADD CONSTRAINT {name} {definition};
    END IF;
END
$$;
"""


COLUMNS = [
    # 1. Mind attribution. Added without a default first, so existing rows
    # keep NULL (visible to service_role only until backfilled).
    _add_column("content_projects", "creator_mind_id", "uuid"),
    _add_column("content_projects", "persona_mind_id", "uuid"),
    "ALTER TABLE public.content_projects ALTER COLUMN creator_mind_id"
    " SET DEFAULT public.current_mind_id();",
    _add_constraint(
        "content_projects",
        "fk_content_projects_creator_mind_id",
        "FOREIGN KEY (creator_mind_id) REFERENCES public.minds (id) ON DELETE SET NULL",
    ),
    _add_constraint(
        "content_projects",
        "fk_content_projects_persona_mind_id",
        "FOREIGN KEY (persona_mind_id) REFERENCES public.minds (id) ON DELETE SET NULL",
    ),
    # 2. Owners. A framework whose owner is NULL is a global one, so deleting
    # a mind must not turn its frameworks global: RESTRICT, not SET NULL.
    _add_column("audience_profiles", "owner_mind_id", "uuid"),
    "ALTER TABLE public.audience_profiles ALTER COLUMN owner_mind_id"
    " SET DEFAULT public.current_mind_id();",
    _add_constraint(
        "audience_profiles",
        "fk_audience_profiles_owner_mind_id",
        "FOREIGN KEY (owner_mind_id) REFERENCES public.minds (id) ON DELETE SET NULL",
    ),
    _add_column("content_frameworks", "owner_mind_id", "uuid"),
    "ALTER TABLE public.content_frameworks ALTER COLUMN owner_mind_id"
    " SET DEFAULT public.current_mind_id();",
    _add_constraint(
        "content_frameworks",
        "fk_content_frameworks_owner_mind_id",
        "FOREIGN KEY (owner_mind_id) REFERENCES public.minds (id) ON DELETE RESTRICT",
    ),
    # 6. Timestamps on junctions (now() is stable: no table rewrite).
    _add_column("content_minds", "created_at", "timestamptz NOT NULL DEFAULT now()"),
    _add_column("content_tags", "created_at", "timestamptz NOT NULL DEFAULT now()"),
    # 7. CreatorOS columns on contents.
    _add_column("contents", "keywords", "text[]"),
    _add_column("contents", "framework_id", "uuid"),
    _add_constraint(
        "contents",
        "fk_contents_framework_id",
        "FOREIGN KEY (framework_id) REFERENCES public.content_frameworks (id) ON DELETE SET NULL",
    ),
]

MARKET_RESEARCH = """
DO $$
BEGIN
    IF to_regclass('public.market_research') IS NULL THEN
        CREATE TABLE public.market_research (
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            project_id uuid NOT NULL,
            research_type text NOT NULL,
            title text,
            report_data jsonb NOT NULL,
            body text,
            competitors_count integer,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_market_research PRIMARY KEY (id),
            CONSTRAINT fk_market_research_project_id FOREIGN KEY (project_id)
                REFERENCES public.content_projects (id) ON DELETE CASCADE,
            CONSTRAINT ck_market_research_research_type CHECK (research_type IN (
                'competitive_analysis', 'keyword_research', 'market_analysis',
                'content_gaps', 'differentiation', 'sources', 'other')),
            CONSTRAINT ck_market_research_competitors_count CHECK (competitors_count >= 0)
        );
        CREATE TRIGGER trg_market_research_updated_at BEFORE UPDATE ON public.market_research
            FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
    END IF;
END
$$;
"""

# 5. Indexes on foreign keys, and the per-tenant unique indexes (4), all
# built CONCURRENTLY. A leading column of a unique index serves as the index
# of that foreign key (creator_mind_id, owner_mind_id, contents.project_id).
INDEXES = [
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_content_projects_target_audience_id"
    " ON public.content_projects (target_audience_id)",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_content_projects_persona_mind_id"
    " ON public.content_projects (persona_mind_id)",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_contents_framework_id"
    " ON public.contents (framework_id)",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_market_research_project_id"
    " ON public.market_research (project_id)",
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS uq_content_projects_creator_slug"
    " ON public.content_projects (creator_mind_id, slug)",
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS uq_contents_project_slug"
    " ON public.contents (project_id, slug)",
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS uq_audience_profiles_owner_slug"
    " ON public.audience_profiles (owner_mind_id, slug)",
    # NULL owner = global: two global frameworks may not share a slug.
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS uq_content_frameworks_owner_slug"
    " ON public.content_frameworks (owner_mind_id, slug) NULLS NOT DISTINCT",
]
INDEX_NAMES = [statement.split(" IF NOT EXISTS ")[1].split()[0] for statement in INDEXES]

# 4. Per-tenant uniqueness: (table, new constraint, index it adopts).
SCOPED_SLUGS = [
    ("content_projects", "uq_content_projects_creator_slug"),
    ("contents", "uq_contents_project_slug"),
    ("audience_profiles", "uq_audience_profiles_owner_slug"),
    ("content_frameworks", "uq_content_frameworks_owner_slug"),
]


def _drop_invalid_index(name: str) -> str:
    """A CONCURRENTLY build that failed leaves an INVALID index that
    IF NOT EXISTS would then skip: drop it, so a re-run builds it again."""
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


def _scope_slug(table: str, constraint: str) -> str:
    """Adopt the per-tenant unique index as a constraint, then drop any unique
    constraint on `slug` alone, whatever production named it."""
    return f"""
DO $$
DECLARE
    global_slug record;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint
                   WHERE conname = '{constraint}' AND conrelid = 'public.{table}'::regclass) THEN
        ALTER TABLE public.{table} ADD CONSTRAINT {constraint} UNIQUE USING INDEX {constraint};
    END IF;
    FOR global_slug IN
        SELECT k.conname FROM pg_constraint k
        WHERE k.conrelid = 'public.{table}'::regclass AND k.contype = 'u'
          AND k.conkey = ARRAY[(SELECT attnum FROM pg_attribute
                                WHERE attrelid = 'public.{table}'::regclass
                                  AND attname = 'slug')]::int2[]
    LOOP
        EXECUTE format('ALTER TABLE public.{table} DROP CONSTRAINT %I', global_slug.conname);
    END LOOP;
END
$$;
"""


def _policy(table: str, name: str, body: str) -> str:
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


# 3. Policies. service_role bypasses RLS (BYPASSRLS); anon reads published
# contents at most. `(select current_mind_id())` runs once per statement.
POLICIES: list[tuple[str, str, str]] = [
    ("minds", "minds_select_visible",
     "FOR SELECT TO authenticated"
     " USING (privacy_level = 'public' OR id = (select public.current_mind_id()))"),
    ("minds", "minds_update_own",
     "FOR UPDATE TO authenticated"
     " USING (id = (select public.current_mind_id()))"
     " WITH CHECK (id = (select public.current_mind_id()))"),
    ("user_profiles", "user_profiles_select_own",
     "FOR SELECT TO authenticated USING (id = (select auth.uid()))"),
    ("tags", "tags_select_all",
     "FOR SELECT TO authenticated USING (true)"),
    ("tags", "tags_insert_any",
     "FOR INSERT TO authenticated WITH CHECK (true)"),
    ("job_executions", "job_executions_select_via_contents",
     "FOR SELECT TO authenticated"
     " USING (id IN (SELECT c.generation_execution_id FROM public.contents c"
     " WHERE c.generation_execution_id IS NOT NULL))"),
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
    ("content_minds", "content_minds_select_visible",
     "FOR SELECT TO anon, authenticated"
     " USING (content_id IN (SELECT c.id FROM public.contents c))"),
    ("content_minds", "content_minds_project_owner_all",
     "FOR ALL TO authenticated"
     " USING (content_id IN (SELECT c.id FROM public.contents c"
     " WHERE c.project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id()))))"
     " WITH CHECK (content_id IN (SELECT c.id FROM public.contents c"
     " WHERE c.project_id IN (SELECT p.id FROM public.content_projects p"
     " WHERE p.creator_mind_id = (select public.current_mind_id()))))"),
    ("content_tags", "content_tags_select_visible",
     "FOR SELECT TO anon, authenticated"
     " USING (content_id IN (SELECT c.id FROM public.contents c))"),
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
    ("audience_profiles", "audience_profiles_owner_all",
     "FOR ALL TO authenticated"
     " USING (owner_mind_id = (select public.current_mind_id()))"
     " WITH CHECK (owner_mind_id = (select public.current_mind_id()))"),
    ("content_frameworks", "content_frameworks_select_global_or_own",
     "FOR SELECT TO authenticated"
     " USING (owner_mind_id IS NULL OR owner_mind_id = (select public.current_mind_id()))"),
    ("content_frameworks", "content_frameworks_owner_write",
     "FOR ALL TO authenticated"
     " USING (owner_mind_id = (select public.current_mind_id()))"
     " WITH CHECK (owner_mind_id = (select public.current_mind_id()))"),
]  # fmt: skip

CREATOROS_WRITABLE = (
    "content_frameworks",
    "audience_profiles",
    "content_projects",
    "contents",
    "content_minds",
    "content_tags",
    "market_research",
)


def _tables(names: Iterable[str]) -> str:
    return ", ".join(f"public.{name}" for name in names)


GRANTS = [
    "GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;",
    "GRANT SELECT ON public.contents, public.content_minds, public.content_tags TO anon;",
    "GRANT SELECT ON public.minds, public.user_profiles, public.tags, public.job_executions"
    " TO authenticated;",
    "GRANT UPDATE (display_name, primary_language, short_bio, privacy_level)"
    " ON public.minds TO authenticated;",
    "GRANT INSERT ON public.tags TO authenticated;",
    "GRANT USAGE ON SEQUENCE public.tags_id_seq TO authenticated, service_role;",
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON {_tables(CREATOROS_WRITABLE)} TO authenticated;",
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON {_tables(RLS_TABLES)} TO service_role;",
]

REVOKES = [
    "REVOKE SELECT ON public.alembic_version FROM authenticator;",
    "REVOKE SELECT ON public.contents, public.content_minds, public.content_tags FROM anon;",
    "REVOKE SELECT ON public.minds, public.user_profiles, public.tags, public.job_executions"
    " FROM authenticated;",
    "REVOKE UPDATE (display_name, primary_language, short_bio, privacy_level)"
    " ON public.minds FROM authenticated;",
    "REVOKE INSERT ON public.tags FROM authenticated;",
    "REVOKE USAGE ON SEQUENCE public.tags_id_seq FROM authenticated, service_role;",
    # market_research goes with its table.
    "REVOKE SELECT, INSERT, UPDATE, DELETE ON"
    f" {_tables(t for t in CREATOROS_WRITABLE if t != 'market_research')} FROM authenticated;",
    "REVOKE SELECT, INSERT, UPDATE, DELETE ON"
    f" {_tables(t for t in RLS_TABLES if t != 'market_research')} FROM service_role;",
]


def upgrade() -> None:
    op.execute(LOGIN_ROLE)
    for statement in COLUMNS:
        op.execute(statement)
    op.execute(MARKET_RESEARCH)
    with op.get_context().autocommit_block():
        for statement, name in zip(INDEXES, INDEX_NAMES, strict=True):
            op.execute(_drop_invalid_index(name))
            op.execute(statement)
    for table, constraint in SCOPED_SLUGS:
        op.execute(_scope_slug(table, constraint))
    for table in RLS_TABLES:
        op.execute(f"ALTER TABLE public.{table} ENABLE ROW LEVEL SECURITY;")
    for table, name, body in POLICIES:
        op.execute(_policy(table, name, body))
    for statement in GRANTS:
        op.execute(statement)


def downgrade() -> None:
    for statement in REVOKES:
        op.execute(statement)
    for table, name, _ in POLICIES:
        op.execute(f"DROP POLICY IF EXISTS {name} ON public.{table};")
    for table in RLS_TABLES:
        if table not in RLS_KEPT_ON_DOWNGRADE and table != "market_research":
            op.execute(f"ALTER TABLE public.{table} DISABLE ROW LEVEL SECURITY;")
    # Back to global slugs. This fails (and changes nothing) if two tenants
    # now share a slug: that data must be renamed first.
    for table, constraint in SCOPED_SLUGS:
        op.execute(_add_constraint(table, f"uq_{table}_slug", "UNIQUE (slug)"))
        op.execute(f"ALTER TABLE public.{table} DROP CONSTRAINT IF EXISTS {constraint};")
    op.execute("DROP TABLE IF EXISTS public.market_research;")
    for index in INDEX_NAMES:
        op.execute(f"DROP INDEX IF EXISTS public.{index};")
    op.execute("ALTER TABLE public.contents DROP COLUMN IF EXISTS framework_id;")
    op.execute("ALTER TABLE public.contents DROP COLUMN IF EXISTS keywords;")
    op.execute("ALTER TABLE public.content_tags DROP COLUMN IF EXISTS created_at;")
    op.execute("ALTER TABLE public.content_minds DROP COLUMN IF EXISTS created_at;")
    op.execute("ALTER TABLE public.content_frameworks DROP COLUMN IF EXISTS owner_mind_id;")
    op.execute("ALTER TABLE public.audience_profiles DROP COLUMN IF EXISTS owner_mind_id;")
    op.execute("ALTER TABLE public.content_projects DROP COLUMN IF EXISTS persona_mind_id;")
    op.execute("ALTER TABLE public.content_projects DROP COLUMN IF EXISTS creator_mind_id;")
