-- A generation job is visible through the contents it generated (the
-- contents' own policies decide which): creatoros_internal.reads_job_execution
-- probes them by the job's id. Revisions 0002 and 0015.

ALTER TABLE public.job_executions ENABLE ROW LEVEL SECURITY;

CREATE POLICY job_executions_select_via_contents ON public.job_executions
    FOR SELECT TO authenticated
    USING (creatoros_internal.reads_job_execution(id));
