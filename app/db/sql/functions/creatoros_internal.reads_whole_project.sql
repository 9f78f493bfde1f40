-- Whether the caller reads a project's whole row: its creator, or its
-- persona when it consented. Everyone else (anon included) gets the public
-- projection the API answers (app/projects/sql.py: project_metadata only
-- with the keys it lists in `public_keys`, no audience, no frameworks).
-- SECURITY DEFINER: anon may not read user_profiles (current_mind_id());
-- it only answers about the caller's own mind. Revision 0010.

CREATE OR REPLACE FUNCTION creatoros_internal.reads_whole_project(creator uuid, persona uuid)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = ''
AS $fn$
    SELECT coalesce((SELECT public.current_mind_id()) = creator
                    OR ((SELECT public.current_mind_id()) = persona
                        AND creatoros_internal.persona_consented(persona, creator)), false)
$fn$;

REVOKE ALL ON FUNCTION creatoros_internal.reads_whole_project(uuid, uuid) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION creatoros_internal.reads_whole_project(uuid, uuid)
    TO anon, authenticated, service_role;

COMMENT ON FUNCTION creatoros_internal.reads_whole_project(uuid, uuid) IS
    'creatoros: whether the caller reads a project''s whole row (its creator, or its'
    ' consenting persona); everyone else gets its public projection';
