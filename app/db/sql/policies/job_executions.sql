-- A generation job is visible through the contents it generated (the
-- contents' own policies decide which), probed by the job's id through
-- idx_contents_generation_execution_id (an uncorrelated `id IN (SELECT
-- c.generation_execution_id FROM contents c ...)` hashed those of every
-- content the caller could see). Revisions 0002 and 0015.

ALTER TABLE public.job_executions ENABLE ROW LEVEL SECURITY;

CREATE POLICY job_executions_select_via_contents ON public.job_executions
    FOR SELECT TO authenticated
    USING (EXISTS (SELECT FROM public.contents c
                   WHERE c.generation_execution_id = job_executions.id));
