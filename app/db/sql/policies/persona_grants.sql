-- Persona grants: the owner of a mind lets another mind (the grantee) name it
-- as the persona of the grantee's projects. The owner and the grantee see a
-- grant; only the owner gives or revokes it. Revision 0010.

ALTER TABLE public.persona_grants ENABLE ROW LEVEL SECURITY;

CREATE POLICY persona_grants_select ON public.persona_grants
    FOR SELECT TO authenticated
    USING (owner_mind_id = (select public.current_mind_id())
           OR grantee_mind_id = (select public.current_mind_id()));

CREATE POLICY persona_grants_owner_insert ON public.persona_grants
    FOR INSERT TO authenticated
    WITH CHECK (owner_mind_id = (select public.current_mind_id()));

CREATE POLICY persona_grants_owner_delete ON public.persona_grants
    FOR DELETE TO authenticated
    USING (owner_mind_id = (select public.current_mind_id()));
