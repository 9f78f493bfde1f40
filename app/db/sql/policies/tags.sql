-- Tags are a shared vocabulary: everyone reads it; only a user with a mind
-- (a creator) adds to it. Revisions 0002 and 0004.

ALTER TABLE public.tags ENABLE ROW LEVEL SECURITY;

CREATE POLICY tags_select_all ON public.tags
    FOR SELECT TO anon, authenticated
    USING (true);

CREATE POLICY tags_insert_with_mind ON public.tags
    FOR INSERT TO authenticated
    WITH CHECK ((select public.current_mind_id()) IS NOT NULL);
