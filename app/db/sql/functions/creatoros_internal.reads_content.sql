-- Whether the caller reads what hangs off a content (its minds, its tags):
-- it reads the content itself, under the contents' own read policies (anon:
-- published and live; a creator: also its own, deleted ones included; a
-- persona: its consenting creators'). The read policies of content_minds
-- and content_tags ask it, once per row read: a probe of the content by its
-- key, where their subquery (`content_id IN (SELECT c.id FROM contents c)`)
-- used to hash every content the caller can see, whatever anyone had
-- published. SECURITY INVOKER: it reads contents as the caller, as that
-- subquery did. Revision 0015.

CREATE OR REPLACE FUNCTION creatoros_internal.reads_content(target uuid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = ''
AS $fn$
    SELECT EXISTS (SELECT FROM public.contents c WHERE c.id = target)
$fn$;

REVOKE ALL ON FUNCTION creatoros_internal.reads_content(uuid) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION creatoros_internal.reads_content(uuid)
    TO anon, authenticated, service_role;

COMMENT ON FUNCTION creatoros_internal.reads_content(uuid) IS
    'creatoros: whether the caller reads what hangs off a content (its minds, its tags):'
    ' it reads the content; as the caller';
