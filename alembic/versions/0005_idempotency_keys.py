"""Idempotency keys: a creating POST sent twice writes once.

A script that retries a POST after a timeout cannot know whether the first
attempt was written. It sends an `Idempotency-Key`; the service stores the
key with a hash of the request and, in the same transaction as the write,
the answer it gave. A repeat replays that answer instead of writing again
(app/idempotency.py). Keys belong to the caller (RLS, like every table the
API touches) and expire after 24 hours.

Revision ID: 0005_idempotency_keys
Revises: 0004_hardening
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import context, op

revision: str = "0005_idempotency_keys"
down_revision: str | None = "0004_hardening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The downgrade loses data when a key could still be replayed: one younger
# than its 24 h lifetime. Older rows are expired and worth nothing. Checked
# before anything changes by app/db/migrations.py (and again in downgrade()).
DATA_LOSS: str | None = (
    "EXISTS (SELECT FROM public.idempotency_keys WHERE created_at > now() - interval '24 hours')"
)

# Who a key belongs to: the token's user, or (a service token without a
# subject) its role. One definition, used by the default, the policy and the
# service's queries.
CALLER = """
CREATE OR REPLACE FUNCTION public.idempotency_caller() RETURNS text
LANGUAGE sql STABLE SET search_path = '' AS $fn$
    SELECT coalesce(auth.uid()::text, 'role:' || coalesce(auth.role(), 'anon'))
$fn$;
"""

TABLE = """
CREATE TABLE IF NOT EXISTS public.idempotency_keys (
    caller text NOT NULL DEFAULT public.idempotency_caller(),
    key text NOT NULL,
    request_hash text NOT NULL,
    status_code smallint,
    response_body jsonb,
    response_headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_idempotency_keys PRIMARY KEY (caller, key),
    CONSTRAINT ck_idempotency_keys_key_length CHECK (length(key) BETWEEN 1 AND 255)
);
"""

INDEX = (
    "CREATE INDEX IF NOT EXISTS idx_idempotency_keys_created_at"
    " ON public.idempotency_keys (created_at);"
)

POLICY = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_policies
                   WHERE schemaname = 'public' AND tablename = 'idempotency_keys'
                     AND policyname = 'idempotency_keys_own') THEN
        CREATE POLICY idempotency_keys_own ON public.idempotency_keys
            FOR ALL TO authenticated, service_role
            USING (caller = (select public.idempotency_caller()))
            WITH CHECK (caller = (select public.idempotency_caller()));
    END IF;
END
$$;
"""

GRANT = (
    "GRANT SELECT, INSERT, UPDATE, DELETE ON public.idempotency_keys"
    " TO authenticated, service_role;"
)

REFUSE_DATA_LOSS = f"""
DO $$
BEGIN
    IF ({DATA_LOSS}) THEN
        RAISE EXCEPTION 'refusing to drop idempotency_keys: it holds keys younger than 24 h'
            USING HINT = 'a script retrying now would write twice; wait a day, or pass '
                         '-x allow_data_loss=true (creatoros db downgrade --allow-data-loss)';
    END IF;
END
$$;
"""


def upgrade() -> None:
    op.execute(CALLER)
    op.execute(TABLE)
    op.execute(INDEX)
    op.execute("ALTER TABLE public.idempotency_keys ENABLE ROW LEVEL SECURITY;")
    op.execute(POLICY)
    op.execute(GRANT)


def downgrade() -> None:
    allow = context.get_x_argument(as_dictionary=True).get("allow_data_loss", "")
    if allow.lower() not in ("1", "true", "yes"):
        op.execute(REFUSE_DATA_LOSS)
    op.execute("DROP TABLE IF EXISTS public.idempotency_keys;")
    op.execute("DROP FUNCTION IF EXISTS public.idempotency_caller();")
