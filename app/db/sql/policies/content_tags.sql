-- A content's tags: visible with the content (the contents' read policies
-- decide which: creatoros_internal.reads_content probes it by key), written
-- by the content's project creator (creatoros_internal.writes_content).
-- Revisions 0002, 0004, 0014 and 0015.

ALTER TABLE public.content_tags ENABLE ROW LEVEL SECURITY;

CREATE POLICY content_tags_select_visible ON public.content_tags
    FOR SELECT TO anon, authenticated
    USING (creatoros_internal.reads_content(content_id));

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
