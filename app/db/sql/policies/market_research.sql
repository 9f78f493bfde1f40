-- Market research belongs to its project's creator, who reads and writes
-- it; the project's persona reads it when it consented (a persona grant to
-- the creator). Revisions 0002, 0004 and 0010.

ALTER TABLE public.market_research ENABLE ROW LEVEL SECURITY;

CREATE POLICY market_research_select ON public.market_research
    FOR SELECT TO authenticated
    USING (project_id IN (SELECT p.id FROM public.content_projects p
                          WHERE p.creator_mind_id = (select public.current_mind_id()))
           OR project_id IN (SELECT p.id FROM public.content_projects p
                             WHERE p.persona_mind_id = (select public.current_mind_id())
                               AND creatoros_internal.persona_consented(p.persona_mind_id, p.creator_mind_id)));

CREATE POLICY market_research_project_owner_insert ON public.market_research
    FOR INSERT TO authenticated
    WITH CHECK (project_id IN (SELECT p.id FROM public.content_projects p
                               WHERE p.creator_mind_id = (select public.current_mind_id())));

CREATE POLICY market_research_project_owner_update ON public.market_research
    FOR UPDATE TO authenticated
    USING (project_id IN (SELECT p.id FROM public.content_projects p
                          WHERE p.creator_mind_id = (select public.current_mind_id())))
    WITH CHECK (project_id IN (SELECT p.id FROM public.content_projects p
                               WHERE p.creator_mind_id = (select public.current_mind_id())));

CREATE POLICY market_research_project_owner_delete ON public.market_research
    FOR DELETE TO authenticated
    USING (project_id IN (SELECT p.id FROM public.content_projects p
                          WHERE p.creator_mind_id = (select public.current_mind_id())));
