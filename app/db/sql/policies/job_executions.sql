-- A generation job is visible through the contents it generated (the
-- contents' own policies decide which). Revision 0002.

ALTER TABLE public.job_executions ENABLE ROW LEVEL SECURITY;

CREATE POLICY job_executions_select_via_contents ON public.job_executions
    FOR SELECT TO authenticated
    USING (id IN (SELECT c.generation_execution_id FROM public.contents c
                  WHERE c.generation_execution_id IS NOT NULL));
