"""Course versions: every change to a project's nodes kept as a project revision (issue 23).

Three tables, all new (nothing of the production baseline changes):

- `content_revisions (project_id, number)`: one per project and transaction
  that changed its nodes: when, who (the caller's mind, the JWT's `sub`), the
  request id (the service puts it in `application_name`), an optional note
  (`creatoros.revision_note`, e.g. a restore's), and how many nodes were
  added, changed, moved and removed.
- `content_history (project_id, content_id, revision)`: a node's state
  AFTER a revision, only for the nodes that revision changed (and, on a
  project's first revision, for all its nodes: the baseline of a project
  written before this revision). The tree at revision N is, per node, its
  latest row at <= N: one ordered scan of the primary key, backwards.
- `content_bodies (project_id, sha256)`: each distinct body once per
  project (content-addressed), stored when it stops being live (replaced, or
  its row deleted for good): a history row's `body_sha256` is NULL while its
  body is the live row's (a write hashes no body), and is set to the hash
  (`''` for no body) when that body is replaced. 20 re-imports that change
  3 lessons store the 60 replaced bodies, not 20 courses, nor a copy of the
  current one. Keyed per project (not across tenants): no tenant's write
  depends on, or tells anything about, another's text.

Who writes them: statement-level AFTER triggers on `contents` with transition
tables (`REFERENCING NEW TABLE / OLD TABLE`), so every path that changes
nodes (tree PUT, content POST/PATCH/move/DELETE/restore, import, a DBA's
UPDATE) records, and a 133-node PUT is a few set-based statements, not 133
row triggers. A statement that changes none of the tracked fields (slug,
title, type, status, order, parent, fidelity, file path, metadata, body,
deleted or not) records nothing: the tree PUT skips unchanged rows, so a
no-op re-import leaves no revision, and the search indexer's own updates
none either.

The trigger function is SECURITY DEFINER (in creatoros_internal, empty
search_path): the API roles only SELECT the history (RLS: the project's
creator, as `creator_mind_id` recorded) and can neither forge nor erase it;
`anon` reads none of it (no grant).

Downgrade: triggers, functions, tables; it loses the history (DATA_LOSS).

Revision ID: 0012_project_revisions
Revises: 0011_search_speed
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import context, op

revision: str = "0012_project_revisions"
down_revision: str | None = "0011_search_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Undoing it drops every revision.
DATA_LOSS: str | None = "EXISTS (SELECT FROM public.content_revisions)"

# Every statement below is written out whole, as it runs (the current
# definitions live in app/db/sql/).

TABLES = [
    """
CREATE TABLE IF NOT EXISTS public.content_revisions (
    project_id uuid NOT NULL,
    number integer NOT NULL,
    creator_mind_id uuid,
    mind_id uuid,
    user_id text,
    request_id text,
    note text,
    transaction_id bigint NOT NULL DEFAULT txid_current(),
    created_at timestamptz NOT NULL DEFAULT now(),
    added integer NOT NULL DEFAULT 0,
    changed integer NOT NULL DEFAULT 0,
    moved integer NOT NULL DEFAULT 0,
    removed integer NOT NULL DEFAULT 0,
    CONSTRAINT pk_content_revisions PRIMARY KEY (project_id, number),
    CONSTRAINT fk_content_revisions_project_id FOREIGN KEY (project_id)
        REFERENCES public.content_projects (id) ON DELETE CASCADE
);
""",
    "COMMENT ON TABLE public.content_revisions IS 'creatoros: one per project and transaction"
    " that changed its nodes (who, when, what); written by the contents'' triggers only'",
    """
CREATE TABLE IF NOT EXISTS public.content_bodies (
    project_id uuid NOT NULL,
    sha256 bytea NOT NULL,
    creator_mind_id uuid,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_content_bodies PRIMARY KEY (project_id, sha256),
    CONSTRAINT fk_content_bodies_project_id FOREIGN KEY (project_id)
        REFERENCES public.content_projects (id) ON DELETE CASCADE
);
""",
    "COMMENT ON TABLE public.content_bodies IS 'creatoros: every distinct body a project''s"
    " history holds that is no longer live, once (by SHA-256 of its UTF-8 text)'",
    """
