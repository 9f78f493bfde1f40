-- The Alembic revision, for /readyz: alembic_version itself is closed to the
-- API roles (RLS on, no policy), so the login role reads it through this
-- SECURITY DEFINER function, which only it may execute. Revision 0004.

CREATE OR REPLACE FUNCTION public.creatoros_schema_revision() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $fn$
        SELECT string_agg(version_num, ',' ORDER BY version_num) FROM public.alembic_version
    $fn$;

COMMENT ON FUNCTION public.creatoros_schema_revision() IS
    'The Alembic revision, for the service''s readiness check: '
    'alembic_version itself is closed to the API roles.';

REVOKE ALL ON FUNCTION public.creatoros_schema_revision()
    FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION public.creatoros_schema_revision() TO authenticator;
