-- An idempotency key belongs to its caller (public.idempotency_caller():
-- the token's user, or a subjectless service token's role). Revision 0005.

ALTER TABLE public.idempotency_keys ENABLE ROW LEVEL SECURITY;

CREATE POLICY idempotency_keys_own ON public.idempotency_keys
    FOR ALL TO authenticated, service_role
    USING (caller = (select public.idempotency_caller()))
    WITH CHECK (caller = (select public.idempotency_caller()));
