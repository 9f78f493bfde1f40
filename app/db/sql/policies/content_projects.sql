-- A project belongs to its creator (creator_mind_id): the creator reads and
-- writes it; its persona (persona_mind_id) reads it only with consent (a
-- persona grant to the creator, see persona_grants.sql); everyone, anon
-- included, reads a project that has a published content (a public course
-- page; the API answers non-owners a public projection of it). A project may
-- name as persona only a mind that consents. Revisions 0002, 0004 and 0010.

ALTER TABLE public.content_projects ENABLE ROW LEVEL SECURITY;

-- creatoros_internal.project_is_public is SECURITY DEFINER: it reads
-- contents without their policies, which read content_projects (a recursion
-- PostgreSQL refuses).
CREATE POLICY content_projects_select ON public.content_projects
    FOR SELECT TO authenticated
    USING (creator_mind_id = (select public.current_mind_id())
           OR (persona_mind_id = (select public.current_mind_id())
               AND creatoros_internal.persona_consented(persona_mind_id, creator_mind_id))
           OR creatoros_internal.project_is_public(id));

CREATE POLICY content_projects_public_select ON public.content_projects
    FOR SELECT TO anon
    USING (creatoros_internal.project_is_public(id));

CREATE POLICY content_projects_creator_insert ON public.content_projects
    FOR INSERT TO authenticated
    WITH CHECK (creator_mind_id = (select public.current_mind_id())
                AND creatoros_internal.persona_consented(persona_mind_id, creator_mind_id));

CREATE POLICY content_projects_creator_update ON public.content_projects
    FOR UPDATE TO authenticated
    USING (creator_mind_id = (select public.current_mind_id()))
    WITH CHECK (creator_mind_id = (select public.current_mind_id())
                AND creatoros_internal.persona_consented(persona_mind_id, creator_mind_id));

CREATE POLICY content_projects_creator_delete ON public.content_projects
    FOR DELETE TO authenticated
    USING (creator_mind_id = (select public.current_mind_id()));
