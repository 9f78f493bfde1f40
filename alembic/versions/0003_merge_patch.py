"""JSON Merge Patch in the database, for atomic `metadata` updates.

`jsonb_merge_patch(target, patch)` applies RFC 7386: objects merge
recursively, `null` deletes a key, anything else replaces. The API updates
`metadata = jsonb_merge_patch(metadata, :patch)` in one statement, so two
concurrent PATCHes each keep the other's keys (the row lock orders them);
reading, merging in Python and writing back lost them.

Revision ID: 0003_merge_patch
Revises: 0002_tenancy_rls
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003_merge_patch"
down_revision: str | None = "0002_tenancy_rls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Undoing this revision drops a function and no data (see app/db/migrations.py).
DATA_LOSS: str | None = None

MERGE_PATCH = """
DO $$
BEGIN
    IF to_regprocedure('public.jsonb_merge_patch(jsonb, jsonb)') IS NULL THEN
        CREATE FUNCTION public.jsonb_merge_patch(target jsonb, patch jsonb)
        RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $fn$
        DECLARE
            merged jsonb;
            key text;
            value jsonb;
        BEGIN
            IF patch IS NULL OR jsonb_typeof(patch) <> 'object' THEN
                RETURN patch;
            END IF;
            merged := CASE WHEN jsonb_typeof(target) = 'object' THEN target
                           ELSE '{}'::jsonb END;
            FOR key, value IN SELECT * FROM jsonb_each(patch) LOOP
                IF jsonb_typeof(value) = 'null' THEN
                    merged := merged - key;
                ELSE
                    merged := merged || jsonb_build_object(
                        key, public.jsonb_merge_patch(merged -> key, value));
                END IF;
            END LOOP;
            RETURN merged;
        END
        $fn$;
    END IF;
END
$$;
"""


def upgrade() -> None:
    op.execute(MERGE_PATCH)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS public.jsonb_merge_patch(jsonb, jsonb);")
