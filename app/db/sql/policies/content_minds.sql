-- Which minds a content names: visible with the content (the contents' read policies decide
-- which), written by the content's project creator. Revisions 0002 and 0004.

ALTER TABLE public.content_minds ENABLE ROW LEVEL SECURITY;

CREATE POLICY content_minds_select_visible ON public.content_minds
    FOR SELECT TO anon, authenticated
    USING (content_id IN (SELECT c.id FROM public.contents c));

CREATE POLICY content_minds_project_owner_insert ON public.content_minds
    FOR INSERT TO authenticated
    WITH CHECK (content_id IN (
        SELECT c.id FROM public.contents c
        WHERE c.project_id IN (SELECT p.id FROM public.content_projects p
                               WHERE p.creator_mind_id = (select public.current_mind_id()))));

CREATE POLICY content_minds_project_owner_update ON public.content_minds
    FOR UPDATE TO authenticated
    USING (content_id IN (
        SELECT c.id FROM public.contents c
        WHERE c.project_id IN (SELECT p.id FROM public.content_projects p
                               WHERE p.creator_mind_id = (select public.current_mind_id()))))
    WITH CHECK (content_id IN (
        SELECT c.id FROM public.contents c
        WHERE c.project_id IN (SELECT p.id FROM public.content_projects p
                               WHERE p.creator_mind_id = (select public.current_mind_id()))));

CREATE POLICY content_minds_project_owner_delete ON public.content_minds
    FOR DELETE TO authenticated
    USING (content_id IN (
        SELECT c.id FROM public.contents c
        WHERE c.project_id IN (SELECT p.id FROM public.content_projects p
                               WHERE p.creator_mind_id = (select public.current_mind_id()))));
