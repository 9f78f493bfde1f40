-- The persona rule, in one place: a project of `creator` may name `persona`
-- when it names none, names the creator's own mind, or the persona's owner
-- granted it to the creator (public.persona_grants). SECURITY INVOKER: only
-- the grants the caller may see count (its own and those given to it), so it
-- tells nobody about other minds' grants. The projects' write and read
-- policies, the contents' and market research's read policies and
-- creatoros_internal.search_page ask it. Revision 0010.

CREATE OR REPLACE FUNCTION creatoros_internal.persona_consented(persona uuid, creator uuid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = ''
AS $fn$
    SELECT persona IS NULL OR persona = creator
        OR EXISTS (SELECT FROM public.persona_grants g
                   WHERE g.owner_mind_id = persona AND g.grantee_mind_id = creator)
$fn$;

REVOKE ALL ON FUNCTION creatoros_internal.persona_consented(uuid, uuid) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION creatoros_internal.persona_consented(uuid, uuid)
    TO authenticated, service_role;

COMMENT ON FUNCTION creatoros_internal.persona_consented(uuid, uuid) IS
    'creatoros: whether a project of creator may name persona (none, its own mind,'
    ' or a grant from persona to creator); as the caller: only grants it may see count';