CREATE TABLE IF NOT EXISTS public.content_history (
    project_id uuid NOT NULL,
    content_id uuid NOT NULL,
    revision integer NOT NULL,
    creator_mind_id uuid,
    change text,
    slug text NOT NULL,
    title text NOT NULL,
    content_type text NOT NULL,
    status text,
    sequence_order smallint,
    fidelity_score numeric(3, 2),
    file_path text,
    metadata jsonb NOT NULL,
    parent_content_id uuid,
    body_sha256 bytea,
    deleted boolean NOT NULL,
    CONSTRAINT pk_content_history PRIMARY KEY (project_id, content_id, revision),
    CONSTRAINT fk_content_history_project_id FOREIGN KEY (project_id, revision)
        REFERENCES public.content_revisions (project_id, number) ON DELETE CASCADE,
    CONSTRAINT ck_content_history_change
        CHECK (change IN ('added', 'changed', 'moved', 'removed'))
);
""",
    "COMMENT ON TABLE public.content_history IS 'creatoros: a node''s state after each"
    " revision that changed it (change NULL: the project''s baseline)'",
    "CREATE INDEX IF NOT EXISTS idx_content_history_project_revision"
    " ON public.content_history (project_id, revision)",
    "ALTER TABLE public.content_revisions ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE public.content_bodies ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE public.content_history ENABLE ROW LEVEL SECURITY",
    "GRANT SELECT ON public.content_revisions, public.content_bodies, public.content_history"
    " TO authenticated",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON public.content_revisions, public.content_bodies,"
    " public.content_history TO service_role",
]

# (table, policy). The project's creator reads its history; nobody writes
# it but the triggers (no INSERT/UPDATE/DELETE grant to the API roles).
POLICIES: list[tuple[str, str]] = [
    (
        table,
        f"""CREATE POLICY {table}_creator_select ON public.{table}
    FOR SELECT TO authenticated
    USING (creator_mind_id = (select public.current_mind_id()))""",
    )
    for table in ("content_revisions", "content_bodies", "content_history")
]

FUNCTIONS = [
    r"""
CREATE OR REPLACE FUNCTION creatoros_internal.content_revision(project uuid, changing uuid[])
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $fn$
DECLARE
    creator uuid;
    latest integer;
    latest_transaction bigint;
    claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
BEGIN
    -- Numbers are dense per project: its row stays locked to the end of the
    -- transaction (NO KEY: other writers' foreign key checks still pass), so
    -- the latest revision, if this transaction's, stays the latest.
    SELECT p.creator_mind_id INTO creator
    FROM public.content_projects p WHERE p.id = project FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;  -- the project is being deleted: its history goes with it
    END IF;
    SELECT r.number, r.transaction_id INTO latest, latest_transaction
    FROM public.content_revisions r WHERE r.project_id = project
    ORDER BY r.number DESC LIMIT 1;
    IF latest_transaction = txid_current() THEN
        RETURN latest;
    END IF;
    INSERT INTO public.content_revisions (
        project_id, number, creator_mind_id, mind_id, user_id, request_id, note)
    VALUES (project, coalesce(latest, 0) + 1, creator, public.current_mind_id(),
            claims ->> 'sub',
            substring(current_setting('application_name') FROM '^creatoros (.+)$'),
            nullif(current_setting('creatoros.revision_note', true), ''));
    IF latest IS NULL THEN
        -- The project's first revision: its other nodes as they are (a
        -- project written before revision 0012 gets its history from here).
        INSERT INTO public.content_history (
            project_id, content_id, revision, creator_mind_id, change, slug, title,
            content_type, status, sequence_order, fidelity_score, file_path, metadata,
            parent_content_id, body_sha256, deleted)
        SELECT project, c.id, 1, creator, NULL, c.slug, c.title, c.content_type, c.status,
               c.sequence_order, c.fidelity_score, c.file_path, c.metadata,
               c.parent_content_id, NULL, c.deleted_at IS NOT NULL
        FROM public.contents c
        WHERE c.project_id = project AND c.id <> ALL (changing);
    END IF;
    RETURN coalesce(latest, 0) + 1;
