"""The v0.7.0 production baseline (SCHEMA.md part 1).

Production already holds every object here, with data, and other programs
use it. So this revision only creates what is missing: each table (with its
indexes and trigger) only when the table does not exist, each function and
role only when absent. On production it is a no-op that just stamps the
version; on an empty database it builds the schema. Every guard is written in
SQL (DO blocks), so `creatoros db sql` prints a script a DBA can run as is.

Objects this revision creates on a plain PostgreSQL carry the comment
'creatoros:baseline', so the downgrade removes only what it created and never
Supabase's own `auth` schema or functions. Roles are cluster-wide and shared
by every database on the server: they are never dropped.

Revision ID: 0001_baseline_v070
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import context, op

revision: str = "0001_baseline_v070"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MARKER = "creatoros:baseline"

ROLES = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
        CREATE ROLE anon NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
        CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
    END IF;
END
$$;
"""

# Supabase's auth helpers read the verified claims the service sets per
# transaction; an empty setting (after a RESET) counts as no claims.
AUTH = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'auth') THEN
        CREATE SCHEMA auth;
        COMMENT ON SCHEMA auth IS '{MARKER}';
        GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
    END IF;
    IF to_regprocedure('auth.jwt()') IS NULL THEN
        CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $fn$
            SELECT coalesce(nullif(current_setting('request.jwt.claims', true), '')::jsonb,
                            '{{}}'::jsonb)
        $fn$;
        COMMENT ON FUNCTION auth.jwt() IS '{MARKER}';
    END IF;
    IF to_regprocedure('auth.uid()') IS NULL THEN
        CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $fn$
            SELECT nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub',
                          '')::uuid
        $fn$;
        COMMENT ON FUNCTION auth.uid() IS '{MARKER}';
    END IF;
    IF to_regprocedure('auth.role()') IS NULL THEN
        CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $fn$
            SELECT nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'
        $fn$;
        COMMENT ON FUNCTION auth.role() IS '{MARKER}';
    END IF;
END
$$;
"""

SET_UPDATED_AT = f"""
DO $$
BEGIN
    IF to_regprocedure('public.set_updated_at()') IS NULL THEN
        CREATE FUNCTION public.set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            NEW.updated_at := now();
            RETURN NEW;
        END
        $fn$;
        COMMENT ON FUNCTION public.set_updated_at() IS '{MARKER}';
    END IF;
END
$$;
"""

CURRENT_MIND_ID = f"""
DO $$
BEGIN
    IF to_regprocedure('public.current_mind_id()') IS NULL THEN
        CREATE FUNCTION public.current_mind_id() RETURNS uuid LANGUAGE sql STABLE AS $fn$
            SELECT mind_id FROM public.user_profiles WHERE id = auth.uid()
        $fn$;
        COMMENT ON FUNCTION public.current_mind_id() IS '{MARKER}';
    END IF;
