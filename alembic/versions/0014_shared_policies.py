"""The link tables' write policies ask one function: `writes_content(content_id)`.

`content_minds` and `content_tags` each had three write policies (INSERT,
UPDATE, DELETE) holding the same subquery, four times per table: the
content is one of a project the caller created. The rule now lives once,
in `creatoros_internal.writes_content(target)`, and the six policies ask
it; what they allow is unchanged (same tables read, under the caller's own
row level security: SECURITY INVOKER).

It is also cheaper: the subquery was uncorrelated, so every write hashed
all the contents the caller can see (a Seq Scan of 13,433 rows for a
creator with 100 courses: 15 ms for one tag or mind), where the function
probes the written content by its key. The read policies
(`*_select_visible`) do not change. Not inlined (it has a fixed
search_path, as the linter asks): it runs once per written row, and a
content's tags or minds are a handful of rows.

Downgrade: the policies as revision 0002 wrote them (written out here),
then the function.

Revision ID: 0014_shared_policies
Revises: 0013_revision_cost
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014_shared_policies"
down_revision: str | None = "0013_revision_cost"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Undoing this revision drops a function and no data (see app/db/migrations.py).
DATA_LOSS: str | None = None

# Every statement below is written out whole, as it runs: a revision never
# changes once released, and never reads another one's text (the current
# definitions live in app/db/sql/).

FUNCTION = [
    """
