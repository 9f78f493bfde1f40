-- A project belongs to its creator (creator_mind_id): the creator reads and
-- writes it, its persona (persona_mind_id) reads it, and anon reads a project
-- that has a published content (a public course page). Revisions 0002, 0004.

ALTER TABLE public.content_projects ENABLE ROW LEVEL SECURITY;

CREATE POLICY content_projects_select ON public.content_projects
    FOR SELECT TO authenticated
    USING (creator_mind_id = (select public.current_mind_id()) OR persona_mind_id = (select public.current_mind_id()));

-- anon only: for authenticated it would read contents, whose policies read
-- content_projects, a recursion PostgreSQL refuses.
CREATE POLICY content_projects_public_select ON public.content_projects
    FOR SELECT TO anon
    USING (EXISTS (SELECT FROM public.contents c
                   WHERE c.project_id = content_projects.id
                     AND c.status = 'published' AND c.deleted_at IS NULL));

CREATE POLICY content_projects_creator_insert ON public.content_projects
    FOR INSERT TO authenticated
    WITH CHECK (creator_mind_id = (select public.current_mind_id()));

CREATE POLICY content_projects_creator_update ON public.content_projects
    FOR UPDATE TO authenticated
    USING (creator_mind_id = (select public.current_mind_id()))
    WITH CHECK (creator_mind_id = (select public.current_mind_id()));

CREATE POLICY content_projects_creator_delete ON public.content_projects
    FOR DELETE TO authenticated
    USING (creator_mind_id = (select public.current_mind_id()));
