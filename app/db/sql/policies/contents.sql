-- A content belongs to its project's creator, who reads and writes it; the
-- project's persona reads it when it consented (a persona grant to the
-- creator); everyone reads it once published (and not deleted). Revisions
-- 0002, 0004 and 0010.

ALTER TABLE public.contents ENABLE ROW LEVEL SECURITY;

CREATE POLICY contents_select ON public.contents
    FOR SELECT TO authenticated
    USING (project_id IN (SELECT p.id FROM public.content_projects p
                          WHERE p.creator_mind_id = (select public.current_mind_id()))
           OR project_id IN (SELECT p.id FROM public.content_projects p
                             WHERE p.persona_mind_id = (select public.current_mind_id())
                               AND creatoros_internal.persona_consented(p.persona_mind_id, p.creator_mind_id))
           OR (status = 'published' AND deleted_at IS NULL));

CREATE POLICY contents_public_select ON public.contents
    FOR SELECT TO anon
    USING (status = 'published' AND deleted_at IS NULL);

CREATE POLICY contents_project_owner_insert ON public.contents
    FOR INSERT TO authenticated
    WITH CHECK (project_id IN (SELECT p.id FROM public.content_projects p
                               WHERE p.creator_mind_id = (select public.current_mind_id())));

CREATE POLICY contents_project_owner_update ON public.contents
    FOR UPDATE TO authenticated
    USING (project_id IN (SELECT p.id FROM public.content_projects p
                          WHERE p.creator_mind_id = (select public.current_mind_id())))
    WITH CHECK (project_id IN (SELECT p.id FROM public.content_projects p
                               WHERE p.creator_mind_id = (select public.current_mind_id())));

CREATE POLICY contents_project_owner_delete ON public.contents
    FOR DELETE TO authenticated
    USING (project_id IN (SELECT p.id FROM public.content_projects p
                          WHERE p.creator_mind_id = (select public.current_mind_id())));
