-- Trigger function: a row's updated_at is the time of its last UPDATE.
-- Production's baseline (revision 0001 creates it only where missing);
-- revision 0004 fixed its search_path (empty: its body names no table).

CREATE OR REPLACE FUNCTION public.set_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $fn$
        BEGIN
            NEW.updated_at := now();
            RETURN NEW;
        END
        $fn$;

-- Marks what revision 0001 created on an empty database (its downgrade
-- drops only those); production's own function has no such comment.
COMMENT ON FUNCTION public.set_updated_at() IS 'creatoros:baseline';
