-- A content's tags: visible with the content (the contents' read policies
-- decide which), written by the content's project creator
-- (creatoros_internal.writes_content). Revisions 0002, 0004, 0014 and 0015.
--
-- The read policy is correlated on the row's key: reading one content's tags
-- probes that content by its primary key (an uncorrelated `content_id IN
-- (SELECT c.id FROM contents c)` hashed every content the caller could see),
-- and PostgreSQL may still hash them once for a read of many rows (a list
-- filtered by a tag). Not a function like writes_content: that one would be
-- called and planned once per row read.

ALTER TABLE public.content_tags ENABLE ROW LEVEL SECURITY;

CREATE POLICY content_tags_select_visible ON public.content_tags
    FOR SELECT TO anon, authenticated
    USING (EXISTS (SELECT FROM public.contents c WHERE c.id = content_tags.content_id));

CREATE POLICY content_tags_project_owner_insert ON public.content_tags
    FOR INSERT TO authenticated
    WITH CHECK (creatoros_internal.writes_content(content_id));

CREATE POLICY content_tags_project_owner_update ON public.content_tags
    FOR UPDATE TO authenticated
    USING (creatoros_internal.writes_content(content_id))
    WITH CHECK (creatoros_internal.writes_content(content_id));

CREATE POLICY content_tags_project_owner_delete ON public.content_tags
    FOR DELETE TO authenticated
    USING (creatoros_internal.writes_content(content_id));