END
$$;
"""


def _updated_at_trigger(table: str) -> str:
    return (
        f"CREATE TRIGGER trg_{table}_updated_at BEFORE UPDATE ON public.{table} "
        f"FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();"
    )


# (table, statements run only when the table is missing), in dependency order.
TABLES: list[tuple[str, list[str]]] = [
    (
        "minds",
        [
            """CREATE TABLE public.minds (
                id uuid NOT NULL DEFAULT gen_random_uuid(),
                slug text NOT NULL,
                display_name text NOT NULL,
                primary_language char(2),
                short_bio text,
                privacy_level text NOT NULL DEFAULT 'public',
                apex_score numeric(3,2),
                created_by text,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                CONSTRAINT pk_minds PRIMARY KEY (id),
                CONSTRAINT uq_minds_slug UNIQUE (slug),
                CONSTRAINT ck_minds_privacy_level
                    CHECK (privacy_level IN ('public', 'private'))
            );""",
        ],
    ),
    (
        "user_profiles",
        [
            """CREATE TABLE public.user_profiles (
                id uuid NOT NULL,
                mind_id uuid NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                CONSTRAINT pk_user_profiles PRIMARY KEY (id),
                CONSTRAINT uq_user_profiles_mind_id UNIQUE (mind_id),
                CONSTRAINT fk_user_profiles_mind_id FOREIGN KEY (mind_id)
                    REFERENCES public.minds (id) ON DELETE RESTRICT
            );""",
        ],
    ),
    (
        "tags",
        [
            """CREATE TABLE public.tags (
                id bigserial NOT NULL,
                name text NOT NULL,
                tag_type text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                CONSTRAINT pk_tags PRIMARY KEY (id),
                CONSTRAINT uq_tags_name UNIQUE (name)
            );""",
        ],
    ),
    (
        "job_executions",
        [
            # Production's table has more columns and a link to a queue table;
            # the service only references it, so this minimal stand-in is enough.
            """CREATE TABLE public.job_executions (
                id uuid NOT NULL DEFAULT gen_random_uuid(),
                llm_provider text,
                llm_model text,
                llm_version text,
                params jsonb,
                tokens_prompt integer,
                tokens_completion integer,
                cost_usd numeric(12,6),
                latency_ms integer,
                created_at timestamptz NOT NULL DEFAULT now(),
                CONSTRAINT pk_job_executions PRIMARY KEY (id)
            );""",
        ],
    ),
    (
        "content_frameworks",
        [
            """CREATE TABLE public.content_frameworks (
                id uuid NOT NULL DEFAULT gen_random_uuid(),
                slug text NOT NULL,
                name text NOT NULL,
                description text,
                framework_type text,
                framework_schema jsonb,
                is_active boolean DEFAULT true,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                CONSTRAINT pk_content_frameworks PRIMARY KEY (id),
                CONSTRAINT uq_content_frameworks_slug UNIQUE (slug),
                CONSTRAINT ck_content_frameworks_framework_type CHECK (framework_type IN
                    ('pedagogical', 'content_structure', 'storytelling', 'marketing', 'other'))
            );""",
            "CREATE INDEX idx_content_frameworks_active_slug ON public.content_frameworks (slug)"
            " WHERE is_active;",
            _updated_at_trigger("content_frameworks"),
        ],
    ),
    (
        "audience_profiles",
        [
            """CREATE TABLE public.audience_profiles (
                id uuid NOT NULL DEFAULT gen_random_uuid(),
                slug text NOT NULL,
                name text NOT NULL,
                description text,
                demographics jsonb,
                psychographics jsonb,
                technical_level text,
                learning_preferences jsonb,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                CONSTRAINT pk_audience_profiles PRIMARY KEY (id),
                CONSTRAINT uq_audience_profiles_slug UNIQUE (slug),
                CONSTRAINT ck_audience_profiles_technical_level CHECK (technical_level IN
                    ('beginner', 'intermediate', 'advanced', 'expert'))
            );""",
            _updated_at_trigger("audience_profiles"),
        ],
    ),
    (
        "content_projects",
        [
            """CREATE TABLE public.content_projects (
                id uuid NOT NULL DEFAULT gen_random_uuid(),
                slug text NOT NULL,
                name text NOT NULL,
                description text,
                project_type text,
                status text DEFAULT 'planning',
                target_audience_id uuid,
                default_frameworks jsonb,
                project_metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                CONSTRAINT pk_content_projects PRIMARY KEY (id),
                CONSTRAINT uq_content_projects_slug UNIQUE (slug),
                CONSTRAINT ck_content_projects_project_type CHECK (project_type IN
                    ('course', 'book', 'blog_series', 'video_series', 'newsletter',
                     'social_media_campaign', 'other')),
                CONSTRAINT ck_content_projects_status CHECK (status IN
                    ('planning', 'in_progress', 'completed', 'archived')),
                CONSTRAINT fk_content_projects_target_audience_id FOREIGN KEY (target_audience_id)
                    REFERENCES public.audience_profiles (id)
            );""",
            "CREATE INDEX idx_content_projects_slug ON public.content_projects (slug);",
            _updated_at_trigger("content_projects"),
        ],
    ),
    (
        "contents",
        [
            """CREATE TABLE public.contents (
                id uuid NOT NULL DEFAULT gen_random_uuid(),
                ai_generated boolean NOT NULL DEFAULT false,
                content_type text NOT NULL,
                parent_content_id uuid,
                sequence_order smallint,
                slug text NOT NULL,
                title text NOT NULL,
                content text,
                generation_execution_id uuid,
                project_id uuid,
                fidelity_score numeric(3,2),
                metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
                status text DEFAULT 'draft',
                published_at timestamptz,
                published_url text,
                file_path text,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                deleted_at timestamptz,
                CONSTRAINT pk_contents PRIMARY KEY (id),
                CONSTRAINT uq_contents_slug UNIQUE (slug),
                CONSTRAINT ck_contents_content_type CHECK (content_type IN (
                    'raw_source', 'interview', 'podcast_transcript', 'video_transcript',
                    'article', 'book_excerpt', 'essay', 'speech', 'social_media_post', 'email',
                    'conversation', 'academic_paper',
                    'course_outline', 'course_module', 'course_lesson', 'book_outline',
                    'book_part', 'book_chapter', 'blog_series', 'blog_post', 'video_script',
                    'video_chapter', 'social_post_linkedin', 'social_post_twitter',
                    'social_thread', 'newsletter_edition',
                    'other')),
                CONSTRAINT ck_contents_fidelity_score
                    CHECK (fidelity_score >= 0 AND fidelity_score <= 1),
                CONSTRAINT ck_contents_status
                    CHECK (status IN ('draft', 'reviewed', 'published', 'archived')),
                CONSTRAINT fk_contents_parent_content_id FOREIGN KEY (parent_content_id)
                    REFERENCES public.contents (id) ON DELETE CASCADE,
                CONSTRAINT fk_contents_generation_execution_id FOREIGN KEY (generation_execution_id)
                    REFERENCES public.job_executions (id),
                CONSTRAINT fk_contents_project_id FOREIGN KEY (project_id)
                    REFERENCES public.content_projects (id) ON DELETE SET NULL
            );""",
            "CREATE INDEX idx_contents_ai_generated ON public.contents (ai_generated)"
            " WHERE deleted_at IS NULL;",
            "CREATE INDEX idx_contents_parent_order ON public.contents"
            " (parent_content_id, sequence_order) WHERE deleted_at IS NULL;",
            "CREATE INDEX idx_contents_children ON public.contents"
            " (parent_content_id, sequence_order)"
            " WHERE deleted_at IS NULL AND parent_content_id IS NOT NULL;",
            "CREATE INDEX idx_contents_project_generated ON public.contents (project_id)"
            " WHERE ai_generated AND deleted_at IS NULL;",
            "CREATE INDEX idx_contents_status_published ON public.contents"
            " (status, published_at DESC) WHERE deleted_at IS NULL;",
            "CREATE INDEX idx_contents_processing_status ON public.contents"
            " ((metadata ->> 'processing_status'))"
            " WHERE NOT ai_generated AND deleted_at IS NULL;",
            "CREATE INDEX idx_contents_generation_execution ON public.contents"
            " (generation_execution_id) WHERE ai_generated;",
            "CREATE INDEX idx_contents_fts ON public.contents USING gin"
            " (to_tsvector('english', coalesce(title, '') || ' ' || coalesce(content, '')));",
            "CREATE INDEX idx_contents_metadata ON public.contents USING gin (metadata);",
            "CREATE INDEX idx_contents_slug ON public.contents (slug) WHERE deleted_at IS NULL;",
            _updated_at_trigger("contents"),
        ],
    ),
    (
        "content_minds",
        [
            """CREATE TABLE public.content_minds (
                content_id uuid NOT NULL,
                mind_id uuid NOT NULL,
                role text,
                CONSTRAINT pk_content_minds PRIMARY KEY (content_id, mind_id),
                CONSTRAINT ck_content_minds_role CHECK (role IN (
                    'creator', 'author', 'co_author', 'host', 'guest', 'interviewer',
                    'interviewee', 'participant', 'moderator', 'contributor', 'other')),
                CONSTRAINT fk_content_minds_content_id FOREIGN KEY (content_id)
                    REFERENCES public.contents (id) ON DELETE CASCADE,
                CONSTRAINT fk_content_minds_mind_id FOREIGN KEY (mind_id)
                    REFERENCES public.minds (id) ON DELETE CASCADE
            );""",
            "CREATE INDEX idx_content_minds_content_id ON public.content_minds (content_id);",
            "CREATE INDEX idx_content_minds_mind_id ON public.content_minds (mind_id);",
            "CREATE INDEX idx_content_minds_mind_role ON public.content_minds (mind_id, role);",
        ],
    ),
    (
        "content_tags",
        [
            """CREATE TABLE public.content_tags (
                content_id uuid NOT NULL,
                tag_id bigint NOT NULL,
                CONSTRAINT pk_content_tags PRIMARY KEY (content_id, tag_id),
                CONSTRAINT fk_content_tags_content_id FOREIGN KEY (content_id)
                    REFERENCES public.contents (id) ON DELETE CASCADE,
                CONSTRAINT fk_content_tags_tag_id FOREIGN KEY (tag_id)
                    REFERENCES public.tags (id) ON DELETE CASCADE
            );""",
            "CREATE INDEX idx_content_tags_content_id ON public.content_tags (content_id);",
            "CREATE INDEX idx_content_tags_tag_id ON public.content_tags (tag_id);",
        ],
    ),
]


def _create_if_missing(table: str, statements: list[str]) -> str:
    body = "\n        ".join(statements)
    return f"""
