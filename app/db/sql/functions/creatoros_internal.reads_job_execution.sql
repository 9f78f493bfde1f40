-- Whether the caller reads a generation job: it reads a content the job
-- generated (under the contents' own read policies). job_executions' read
-- policy asks it, once per row read: a probe of
-- idx_contents_generation_execution_id by the job's id, where its subquery
-- used to hash the generation_execution_id of every content the caller can
-- see. SECURITY INVOKER: it reads contents as the caller, as that subquery
-- did. Revision 0015.

CREATE OR REPLACE FUNCTION creatoros_internal.reads_job_execution(target uuid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = ''
AS $fn$
    SELECT EXISTS (SELECT FROM public.contents c WHERE c.generation_execution_id = target)
$fn$;

REVOKE ALL ON FUNCTION creatoros_internal.reads_job_execution(uuid) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION creatoros_internal.reads_job_execution(uuid)
    TO authenticated, service_role;

COMMENT ON FUNCTION creatoros_internal.reads_job_execution(uuid) IS
    'creatoros: whether the caller reads a generation job:'
    ' it reads a content the job generated; as the caller';
