-- The caller's mind: the one the token's user (auth.uid()) belongs to. Every
-- row level security policy asks it, as `(select public.current_mind_id())`
-- so that it runs once per statement, not once per row.
-- Production's baseline (revision 0001 creates it only where missing);
-- revision 0004 fixed its search_path (empty: its body names every schema).

CREATE OR REPLACE FUNCTION public.current_mind_id() RETURNS uuid
LANGUAGE sql STABLE
SET search_path = ''
AS $fn$
            SELECT mind_id FROM public.user_profiles WHERE id = auth.uid()
        $fn$;

-- Marks what revision 0001 created on an empty database (its downgrade
-- drops only those); production's own function has no such comment.
COMMENT ON FUNCTION public.current_mind_id() IS 'creatoros:baseline';