DO $$
BEGIN
    IF to_regclass('public.{table}') IS NULL THEN
        {body}
        COMMENT ON TABLE public.{table} IS '{MARKER}';
    END IF;
END
$$;
"""


def upgrade() -> None:
    op.execute(ROLES)
    op.execute(AUTH)
    op.execute(SET_UPDATED_AT)
    for table, statements in TABLES:
        op.execute(_create_if_missing(table, statements))
        if table == "user_profiles":
            # current_mind_id() reads user_profiles, which must exist first.
            op.execute(CURRENT_MIND_ID)


def _table_is_ours(table: str) -> str:
    return (
        f"to_regclass('public.{table}') IS NOT NULL"
        f" AND obj_description(to_regclass('public.{table}'), 'pg_class') = '{MARKER}'"
    )


# Undoing the baseline drops the tables it created: data is lost when any of
# them holds a row (production's own tables are never dropped).
DATA_LOSS: str | None = " OR ".join(
    f"({_table_is_ours(table)} AND EXISTS (SELECT FROM public.{table}))" for table, _ in TABLES
)


def _refuse_data_loss() -> str:
    checks = "\n    ".join(
        f"IF {_table_is_ours(table)} AND EXISTS (SELECT FROM public.{table})"
        f" THEN nonempty := nonempty || '{table}'::text; END IF;"
        for table, _ in TABLES
    )
    return f"""
