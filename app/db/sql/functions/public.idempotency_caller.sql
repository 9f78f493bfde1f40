-- Who an Idempotency-Key belongs to: the token's user, or (a service token
-- without a subject) its role. The default of idempotency_keys.caller, its
-- policy and the service's queries all use it. Revision 0005.

CREATE OR REPLACE FUNCTION public.idempotency_caller() RETURNS text
LANGUAGE sql STABLE SET search_path = '' AS $fn$
    SELECT coalesce(auth.uid()::text, 'role:' || coalesce(auth.role(), 'anon'))
$fn$;
