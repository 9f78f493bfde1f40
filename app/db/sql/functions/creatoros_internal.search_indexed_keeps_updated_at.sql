-- Trigger function: clearing search_deferred is not an edit, so when nothing
-- else changed it puts updated_at (and with it a tree's ETag) back. Its
-- trigger, zz_contents_search_indexed_keeps_updated_at, fires after
-- set_updated_at()'s (BEFORE triggers fire in name order). Revision 0008.

CREATE OR REPLACE FUNCTION creatoros_internal.search_indexed_keeps_updated_at()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $fn$
DECLARE
    unedited public.contents := NEW;
BEGIN
    unedited.updated_at := OLD.updated_at;
    unedited.search_deferred := OLD.search_deferred;
    IF unedited IS NOT DISTINCT FROM OLD THEN
        NEW.updated_at := OLD.updated_at;
    END IF;
    RETURN NEW;
END
$fn$;

REVOKE ALL ON FUNCTION creatoros_internal.search_indexed_keeps_updated_at() FROM PUBLIC;