CREATE OR REPLACE FUNCTION creatoros_internal.writes_content(target uuid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = ''
AS $fn$
    SELECT EXISTS (SELECT FROM public.contents c
                   WHERE c.id = target
                     AND c.project_id IN (SELECT p.id FROM public.content_projects p
                                          WHERE p.creator_mind_id = (SELECT public.current_mind_id())))
$fn$
""",  # noqa: E501
    "REVOKE ALL ON FUNCTION creatoros_internal.writes_content(uuid) FROM PUBLIC",
    "GRANT EXECUTE ON FUNCTION creatoros_internal.writes_content(uuid)"
    " TO authenticated, service_role",
    "COMMENT ON FUNCTION creatoros_internal.writes_content(uuid) IS"
    " 'creatoros: whether the caller writes what hangs off a content (its minds, its tags):"
    " the content is one of a project it created; as the caller'",
]  # fmt: skip

# (table, policy, its whole new text). Each replaces 0002's policy of that name.
POLICIES: list[tuple[str, str, str]] = [
    ("content_minds", "content_minds_project_owner_insert", """CREATE POLICY content_minds_project_owner_insert ON public.content_minds
    FOR INSERT TO authenticated
    WITH CHECK (creatoros_internal.writes_content(content_id))"""),  # noqa: E501
    ("content_minds", "content_minds_project_owner_update", """CREATE POLICY content_minds_project_owner_update ON public.content_minds
    FOR UPDATE TO authenticated
    USING (creatoros_internal.writes_content(content_id))
    WITH CHECK (creatoros_internal.writes_content(content_id))"""),  # noqa: E501
    ("content_minds", "content_minds_project_owner_delete", """CREATE POLICY content_minds_project_owner_delete ON public.content_minds
    FOR DELETE TO authenticated
    USING (creatoros_internal.writes_content(content_id))"""),  # noqa: E501
    ("content_tags", "content_tags_project_owner_insert", """CREATE POLICY content_tags_project_owner_insert ON public.content_tags
    FOR INSERT TO authenticated
    WITH CHECK (creatoros_internal.writes_content(content_id))"""),  # noqa: E501
    ("content_tags", "content_tags_project_owner_update", """CREATE POLICY content_tags_project_owner_update ON public.content_tags
    FOR UPDATE TO authenticated
    USING (creatoros_internal.writes_content(content_id))
    WITH CHECK (creatoros_internal.writes_content(content_id))"""),  # noqa: E501
    ("content_tags", "content_tags_project_owner_delete", """CREATE POLICY content_tags_project_owner_delete ON public.content_tags
    FOR DELETE TO authenticated
    USING (creatoros_internal.writes_content(content_id))"""),  # noqa: E501
]  # fmt: skip

# 0002's text of the same policies, restored on downgrade.
OLD_POLICIES: list[tuple[str, str, str]] = [
    ("content_minds", "content_minds_project_owner_insert", """CREATE POLICY content_minds_project_owner_insert ON public.content_minds
    FOR INSERT TO authenticated
    WITH CHECK (content_id IN (
        SELECT c.id FROM public.contents c
        WHERE c.project_id IN (SELECT p.id FROM public.content_projects p
                               WHERE p.creator_mind_id = (select public.current_mind_id()))))"""),  # noqa: E501
    ("content_minds", "content_minds_project_owner_update", """CREATE POLICY content_minds_project_owner_update ON public.content_minds
    FOR UPDATE TO authenticated
    USING (content_id IN (
        SELECT c.id FROM public.contents c
        WHERE c.project_id IN (SELECT p.id FROM public.content_projects p
                               WHERE p.creator_mind_id = (select public.current_mind_id()))))
    WITH CHECK (content_id IN (
        SELECT c.id FROM public.contents c
        WHERE c.project_id IN (SELECT p.id FROM public.content_projects p
                               WHERE p.creator_mind_id = (select public.current_mind_id()))))"""),  # noqa: E501
    ("content_minds", "content_minds_project_owner_delete", """CREATE POLICY content_minds_project_owner_delete ON public.content_minds
    FOR DELETE TO authenticated
    USING (content_id IN (
        SELECT c.id FROM public.contents c
        WHERE c.project_id IN (SELECT p.id FROM public.content_projects p
                               WHERE p.creator_mind_id = (select public.current_mind_id()))))"""),  # noqa: E501
    ("content_tags", "content_tags_project_owner_insert", """CREATE POLICY content_tags_project_owner_insert ON public.content_tags
    FOR INSERT TO authenticated
    WITH CHECK (content_id IN (
        SELECT c.id FROM public.contents c
        WHERE c.project_id IN (SELECT p.id FROM public.content_projects p
                               WHERE p.creator_mind_id = (select public.current_mind_id()))))"""),  # noqa: E501
    ("content_tags", "content_tags_project_owner_update", """CREATE POLICY content_tags_project_owner_update ON public.content_tags
    FOR UPDATE TO authenticated
    USING (content_id IN (
        SELECT c.id FROM public.contents c
        WHERE c.project_id IN (SELECT p.id FROM public.content_projects p
                               WHERE p.creator_mind_id = (select public.current_mind_id()))))
    WITH CHECK (content_id IN (
        SELECT c.id FROM public.contents c
        WHERE c.project_id IN (SELECT p.id FROM public.content_projects p
                               WHERE p.creator_mind_id = (select public.current_mind_id()))))"""),  # noqa: E501
    ("content_tags", "content_tags_project_owner_delete", """CREATE POLICY content_tags_project_owner_delete ON public.content_tags
    FOR DELETE TO authenticated
    USING (content_id IN (
        SELECT c.id FROM public.contents c
        WHERE c.project_id IN (SELECT p.id FROM public.content_projects p
                               WHERE p.creator_mind_id = (select public.current_mind_id()))))"""),  # noqa: E501
]  # fmt: skip


def _replace_policies(policies: list[tuple[str, str, str]]) -> None:
    for table, name, create in policies:
        op.execute(f"DROP POLICY IF EXISTS {name} ON public.{table}")
        op.execute(create)


def upgrade() -> None:
    for statement in FUNCTION:
        op.execute(statement)
    _replace_policies(POLICIES)


def downgrade() -> None:
    _replace_policies(OLD_POLICIES)
    op.execute("DROP FUNCTION IF EXISTS creatoros_internal.writes_content(uuid)")
