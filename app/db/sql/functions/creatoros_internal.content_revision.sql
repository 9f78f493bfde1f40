-- This transaction's revision of a project: the latest one when this
-- transaction made it, else a new one (numbered 1, 2, … per project, the
-- project's row locked to the end of the transaction), with the project's
-- baseline (its other nodes as they are) when it is its first. Called by
-- creatoros_internal.record_content_revision() only (no grant: it runs
-- with that SECURITY DEFINER function's rights). Revision 0012.

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
$fn$;

REVOKE ALL ON FUNCTION creatoros_internal.content_revision(uuid, uuid[]) FROM PUBLIC;

COMMENT ON FUNCTION creatoros_internal.content_revision(uuid, uuid[]) IS
    'creatoros: this transaction''s revision of project (made, with the project''s baseline if it is its first, when missing); for the contents'' revision trigger only';
