-- A project's history (revision 0012): its creator reads it (creator_mind_id
-- is the project's creator when the revision was recorded); nobody writes it
-- but the revision trigger of contents (SECURITY DEFINER). anon has no grant:
-- revisions are never public, even of published contents.

ALTER TABLE public.content_history ENABLE ROW LEVEL SECURITY;

CREATE POLICY content_history_creator_select ON public.content_history
    FOR SELECT TO authenticated
    USING (creator_mind_id = (select public.current_mind_id()));
