-- Trigger function: contents.search_document and contents.search_deferred
-- are the database's, never the writer's (revision 0009). A write that
-- changes a row's words (title, body, status, project) or its id builds its
-- search document (creatoros_search_document's words and markers, then
-- creatoros_internal.search_markers', revision 0011) now, unless its transaction asked to defer that to the search
-- indexer (the tree upsert sets `creatoros.search_defer_max_bytes`, and
-- bodies over that size are indexed now all the same): then the document is
-- NULL and the row is deferred. Any other write keeps the document, and may
-- only clear the flag (what the indexer does: the document is built then),
-- never set it; a value a writer gives either column is overwritten (a
-- document it sets is built again: how revision 0011 rebuilt them all).
-- Building the document or clearing the flag is not an edit: when nothing
-- else changed, updated_at (and so a tree's ETag) is put back. Fires after
-- every other BEFORE trigger (`zzz_`: they fire in name order), so it sees
-- the row as it will be stored. Revision 0009; the id and the markers of
-- revision 0011.

CREATE OR REPLACE FUNCTION creatoros_internal.contents_search_document()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $fn$
DECLARE
    defer_max text := pg_catalog.current_setting('creatoros.search_defer_max_bytes', true);
    rewritten boolean := true;
    unedited public.contents;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        rewritten := (NEW.id, NEW.title, NEW.content, NEW.status, NEW.project_id)
                     IS DISTINCT FROM (OLD.id, OLD.title, OLD.content, OLD.status, OLD.project_id);
    END IF;
    IF rewritten THEN
        NEW.search_deferred := coalesce(defer_max, '') <> ''
            AND coalesce(pg_catalog.octet_length(NEW.content), 0) <= defer_max::bigint;
    ELSE
        NEW.search_deferred := OLD.search_deferred AND NEW.search_deferred IS TRUE;
    END IF;
    IF NEW.search_deferred THEN
        NEW.search_document := NULL;
    ELSIF NOT rewritten AND OLD.search_document IS NOT NULL
          AND NEW.search_document IS NOT DISTINCT FROM OLD.search_document THEN
        NEW.search_document := OLD.search_document;
    ELSE
        NEW.search_document := public.creatoros_search_document(
            NEW.title, NEW.content, NEW.status, NEW.project_id)
            || creatoros_internal.search_markers(NEW.id, NEW.title, NEW.status);
    END IF;
    IF NOT rewritten THEN
        unedited := NEW;
        unedited.updated_at := OLD.updated_at;
        unedited.search_deferred := OLD.search_deferred;
        unedited.search_document := OLD.search_document;
        IF unedited IS NOT DISTINCT FROM OLD THEN
            NEW.updated_at := OLD.updated_at;
        END IF;
    END IF;
    RETURN NEW;
END
$fn$;

REVOKE ALL ON FUNCTION creatoros_internal.contents_search_document() FROM PUBLIC;