DO $$
DECLARE
    nonempty text[] := '{{}}';
BEGIN
    {checks}
    IF cardinality(nonempty) > 0 THEN
        RAISE EXCEPTION 'refusing to drop the baseline: tables % hold rows', nonempty
            USING HINT = 'this would delete production data; to really do it, pass '
                         '-x allow_data_loss=true (creatoros db downgrade --allow-data-loss)';
    END IF;
END
$$;
"""


def _drop_if_ours(kind: str, name: str, catalog_check: str) -> str:
    return f"""
DO $$
BEGIN
    IF {catalog_check} THEN
        DROP {kind} {name};
    END IF;
END
$$;
"""


def _function_is_ours(signature: str) -> str:
    return (
        f"to_regprocedure('{signature}') IS NOT NULL"
        f" AND obj_description(to_regprocedure('{signature}'), 'pg_proc') = '{MARKER}'"
    )


def downgrade() -> None:
    allow = context.get_x_argument(as_dictionary=True).get("allow_data_loss", "")
    if allow.lower() not in ("1", "true", "yes"):
        op.execute(_refuse_data_loss())
    for table, _ in reversed(TABLES):
        # Only tables this revision created: production's own are left alone.
        op.execute(_drop_if_ours("TABLE", f"public.{table} CASCADE", _table_is_ours(table)))
    for signature in (
        "public.current_mind_id()",
        "public.set_updated_at()",
        "auth.uid()",
        "auth.role()",
        "auth.jwt()",
    ):
        op.execute(_drop_if_ours("FUNCTION", signature, _function_is_ours(signature)))
    op.execute(
        _drop_if_ours(
            "SCHEMA",
            "auth",
            "EXISTS (SELECT FROM pg_namespace WHERE nspname = 'auth'"
            f" AND obj_description(oid, 'pg_namespace') = '{MARKER}')",
        )
    )
