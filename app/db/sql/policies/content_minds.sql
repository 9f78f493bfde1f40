-- Which minds a content names: visible with the content (the contents' read
-- policies decide which), written by the content's project creator
-- (creatoros_internal.writes_content). Revisions 0002, 0004, 0014 and 0015.
--
-- The read policy is correlated on the row's key: reading one content's
-- minds probes that content by its primary key (an uncorrelated `content_id
-- IN (SELECT c.id FROM contents c)` hashed every content the caller could
-- see). See content_tags.sql.

ALTER TABLE public.content_minds ENABLE ROW LEVEL SECURITY;

CREATE POLICY content_minds_select_visible ON public.content_minds
    FOR SELECT TO anon, authenticated
    USING (EXISTS (SELECT FROM public.contents c WHERE c.id = content_minds.content_id));

CREATE POLICY content_minds_project_owner_insert ON public.content_minds
    FOR INSERT TO authenticated
    WITH CHECK (creatoros_internal.writes_content(content_id));

CREATE POLICY content_minds_project_owner_update ON public.content_minds
    FOR UPDATE TO authenticated
    USING (creatoros_internal.writes_content(content_id))
    WITH CHECK (creatoros_internal.writes_content(content_id));

CREATE POLICY content_minds_project_owner_delete ON public.content_minds
    FOR DELETE TO authenticated
    USING (creatoros_internal.writes_content(content_id));
