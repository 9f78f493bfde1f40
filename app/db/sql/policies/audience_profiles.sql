-- An audience profile belongs to its owner, who alone reads and writes it.
-- Revision 0002.

ALTER TABLE public.audience_profiles ENABLE ROW LEVEL SECURITY;

CREATE POLICY audience_profiles_owner_all ON public.audience_profiles
    FOR ALL TO authenticated
    USING (owner_mind_id = (select public.current_mind_id()))
    WITH CHECK (owner_mind_id = (select public.current_mind_id()));
