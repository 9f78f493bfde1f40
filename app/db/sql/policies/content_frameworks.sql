-- A framework without an owner is global (everyone signed in reads it); one
-- with an owner is that mind's, who alone reads and writes it. Revisions
-- 0002 and 0004.

ALTER TABLE public.content_frameworks ENABLE ROW LEVEL SECURITY;

CREATE POLICY content_frameworks_select_global_or_own ON public.content_frameworks
    FOR SELECT TO authenticated
    USING (owner_mind_id IS NULL OR owner_mind_id = (select public.current_mind_id()));

CREATE POLICY content_frameworks_owner_insert ON public.content_frameworks
    FOR INSERT TO authenticated
    WITH CHECK (owner_mind_id = (select public.current_mind_id()));

CREATE POLICY content_frameworks_owner_update ON public.content_frameworks
    FOR UPDATE TO authenticated
    USING (owner_mind_id = (select public.current_mind_id()))
    WITH CHECK (owner_mind_id = (select public.current_mind_id()));

CREATE POLICY content_frameworks_owner_delete ON public.content_frameworks
    FOR DELETE TO authenticated
    USING (owner_mind_id = (select public.current_mind_id()));