END
$fn$""",
    "REVOKE ALL ON FUNCTION creatoros_internal.content_revision(uuid, uuid[]) FROM PUBLIC",
    "COMMENT ON FUNCTION creatoros_internal.content_revision(uuid, uuid[]) IS"
    " 'creatoros: this transaction''s revision of project (made, with the project''s baseline"
    " if it is its first, when missing); for the contents'' revision trigger only'",
    r"""
CREATE OR REPLACE FUNCTION creatoros_internal.record_content_revision()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = ''
AS $fn$
DECLARE
    ids uuid[];
    projects uuid[];
    changes text[];
    gone_ids uuid[] := '{}';
    gone_projects uuid[] := '{}';
    this_project uuid;
    this_revision integer;
    creator uuid;
BEGIN
    -- The nodes this statement changed (tracked fields only), with how.
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(n.id), array_agg(n.project_id),
               array_agg(CASE WHEN n.deleted_at IS NULL THEN 'added' ELSE 'removed' END)
        INTO ids, projects, changes
        FROM new_rows n WHERE n.project_id IS NOT NULL;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(n.id), array_agg(n.project_id),
               array_agg(CASE
                   WHEN n.deleted_at IS NOT NULL THEN 'removed'
                   WHEN o.deleted_at IS NOT NULL OR o.project_id IS DISTINCT FROM n.project_id
                       THEN 'added'
                   WHEN (o.slug, o.title, o.content_type, o.status, o.fidelity_score,
                         o.file_path, o.metadata, o.content)
                        IS DISTINCT FROM
                        (n.slug, n.title, n.content_type, n.status, n.fidelity_score,
                         n.file_path, n.metadata, n.content) THEN 'changed'
                   ELSE 'moved' END)
        INTO ids, projects, changes
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE n.project_id IS NOT NULL
          AND (o.deleted_at IS NULL OR n.deleted_at IS NULL)
          AND (o.project_id, o.slug, o.title, o.content_type, o.status, o.sequence_order,
               o.fidelity_score, o.file_path, o.metadata, o.parent_content_id, o.content,
               o.deleted_at IS NULL)
              IS DISTINCT FROM
              (n.project_id, n.slug, n.title, n.content_type, n.status, n.sequence_order,
               n.fidelity_score, n.file_path, n.metadata, n.parent_content_id, n.content,
               n.deleted_at IS NULL);
        -- Moved to another project (or detached): removed from the old one.
        SELECT coalesce(array_agg(o.id), '{}'), coalesce(array_agg(o.project_id), '{}')
        INTO gone_ids, gone_projects
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE o.project_id IS NOT NULL AND o.deleted_at IS NULL
          AND o.project_id IS DISTINCT FROM n.project_id;
        -- Bodies are stored when they stop being live: a history row names
        -- its body NULL while it is the live row's (no copy of the course,
        -- and no hashing of a write's bodies), and by hash ('' for none)
        -- from the moment it is replaced. Once per distinct text and
        -- project; only for a project that has a history to point at it.
        UPDATE public.content_history h
        SET body_sha256 = coalesce(sha256(convert_to(o.content, 'UTF8')), ''::bytea)
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE h.project_id = o.project_id AND h.content_id = o.id AND h.body_sha256 IS NULL
          AND (o.content IS DISTINCT FROM n.content OR o.project_id IS DISTINCT FROM n.project_id);
        INSERT INTO public.content_bodies (project_id, sha256, creator_mind_id, body)
        SELECT o.project_id, sha256(convert_to(o.content, 'UTF8')), r.creator_mind_id, o.content
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        JOIN LATERAL (SELECT r.creator_mind_id FROM public.content_revisions r
                      WHERE r.project_id = o.project_id
                      ORDER BY r.number DESC LIMIT 1) r ON true
        WHERE o.content IS NOT NULL
          AND (o.content IS DISTINCT FROM n.content OR o.project_id IS DISTINCT FROM n.project_id)
        ON CONFLICT DO NOTHING;
    ELSE
        SELECT coalesce(array_agg(o.id), '{}'), coalesce(array_agg(o.project_id), '{}')
        INTO gone_ids, gone_projects
        FROM old_rows o WHERE o.project_id IS NOT NULL AND o.deleted_at IS NULL;
        UPDATE public.content_history h
        SET body_sha256 = coalesce(sha256(convert_to(o.content, 'UTF8')), ''::bytea)
        FROM old_rows o
        WHERE h.project_id = o.project_id AND h.content_id = o.id AND h.body_sha256 IS NULL;
        INSERT INTO public.content_bodies (project_id, sha256, creator_mind_id, body)
        SELECT o.project_id, sha256(convert_to(o.content, 'UTF8')), r.creator_mind_id, o.content
        FROM old_rows o
        JOIN LATERAL (SELECT r.creator_mind_id FROM public.content_revisions r
                      WHERE r.project_id = o.project_id
                      ORDER BY r.number DESC LIMIT 1) r ON true
        WHERE o.content IS NOT NULL
        ON CONFLICT DO NOTHING;
    END IF;

    FOR this_project IN
        SELECT DISTINCT p FROM unnest(coalesce(projects, '{}') || gone_projects) p
    LOOP
        this_revision := creatoros_internal.content_revision(
            this_project,
            ARRAY(SELECT x.id FROM unnest(ids, projects) x(id, project_id)
                  WHERE x.project_id = this_project));
        CONTINUE WHEN this_revision IS NULL;
        SELECT r.creator_mind_id INTO creator FROM public.content_revisions r
        WHERE r.project_id = this_project AND r.number = this_revision;

        -- The changed nodes as they now are (their body: the live row's,
        -- NULL, until it is replaced, see above).
        WITH changed AS (
            SELECT c.id, x.change, c.slug, c.title, c.content_type, c.status,
                   c.sequence_order, c.fidelity_score, c.file_path, c.metadata,
                   c.parent_content_id, c.deleted_at
            FROM unnest(ids, projects, changes) x(id, project_id, change)
            JOIN public.contents c ON c.id = x.id
            WHERE x.project_id = this_project
        )
        INSERT INTO public.content_history AS h (
            project_id, content_id, revision, creator_mind_id, change, slug, title,
            content_type, status, sequence_order, fidelity_score, file_path, metadata,
            parent_content_id, body_sha256, deleted)
        SELECT this_project, ch.id, this_revision, creator, ch.change, ch.slug, ch.title,
               ch.content_type, ch.status, ch.sequence_order, ch.fidelity_score,
               ch.file_path, ch.metadata, ch.parent_content_id, NULL,
               ch.deleted_at IS NOT NULL
        FROM changed ch
        ON CONFLICT (project_id, content_id, revision) DO UPDATE SET
            -- Changed again in the same transaction: the latest state, and
            -- the strongest change (removed > added > changed > moved).
            change = CASE WHEN h.change IS NULL OR EXCLUDED.change = 'removed'
                               OR (h.change = 'moved' AND EXCLUDED.change <> 'moved')
                          THEN EXCLUDED.change ELSE h.change END,
            slug = EXCLUDED.slug, title = EXCLUDED.title,
            content_type = EXCLUDED.content_type, status = EXCLUDED.status,
            sequence_order = EXCLUDED.sequence_order,
            fidelity_score = EXCLUDED.fidelity_score, file_path = EXCLUDED.file_path,
            metadata = EXCLUDED.metadata, parent_content_id = EXCLUDED.parent_content_id,
            body_sha256 = EXCLUDED.body_sha256, deleted = EXCLUDED.deleted;

        -- Gone from the project (deleted for good, or moved out): its last
        -- known state, marked deleted.
        INSERT INTO public.content_history AS h (
            project_id, content_id, revision, creator_mind_id, change, slug, title,
            content_type, status, sequence_order, fidelity_score, file_path, metadata,
            parent_content_id, body_sha256, deleted)
        SELECT DISTINCT ON (l.content_id) l.project_id, l.content_id, this_revision,
               creator, 'removed', l.slug, l.title, l.content_type, l.status,
               l.sequence_order, l.fidelity_score, l.file_path, l.metadata,
               l.parent_content_id, l.body_sha256, true
        FROM public.content_history l
        WHERE l.project_id = this_project
          AND l.content_id = ANY (ARRAY(SELECT g.id FROM unnest(gone_ids, gone_projects)
                                        g(id, project_id) WHERE g.project_id = this_project))
        ORDER BY l.content_id, l.revision DESC
        ON CONFLICT (project_id, content_id, revision) DO UPDATE SET
            change = 'removed', deleted = true;

        -- The one-line summary, over every statement of the transaction so far.
        UPDATE public.content_revisions r
        SET added = s.added, changed = s.changed, moved = s.moved, removed = s.removed
        FROM (SELECT count(*) FILTER (WHERE h.change = 'added') AS added,
                     count(*) FILTER (WHERE h.change = 'changed') AS changed,
                     count(*) FILTER (WHERE h.change = 'moved') AS moved,
                     count(*) FILTER (WHERE h.change = 'removed') AS removed
              FROM public.content_history h
              WHERE h.project_id = this_project AND h.revision = this_revision) s
        WHERE r.project_id = this_project AND r.number = this_revision;
    END LOOP;
    RETURN NULL;
