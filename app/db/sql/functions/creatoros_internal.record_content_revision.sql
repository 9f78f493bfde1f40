-- The revision trigger of `contents` (one function for its three
-- statement-level triggers, with transition tables): the nodes a statement
-- changed, in any tracked field, are recorded in their project's revision
-- of this transaction: their state after it (the body by reference to the
-- live row until it is replaced; a replaced body stored once per distinct
-- text and project), the revision's summary. SECURITY DEFINER with an empty search_path:
-- the API roles read the history (RLS) and never write it. Revision 0012.

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
$fn$;

REVOKE ALL ON FUNCTION creatoros_internal.record_content_revision() FROM PUBLIC;

COMMENT ON FUNCTION creatoros_internal.record_content_revision() IS
    'creatoros: records the nodes a statement on contents changed in their project''s revision of this transaction; SECURITY DEFINER: the API roles cannot write history';
