-- A user reads only their own profile (which says which mind they are).
-- Revision 0002.

ALTER TABLE public.user_profiles ENABLE ROW LEVEL SECURITY;

CREATE POLICY user_profiles_select_own ON public.user_profiles
    FOR SELECT TO authenticated
    USING (id = (select auth.uid()));
