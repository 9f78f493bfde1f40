"""Search index merge after a big write: a tree write no longer merges the
full-text index's pending list inside its own transaction.

The search index (`idx_contents_search_document`, 0007) is a GIN index with
`fastupdate` on (PostgreSQL's default): a new row's entries are appended to
the index's pending list, and the writer whose insert takes that list past
`gin_pending_list_limit` (4 MB) merges all of it into the index tree, in its
own transaction. A 5,000-node course of 1 KB bodies makes ~400,000 entries
(~80 distinct words a body): its `PUT …/tree` crossed the limit several
times and merged each time. Measured (embedded PostgreSQL 18, the app's own
statement, backend CPU, medians of 4 interleaved runs): the write's
PostgreSQL CPU 1,325 ms merging as it goes, 990 ms with the merge left out
of it, and the merge of its whole pending list afterwards, at once, 200 ms —
one merge of everything costs less than the several along the way.

So the tree write (`app.trees.service`), when its text is large enough to
fill a good part of the pending list, raises `gin_pending_list_limit` for
its own transaction only (`SET LOCAL`): its entries stay in the pending list,
nothing is merged while the caller waits. Right after the response, the
service merges the list with this function, in a transaction of its own
through the same tenant door. The index is never inconsistent: a search
reads the pending list as well as the tree (it costs a search ~6 ms more
while a 5,000-node write's entries wait there, ~0.2 s; at 4 MB, today's
limit, a search already scans up to ~2,500 rows' entries). Should the merge
not happen (the process dies), the next writer crossing 4 MB, or VACUUM
(autovacuum's insert threshold), merges as before.

`creatoros_internal.merge_search_pending()` (SECURITY DEFINER:
`gin_clean_pending_list` needs the index's owner; in `creatoros_internal`,
which Supabase does not expose as RPC) merges this one index's pending list
and returns the number of pages it emptied. Nothing else: no argument, so a
caller can only cause work PostgreSQL would do anyway.

No index or table changes; the downgrade drops the function. It loses no
data.

Revision ID: 0008_search_pending_merge
Revises: 0007_search_marks
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_search_pending_merge"
down_revision: str | None = "0007_search_marks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Checked before a downgrade runs (see app/migrations.py): this one drops
# only a function.
DATA_LOSS: str | None = None

SIGNATURE = "creatoros_internal.merge_search_pending()"

MERGE_FUNCTION = """
CREATE OR REPLACE FUNCTION creatoros_internal.merge_search_pending()
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = ''
AS $fn$
    SELECT pg_catalog.gin_clean_pending_list('public.idx_contents_search_document'::regclass)
$fn$;
"""

GRANTS = [
    f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC;",
    f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO authenticated, service_role;",
    f"COMMENT ON FUNCTION {SIGNATURE} IS"
    " 'creatoros: merge the search index''s pending list (run after a big tree write,"
    " which leaves its entries there instead of merging while its caller waits)';",
]


def upgrade() -> None:
    op.execute(MERGE_FUNCTION)
    for statement in GRANTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE};")
