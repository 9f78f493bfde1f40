-- RFC 7386 JSON Merge Patch: objects merge recursively, null deletes a key,
-- anything else replaces. The API updates `metadata = jsonb_merge_patch(
-- metadata, :patch)` in one statement, so concurrent PATCHes keep each
-- other's keys. Revision 0003; revision 0004 fixed its search_path.

CREATE OR REPLACE FUNCTION public.jsonb_merge_patch(target jsonb, patch jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = ''
AS $fn$
        DECLARE
            merged jsonb;
            key text;
            value jsonb;
        BEGIN
            IF patch IS NULL OR jsonb_typeof(patch) <> 'object' THEN
                RETURN patch;
            END IF;
            merged := CASE WHEN jsonb_typeof(target) = 'object' THEN target
                           ELSE '{}'::jsonb END;
            FOR key, value IN SELECT * FROM jsonb_each(patch) LOOP
                IF jsonb_typeof(value) = 'null' THEN
                    merged := merged - key;
                ELSE
                    merged := merged || jsonb_build_object(
                        key, public.jsonb_merge_patch(merged -> key, value));
                END IF;
            END LOOP;
            RETURN merged;
        END
        $fn$;
