"""The revision triggers' write cost (issue 23): 0012's trigger in fewer statements.

Measured on 0012 (`python -m bench.revisions`, auto_explain of the
trigger's nested statements at 200 courses), the triggers cost a 133-node
course's PUT +15 %, a PUT of 3 changed lessons +26 % and a no-op +11 %:

- a new course: its 133 history rows re-read from `contents` by id, each
  checked against its revision (the foreign key), a second function called
  per project for the revision, and the summary counted again by scanning
  the history just written;
- 3 changed lessons: the same statements, plus a LATERAL look-up of the
  project's latest revision per replaced body;
- every tree PUT: the INSERT … ON CONFLICT fires the INSERT and the UPDATE
  triggers, one of them (or both, on a no-op) with empty transition tables,
  and each ran its 4-5 statements over them anyway.

Now (same behaviour; tests/revisions are unchanged):

- one pass over the transition tables finds the changed nodes, those gone
  from a project, and whether any body was replaced; a statement with none
  returns right there;
- the triggers stay as 0012 made them: `AFTER UPDATE OF <tracked columns>`
  would spare an UPDATE of other columns its transition tables, but
  PostgreSQL refuses a column list on a trigger with transition tables
  ("transition tables cannot be specified for triggers with column
  lists"); such an UPDATE returns after its one look instead;
- the revision is found or made inside the trigger function
  (`creatoros_internal.content_revision` is dropped), the projects locked in
  id order;
- the history rows come from the transition table (the row as the
  statement left it), for every project in one INSERT, and a new
  revision's summary is counted from the statement's changes as the
  revision row is inserted (the history is scanned again only for a
  revision an earlier statement of the transaction made, or one with
  nodes gone);
- a replaced body is stored from the history rows the hashing UPDATE
  pointed at it (its RETURNING), without a look-up of the latest revision
  per row.

Downgrade: 0012's two functions, written out here as 0012 made
them. Nothing is lost (no table changes).

Revision ID: 0013_revision_cost
Revises: 0012_project_revisions
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013_revision_cost"
down_revision: str | None = "0012_project_revisions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATA_LOSS: str | None = None

# Every statement below is written out whole, as it runs: a revision never
# changes once released, and never reads another one's text (the current
# definitions live in app/db/sql/).

FUNCTIONS = [
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
    replaced uuid[] := '{}';
    revision_projects uuid[] := '{}';
    revision_numbers integer[] := '{}';
    revision_creators uuid[] := '{}';
    recount boolean := false;
    this_project uuid;
    creator uuid;
    latest integer;
    latest_transaction bigint;
BEGIN
    -- The nodes this statement changed (tracked fields only), with how, in
    -- one pass over the transition tables; an empty statement (the tree
    -- PUT's INSERT when it only updates, its UPDATE when nothing changed)
    -- returns here.
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(n.id), array_agg(n.project_id),
               array_agg(CASE WHEN n.deleted_at IS NULL THEN 'added' ELSE 'removed' END)
        INTO ids, projects, changes
        FROM new_rows n WHERE n.project_id IS NOT NULL;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(n.id) FILTER (WHERE x.tracked),
               array_agg(n.project_id) FILTER (WHERE x.tracked),
               array_agg(CASE
                   WHEN n.deleted_at IS NOT NULL THEN 'removed'
                   WHEN o.deleted_at IS NOT NULL OR o.project_id IS DISTINCT FROM n.project_id
                       THEN 'added'
                   WHEN (o.slug, o.title, o.content_type, o.status, o.fidelity_score,
                         o.file_path, o.metadata, o.content)
                        IS DISTINCT FROM
                        (n.slug, n.title, n.content_type, n.status, n.fidelity_score,
                         n.file_path, n.metadata, n.content) THEN 'changed'
                   ELSE 'moved' END) FILTER (WHERE x.tracked),
               -- Moved to another project (or detached): removed from the old one.
               coalesce(array_agg(o.id) FILTER (WHERE x.gone), '{}'),
               coalesce(array_agg(o.project_id) FILTER (WHERE x.gone), '{}'),
               -- Their body replaced, or taken out of the project: stored now.
               coalesce(array_agg(o.id) FILTER (WHERE o.content IS DISTINCT FROM n.content
                                                OR o.project_id IS DISTINCT FROM n.project_id),
                        '{}')
        INTO ids, projects, changes, gone_ids, gone_projects, replaced
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (SELECT
            n.project_id IS NOT NULL
            AND (o.deleted_at IS NULL OR n.deleted_at IS NULL)
            AND (o.project_id, o.slug, o.title, o.content_type, o.status, o.sequence_order,
                 o.fidelity_score, o.file_path, o.metadata, o.parent_content_id, o.content,
                 o.deleted_at IS NULL)
                IS DISTINCT FROM
                (n.project_id, n.slug, n.title, n.content_type, n.status, n.sequence_order,
                 n.fidelity_score, n.file_path, n.metadata, n.parent_content_id, n.content,
                 n.deleted_at IS NULL) AS tracked,
            o.project_id IS NOT NULL AND o.deleted_at IS NULL
            AND o.project_id IS DISTINCT FROM n.project_id AS gone) x;
    ELSE
        SELECT coalesce(array_agg(o.id) FILTER (WHERE o.deleted_at IS NULL), '{}'),
               coalesce(array_agg(o.project_id) FILTER (WHERE o.deleted_at IS NULL), '{}'),
               coalesce(array_agg(o.id), '{}')
        INTO gone_ids, gone_projects, replaced
        FROM old_rows o WHERE o.project_id IS NOT NULL;
    END IF;
    IF ids IS NULL AND cardinality(gone_ids) = 0 AND cardinality(replaced) = 0 THEN
        RETURN NULL;
    END IF;

    -- Bodies are stored when they stop being live: a history row names its
    -- body NULL while it is the live row's (no copy of the course, and no
    -- hashing of a write's bodies), and by hash ('' for none) from the
    -- moment it is replaced; that body is stored once per distinct text and
    -- project, for the history rows that now point at it. Not for a project
    -- being deleted (its rows' project_id set NULL, or the rows deleted, by
    -- the cascade): its history goes with it.
    IF cardinality(replaced) > 0 THEN
        WITH hashed AS (
            UPDATE public.content_history h
            SET body_sha256 = coalesce(sha256(convert_to(o.content, 'UTF8')), ''::bytea)
            FROM old_rows o JOIN unnest(replaced) r(id) ON r.id = o.id
            WHERE h.project_id = o.project_id AND h.content_id = o.id
              AND h.body_sha256 IS NULL
              AND EXISTS (SELECT FROM public.content_projects p WHERE p.id = o.project_id)
            RETURNING h.project_id, h.body_sha256, h.creator_mind_id, o.content
        )
        INSERT INTO public.content_bodies (project_id, sha256, creator_mind_id, body)
        SELECT DISTINCT ON (b.project_id, b.body_sha256)
               b.project_id, b.body_sha256, b.creator_mind_id, b.content
        FROM hashed b WHERE b.content IS NOT NULL
        ON CONFLICT DO NOTHING;
    END IF;

    -- This transaction's revision of each project: the latest one when this
    -- transaction made it, else a new one (numbered 1, 2, … per project),
    -- with the project's baseline (its other nodes as they are) when it is
    -- its first. Numbers are dense per project: its row stays locked to the
    -- end of the transaction (NO KEY: other writers' foreign key checks
    -- still pass; in id order), so the latest revision, if this
    -- transaction's, stays the latest. A project being deleted is skipped:
    -- its history goes with it.
    FOR this_project, creator IN
        SELECT p.id, p.creator_mind_id FROM public.content_projects p
        WHERE p.id = ANY (coalesce(projects, '{}') || gone_projects)
        ORDER BY p.id FOR NO KEY UPDATE
    LOOP
        SELECT r.number, r.transaction_id INTO latest, latest_transaction
        FROM public.content_revisions r WHERE r.project_id = this_project
        ORDER BY r.number DESC LIMIT 1;
        IF latest_transaction = txid_current() THEN
            recount := true;  -- an earlier statement's revision: counted again below
        ELSE
            latest := coalesce(latest, 0) + 1;
            -- Its summary counted here: a new revision's rows are the
            -- changes below, one each (nodes gone are counted again below).
            INSERT INTO public.content_revisions (
                project_id, number, creator_mind_id, mind_id, user_id, request_id, note,
                added, changed, moved, removed)
            SELECT this_project, latest, creator, public.current_mind_id(),
                   nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub',
                   substring(current_setting('application_name') FROM '^creatoros (.+)$'),
                   nullif(current_setting('creatoros.revision_note', true), ''),
                   count(*) FILTER (WHERE x.change = 'added'),
                   count(*) FILTER (WHERE x.change = 'changed'),
                   count(*) FILTER (WHERE x.change = 'moved'),
                   count(*) FILTER (WHERE x.change = 'removed')
            FROM unnest(projects, changes) x(project_id, change)
            WHERE x.project_id = this_project;
            IF latest = 1 THEN
                -- The project's first revision: its other nodes as they are (a
                -- project written before revision 0012 gets its history from here).
                INSERT INTO public.content_history (
                    project_id, content_id, revision, creator_mind_id, change, slug, title,
                    content_type, status, sequence_order, fidelity_score, file_path,
                    metadata, parent_content_id, body_sha256, deleted)
                SELECT this_project, c.id, 1, creator, NULL, c.slug, c.title,
                       c.content_type, c.status, c.sequence_order, c.fidelity_score,
                       c.file_path, c.metadata, c.parent_content_id, NULL,
                       c.deleted_at IS NOT NULL
                FROM public.contents c
                WHERE c.project_id = this_project
                  AND c.id NOT IN (SELECT unnest(coalesce(ids, '{}')));  -- hashed
            END IF;
        END IF;
        revision_projects := revision_projects || this_project;
        revision_numbers := revision_numbers || latest;
        revision_creators := revision_creators || creator;
    END LOOP;

    -- The changed nodes as the statement left them (its transition table),
    -- for every project at once.
    IF ids IS NOT NULL THEN
        INSERT INTO public.content_history AS h (
            project_id, content_id, revision, creator_mind_id, change, slug, title,
            content_type, status, sequence_order, fidelity_score, file_path, metadata,
            parent_content_id, body_sha256, deleted)
        SELECT r.project_id, n.id, r.number, r.creator, x.change, n.slug, n.title,
               n.content_type, n.status, n.sequence_order, n.fidelity_score,
               n.file_path, n.metadata, n.parent_content_id, NULL,
               n.deleted_at IS NOT NULL
        FROM unnest(ids, changes) x(id, change)
        JOIN new_rows n ON n.id = x.id
        JOIN unnest(revision_projects, revision_numbers, revision_creators)
             r(project_id, number, creator) ON r.project_id = n.project_id
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
    END IF;

    -- Gone from the project (deleted for good, or moved out): its last
    -- known state, marked deleted.
    IF cardinality(gone_ids) > 0 THEN
        INSERT INTO public.content_history AS h (
            project_id, content_id, revision, creator_mind_id, change, slug, title,
            content_type, status, sequence_order, fidelity_score, file_path, metadata,
            parent_content_id, body_sha256, deleted)
        SELECT DISTINCT ON (l.project_id, l.content_id) l.project_id, l.content_id,
               r.number, r.creator, 'removed', l.slug, l.title, l.content_type, l.status,
               l.sequence_order, l.fidelity_score, l.file_path, l.metadata,
               l.parent_content_id, l.body_sha256, true
        FROM unnest(gone_ids, gone_projects) g(id, project_id)
        JOIN unnest(revision_projects, revision_numbers, revision_creators)
             r(project_id, number, creator) ON r.project_id = g.project_id
        JOIN public.content_history l
             ON l.project_id = g.project_id AND l.content_id = g.id
        ORDER BY l.project_id, l.content_id, l.revision DESC
        ON CONFLICT (project_id, content_id, revision) DO UPDATE SET
            change = 'removed', deleted = true;
        recount := true;
    END IF;

    -- A revision an earlier statement of this transaction made, or one
    -- with nodes gone: its one-line summary over every statement so far.
    IF recount THEN
        UPDATE public.content_revisions r
        SET added = s.added, changed = s.changed, moved = s.moved, removed = s.removed
        FROM (SELECT h.project_id, h.revision,
                     count(*) FILTER (WHERE h.change = 'added') AS added,
                     count(*) FILTER (WHERE h.change = 'changed') AS changed,
                     count(*) FILTER (WHERE h.change = 'moved') AS moved,
                     count(*) FILTER (WHERE h.change = 'removed') AS removed
              FROM unnest(revision_projects, revision_numbers) x(project_id, number)
              JOIN public.content_history h
                   ON h.project_id = x.project_id AND h.revision = x.number
              GROUP BY h.project_id, h.revision) s
        WHERE r.project_id = s.project_id AND r.number = s.revision;
    END IF;
    RETURN NULL;
END
$fn$""",
    "REVOKE ALL ON FUNCTION creatoros_internal.record_content_revision() FROM PUBLIC",
    "COMMENT ON FUNCTION creatoros_internal.record_content_revision() IS"
    " 'creatoros: records the nodes a statement on contents changed in their project''s"
    " revision of this transaction; SECURITY DEFINER: the API roles cannot write history'",
    "DROP FUNCTION IF EXISTS creatoros_internal.content_revision(uuid, uuid[])",
]

# 0012's, as it made them.
PREVIOUS_FUNCTIONS = [
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


def upgrade() -> None:
    for statement in FUNCTIONS:
        op.execute(statement)


def downgrade() -> None:
    for statement in PREVIOUS_FUNCTIONS:
        op.execute(statement)
