"""Every listed table's page order is indexed: (created_at, id).

`GET /v1/projects`, `/v1/contents`, `/v1/audiences`, `/v1/frameworks`,
`/v1/research` and `/v1/me/grants` answer a page in (created_at, id) order
after a keyset cursor (app.db.rows.TableRows.page). No index held that
order, so each page read every row of the table the caller could see,
asked row level security of each (for projects two SECURITY DEFINER calls,
~60 µs each), and sorted them to keep 51: a signed-in creator's first page
of projects took 13 ms of PostgreSQL with 1,000 public projects, and grew
with everyone's projects. With the index a page walks the order and stops
once full (5.8 ms there; `python -m bench --only project_list` at full
scale: 6.55 -> 3.80 ms of PostgreSQL CPU per request).

`contents` is indexed in page order within a project, (project_id,
created_at, id), for the list of a project's contents, the one scripts and
the frontend ask. Not across the whole table: there a plan made without
knowing a filter's value (asyncpg prepares; after five runs PostgreSQL may
keep such a generic plan) walked every visible content in page order to
find a small project's two rows or a rare tag's one (4,002 rows read,
tests/test_page_order.py). An unfiltered list of contents still sorts every
visible content.

What still walks: rows the caller may not see, between the ones it may
(another tenant's private projects created in between); a page costs the
rows it passes, no longer the whole table.

Built CONCURRENTLY, outside a transaction, so a big `contents` stays
writable; a failed build's INVALID index is dropped first, so a re-run
builds it again. `contents`' index leaves deleted rows out, as every list
does.

Revision ID: 0016_page_order
Revises: 0015_read_policies
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016_page_order"
down_revision: str | None = "0015_read_policies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Undoing this revision drops indexes and no data (see app/db/migrations.py).
DATA_LOSS: str | None = None

# (index, table, its columns, predicate or None)
INDEXES: list[tuple[str, str, str, str | None]] = [
    ("idx_content_projects_page_order", "content_projects", "created_at, id", None),
    (
        "idx_contents_project_id_page_order",
        "contents",
        "project_id, created_at, id",
        "deleted_at IS NULL",
    ),
    ("idx_content_frameworks_page_order", "content_frameworks", "created_at, id", None),
    ("idx_audience_profiles_page_order", "audience_profiles", "created_at, id", None),
    ("idx_market_research_page_order", "market_research", "created_at, id", None),
    ("idx_persona_grants_page_order", "persona_grants", "created_at, id", None),
]


def _drop_invalid_index(name: str) -> str:
    """A CONCURRENTLY build that failed leaves an INVALID index that
    IF NOT EXISTS would then skip: drop it, so a re-run builds it again."""
    return f"""
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relname = '{name}' AND NOT i.indisvalid) THEN
        DROP INDEX public.{name};
    END IF;
END
$$;
"""


def _create(name: str, table: str, columns: str, predicate: str | None) -> str:
    where = f" WHERE {predicate}" if predicate else ""
    return (
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name}"
        f" ON public.{table} USING btree ({columns}){where}"
    )


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for name, table, columns, predicate in INDEXES:
            op.execute(_drop_invalid_index(name))
            op.execute(_create(name, table, columns, predicate))


def downgrade() -> None:
    for name, _table, _columns, _predicate in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS public.{name}")
