"""The read policies of content_tags, content_minds and job_executions probe by key.

`content_tags_select_visible` and `content_minds_select_visible` were
`content_id IN (SELECT c.id FROM public.contents c)`: an uncorrelated
subquery, which PostgreSQL runs as a hashed SubPlan, so reading the two tags
of one content first hashed every content the caller can see (a Seq Scan of
the whole `contents` heap, every tenant's pages, filtered by the contents'
own read policy): ~5.6 ms for a creator on a database of 100 courses, and
more with everything anyone publishes. `job_executions_select_via_contents`
had the same shape (`id IN (SELECT c.generation_execution_id ...)`): one
job read by id (the generation-run check of a content write) hashed the
`generation_execution_id` of every visible content.

Now each asks a function of the row's key, as revision 0014's write
policies do: `creatoros_internal.reads_content(content_id)` (a probe of the
content by its primary key) and `creatoros_internal.reads_job_execution(id)`
(a probe of the contents that job generated, by a new index on
`contents.generation_execution_id`: the baseline's index of that column is
partial, `WHERE ai_generated`, and a job is visible through any content).
Both are SECURITY INVOKER: they read `contents` under the caller's own
policies, exactly as the subqueries did, so who sees what does not change
(anon: what hangs off published live contents; a creator: also its own
contents, deleted ones included; a persona: its consenting creators'). Not
inlined (a fixed search_path, as the linter asks): they run once per row
read, and a content's tags or minds are a handful of rows.

Downgrade: the policies as revisions 0002 and 0004 left them (written out
here), then the index and the functions.

Revision ID: 0015_read_policies
Revises: 0014_shared_policies
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015_read_policies"
down_revision: str | None = "0014_shared_policies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Undoing this revision drops two functions and an index, and no data (see
# app/db/migrations.py).
DATA_LOSS: str | None = None

# Every statement below is written out whole, as it runs: a revision never
# changes once released, and never reads another one's text (the current
# definitions live in app/db/sql/).

FUNCTIONS = [
    """
CREATE OR REPLACE FUNCTION creatoros_internal.reads_content(target uuid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = ''
AS $fn$
    SELECT EXISTS (SELECT FROM public.contents c WHERE c.id = target)
$fn$
""",
    "REVOKE ALL ON FUNCTION creatoros_internal.reads_content(uuid) FROM PUBLIC",
    "GRANT EXECUTE ON FUNCTION creatoros_internal.reads_content(uuid)"
    " TO anon, authenticated, service_role",
    "COMMENT ON FUNCTION creatoros_internal.reads_content(uuid) IS"
    " 'creatoros: whether the caller reads what hangs off a content (its minds, its tags):"
    " it reads the content; as the caller'",
    """
CREATE OR REPLACE FUNCTION creatoros_internal.reads_job_execution(target uuid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = ''
AS $fn$
    SELECT EXISTS (SELECT FROM public.contents c WHERE c.generation_execution_id = target)
$fn$
""",
    "REVOKE ALL ON FUNCTION creatoros_internal.reads_job_execution(uuid) FROM PUBLIC",
    "GRANT EXECUTE ON FUNCTION creatoros_internal.reads_job_execution(uuid)"
    " TO authenticated, service_role",
    "COMMENT ON FUNCTION creatoros_internal.reads_job_execution(uuid) IS"
    " 'creatoros: whether the caller reads a generation job:"
    " it reads a content the job generated; as the caller'",
]  # fmt: skip

# The probe of reads_job_execution: built CONCURRENTLY (outside a
# transaction), so a big `contents` table stays writable meanwhile.
INDEX_NAME = "idx_contents_generation_execution_id"
CREATE_INDEX = (
    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX_NAME}"
    " ON public.contents (generation_execution_id) WHERE generation_execution_id IS NOT NULL"
)
# A CONCURRENTLY build that failed leaves an INVALID index that IF NOT
# EXISTS would then skip: drop it, so that a re-run builds it again.
DROP_INVALID_INDEX = f"""
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relname = '{INDEX_NAME}' AND NOT i.indisvalid) THEN
        DROP INDEX public.{INDEX_NAME};
    END IF;
END
$$;
"""

# (table, policy, its whole new text). Each replaces the policy of that name.
POLICIES: list[tuple[str, str, str]] = [
    ("content_minds", "content_minds_select_visible", """CREATE POLICY content_minds_select_visible ON public.content_minds
    FOR SELECT TO anon, authenticated
    USING (creatoros_internal.reads_content(content_id))"""),  # noqa: E501
    ("content_tags", "content_tags_select_visible", """CREATE POLICY content_tags_select_visible ON public.content_tags
    FOR SELECT TO anon, authenticated
    USING (creatoros_internal.reads_content(content_id))"""),  # noqa: E501
    ("job_executions", "job_executions_select_via_contents", """CREATE POLICY job_executions_select_via_contents ON public.job_executions
    FOR SELECT TO authenticated
    USING (creatoros_internal.reads_job_execution(id))"""),  # noqa: E501
]  # fmt: skip

# The same policies as revision 0014 left them, restored on downgrade.
OLD_POLICIES: list[tuple[str, str, str]] = [
    ("content_minds", "content_minds_select_visible", """CREATE POLICY content_minds_select_visible ON public.content_minds
    FOR SELECT TO anon, authenticated
    USING (content_id IN (SELECT c.id FROM public.contents c))"""),  # noqa: E501
    ("content_tags", "content_tags_select_visible", """CREATE POLICY content_tags_select_visible ON public.content_tags
    FOR SELECT TO anon, authenticated
    USING (content_id IN (SELECT c.id FROM public.contents c))"""),  # noqa: E501
    ("job_executions", "job_executions_select_via_contents", """CREATE POLICY job_executions_select_via_contents ON public.job_executions
    FOR SELECT TO authenticated
    USING (id IN (SELECT c.generation_execution_id FROM public.contents c
                  WHERE c.generation_execution_id IS NOT NULL))"""),  # noqa: E501
]  # fmt: skip


def _replace_policies(policies: list[tuple[str, str, str]]) -> None:
    for table, name, create in policies:
        op.execute(f"DROP POLICY IF EXISTS {name} ON public.{table}")
        op.execute(create)


def upgrade() -> None:
    for statement in FUNCTIONS:
        op.execute(statement)
    with op.get_context().autocommit_block():
        op.execute(DROP_INVALID_INDEX)
        op.execute(CREATE_INDEX)
    _replace_policies(POLICIES)


def downgrade() -> None:
    _replace_policies(OLD_POLICIES)
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS public.{INDEX_NAME}")
    op.execute("DROP FUNCTION IF EXISTS creatoros_internal.reads_job_execution(uuid)")
    op.execute("DROP FUNCTION IF EXISTS creatoros_internal.reads_content(uuid)")
