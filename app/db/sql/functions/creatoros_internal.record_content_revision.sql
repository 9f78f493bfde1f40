-- The revision trigger of `contents` (one function for its three
-- statement-level triggers, with transition tables): the nodes a statement
-- changed, in any tracked field, are recorded in their project's revision
-- of this transaction: their state after it (the body by reference to the
-- live row until it is replaced; a replaced body stored once per distinct
-- text and project), the revision's summary. SECURITY DEFINER with an empty search_path:
-- the API roles read the history (RLS) and never write it. Revision 0013
-- (0012's, in fewer statements: a statement that changes nothing returns
-- after one look at its transition table; the revision is found or made
-- here, not by a second function, with its summary; the history is
-- written for every project at once from the transition table, not read
-- back from `contents`).

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
$fn$;

REVOKE ALL ON FUNCTION creatoros_internal.record_content_revision() FROM PUBLIC;

COMMENT ON FUNCTION creatoros_internal.record_content_revision() IS
    'creatoros: records the nodes a statement on contents changed in their project''s revision of this transaction; SECURITY DEFINER: the API roles cannot write history';