END
$fn$""",
    "REVOKE ALL ON FUNCTION creatoros_internal.record_content_revision() FROM PUBLIC",
    "COMMENT ON FUNCTION creatoros_internal.record_content_revision() IS"
    " 'creatoros: records the nodes a statement on contents changed in their project''s"
    " revision of this transaction; SECURITY DEFINER: the API roles cannot write history'",
]

TRIGGERS = [
    """CREATE TRIGGER contents_revision_insert AFTER INSERT ON public.contents
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION creatoros_internal.record_content_revision()""",
    """CREATE TRIGGER contents_revision_update AFTER UPDATE ON public.contents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION creatoros_internal.record_content_revision()""",
    """CREATE TRIGGER contents_revision_delete AFTER DELETE ON public.contents
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION creatoros_internal.record_content_revision()""",
]
TRIGGER_NAMES = ("contents_revision_insert", "contents_revision_update", "contents_revision_delete")

REFUSE_DATA_LOSS = f"""
DO $$
BEGIN
    IF ({DATA_LOSS}) THEN
        RAISE EXCEPTION 'refusing to drop content_revisions: it holds the projects'' history'
            USING HINT = 'pass -x allow_data_loss=true (creatoros db downgrade --allow-data-loss)';
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


def upgrade() -> None:
    for statement in TABLES:
        op.execute(statement)
    for table, create in POLICIES:
        op.execute(_guarded(table, f"{table}_creator_select", create))
    for statement in FUNCTIONS:
        op.execute(statement)
    for name in TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON public.contents")
    for statement in TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    allow = context.get_x_argument(as_dictionary=True).get("allow_data_loss", "")
    if allow.lower() not in ("1", "true", "yes"):
        op.execute(REFUSE_DATA_LOSS)
    for name in TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON public.contents")
    op.execute("DROP FUNCTION IF EXISTS creatoros_internal.record_content_revision()")
    op.execute("DROP FUNCTION IF EXISTS creatoros_internal.content_revision(uuid, uuid[])")
    for table in ("content_history", "content_bodies", "content_revisions"):
        op.execute(f"DROP TABLE IF EXISTS public.{table}")
