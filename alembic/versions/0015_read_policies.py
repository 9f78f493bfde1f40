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

Now each is a correlated EXISTS on the row's key: `EXISTS (SELECT FROM
public.contents c WHERE c.id = content_tags.content_id)` (the same for
content_minds), and for a job `... WHERE c.generation_execution_id =
job_executions.id`, through a new index on `contents.generation_execution_id`
(the baseline's index of that column is partial, `WHERE ai_generated`, and a
job is visible through any content). The subquery reads `contents` under
the caller's own policies, exactly as the old one did, so who sees what
does not change (anon: what hangs off published live contents; a creator:
also its own contents, deleted ones included; a persona: its consenting
creators'). PostgreSQL plans it as a SubPlan with two alternatives and
picks by the rows it expects: a read of one content's tags probes that
content by its key (6.6 ms -> 0.16 ms for a creator among 100 courses,
`python -m bench.link_reads`), a list filtered by a tag over thousands of
tagged contents may still hash them once (at the bench's scale it does,
reading the same buffers as before in another join order: the first page
of a creator's `?tag=` over 2,660 tagged contents takes ~15 ms under 0014,
~18 ms here; it hashes every content the caller sees either way).

Why not a function of the key, as revision 0014 did for the write
policies: a function with a fixed search_path (as the linter asks) is
never inlined, so it is called, and its query planned, once per row read;
tried, it made the first page of `GET /v1/contents?tag=` over 665 tagged
contents 12x slower (3.5 ms -> 41.6 ms), where a write touches a handful
of rows.

Downgrade: the policies as revisions 0002 and 0004 left them (written out
here), then the index.

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

# Undoing this revision drops an index and no data (see app/db/migrations.py).
DATA_LOSS: str | None = None

# Every statement below is written out whole, as it runs: a revision never
# changes once released, and never reads another one's text (the current
# definitions live in app/db/sql/).

# The probe of job_executions' read policy: built CONCURRENTLY (outside a
# transaction), so that a big `contents` table stays writable meanwhile.
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
    USING (EXISTS (SELECT FROM public.contents c WHERE c.id = content_minds.content_id))"""),  # noqa: E501
    ("content_tags", "content_tags_select_visible", """CREATE POLICY content_tags_select_visible ON public.content_tags
    FOR SELECT TO anon, authenticated
    USING (EXISTS (SELECT FROM public.contents c WHERE c.id = content_tags.content_id))"""),  # noqa: E501
    ("job_executions", "job_executions_select_via_contents", """CREATE POLICY job_executions_select_via_contents ON public.job_executions
    FOR SELECT TO authenticated
    USING (EXISTS (SELECT FROM public.contents c
                   WHERE c.generation_execution_id = job_executions.id))"""),  # noqa: E501
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
    with op.get_context().autocommit_block():
        op.execute(DROP_INVALID_INDEX)
        op.execute(CREATE_INDEX)
    _replace_policies(POLICIES)


def downgrade() -> None:
    _replace_policies(OLD_POLICIES)
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS public.{INDEX_NAME}")
