-- Whether a project holds a published (live) content: a public course page,
-- which anon and every signed-in caller may read. SECURITY DEFINER with an
-- empty search_path: the projects' read policies ask it, and reading
-- contents under their own policies (which read content_projects) would be a
-- recursion PostgreSQL refuses. It answers no more than anon's reads do.
-- One probe of idx_contents_published_project. Revision 0010.

CREATE OR REPLACE FUNCTION creatoros_internal.project_is_public(project uuid)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = ''
AS $fn$
    SELECT EXISTS (SELECT FROM public.contents c
                   WHERE c.project_id = project
                     AND c.status = 'published' AND c.deleted_at IS NULL)
$fn$;

REVOKE ALL ON FUNCTION creatoros_internal.project_is_public(uuid) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION creatoros_internal.project_is_public(uuid)
    TO anon, authenticated, service_role;

COMMENT ON FUNCTION creatoros_internal.project_is_public(uuid) IS
    'creatoros: whether a project holds a published content (a public course page);'
    ' SECURITY DEFINER so that the projects'' read policy does not recurse through contents';
