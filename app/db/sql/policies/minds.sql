-- Minds: a public mind is visible to every signed-in user, a private one to
-- itself; a mind edits only itself (and only the columns granted in 0002).
-- Revision 0002.

ALTER TABLE public.minds ENABLE ROW LEVEL SECURITY;

CREATE POLICY minds_select_visible ON public.minds
    FOR SELECT TO authenticated
    USING (privacy_level = 'public' OR id = (select public.current_mind_id()));

CREATE POLICY minds_update_own ON public.minds
    FOR UPDATE TO authenticated
    USING (id = (select public.current_mind_id()))
    WITH CHECK (id = (select public.current_mind_id()));
