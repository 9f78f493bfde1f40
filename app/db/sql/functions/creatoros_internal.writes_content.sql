-- Whether the caller writes what hangs off a content (its minds, its tags):
-- the content is one of a project the caller created. The write policies
-- of content_minds and content_tags ask it (INSERT, UPDATE, DELETE), once
-- per written row: a probe of the content by its key, where their shared
-- subquery used to hash every content the caller can see. SECURITY
-- INVOKER: it reads contents and content_projects under the caller's own
-- policies, as that subquery did. Revision 0014.

CREATE OR REPLACE FUNCTION creatoros_internal.writes_content(target uuid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = ''
AS $fn$
    SELECT EXISTS (SELECT FROM public.contents c
                   WHERE c.id = target
                     AND c.project_id IN (SELECT p.id FROM public.content_projects p
                                          WHERE p.creator_mind_id = (SELECT public.current_mind_id())))
$fn$;

REVOKE ALL ON FUNCTION creatoros_internal.writes_content(uuid) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION creatoros_internal.writes_content(uuid)
    TO authenticated, service_role;

COMMENT ON FUNCTION creatoros_internal.writes_content(uuid) IS
    'creatoros: whether the caller writes what hangs off a content (its minds, its tags):'
    ' the content is one of a project it created; as the caller';
