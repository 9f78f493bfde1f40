"""The SQL of projects that is not every table's (`app.db.rows.TableRows`):
the upsert by slug, in asyncpg's `$n` style."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import ColumnElement, Table, case, func, literal_column, null, select

from app.db.models import AudienceProfile, ContentProject, Mind
from app.db.rows import Reference
from app.projects.schemas import Project

projects = cast(Table, ContentProject.__table__)

# Who reads a project's whole row: its creator, and its persona when it
# consented (the database decides: creatoros_internal.reads_whole_project,
# migration 0010). Everyone else row level security lets read it (anon, or
# another creator, on a public course page) reads its public projection: no
# audience (another creator's private row), no default frameworks, and of
# `project_metadata` (persona notes, curriculum, …) only the keys its creator
# lists in the array `project_metadata.public_keys`.
# Asked once per row (a LATERAL the projected columns share: each call of a
# SECURITY DEFINER function costs ~60 µs, it is never inlined).
WHOLE = (
    select(
        func.creatoros_internal.reads_whole_project(
            projects.c.creator_mind_id, projects.c.persona_mind_id
        ).label("whole")
    )
    .correlate(projects)
    .lateral("reader")
    .c.whole
)
PUBLIC_METADATA: ColumnElement[Any] = literal_column(
    "coalesce((SELECT jsonb_object_agg(k.key, k.value)"
    " FROM jsonb_each(content_projects.project_metadata) k"
    " WHERE jsonb_typeof(content_projects.project_metadata -> 'public_keys') = 'array'"
    " AND content_projects.project_metadata -> 'public_keys' ? k.key), '{}'::jsonb)"
)
PUBLIC_VALUES: dict[str, ColumnElement[Any]] = {
    "project_metadata": PUBLIC_METADATA,
    "target_audience_id": null(),
    "default_frameworks": null(),
}


def _as_read(name: str) -> ColumnElement[Any]:
    column = projects.c[name]
    public = PUBLIC_VALUES.get(name)
    return column if public is None else case((WHOLE, column), else_=public).label(name)


# What every read of a project selects (`Project`'s fields, in its order).
COLUMNS = [_as_read(name) for name in Project.model_fields]

# Whether the caller has a mind (a project write the policy refused: no mind
# to own it, or a persona that has not consented).
HAS_MIND = "SELECT public.current_mind_id() IS NOT NULL"

# The audience and the persona must be ones the caller can see (their own,
# or public): the foreign keys alone would accept another creator's private
# mind by its UUID, and tell that it exists.
REFERENCES = (
    Reference(cast(Table, Mind.__table__), "persona_mind_id", "mind"),
    Reference(cast(Table, AudienceProfile.__table__), "target_audience_id", "audience"),
)

# $1 slug, $2 name, $3 project_type, $4 description, $5 status (NULL keeps
# it, or 'planning' for a new one), $6 persona_mind_id, $7 target_audience_id,
# $8 project_metadata (JSON text, merged into the stored one).
UPSERT = """INSERT INTO content_projects AS p
           (slug, name, project_type, description, status, persona_mind_id,
            target_audience_id, project_metadata)
       VALUES ($1, $2, $3, $4, coalesce($5, 'planning'),
               $6, $7, CAST($8 AS jsonb))
       ON CONFLICT (creator_mind_id, slug) DO UPDATE SET
           name = EXCLUDED.name,
           project_type = EXCLUDED.project_type,
           description = EXCLUDED.description,
           status = coalesce($5, p.status),
           persona_mind_id = EXCLUDED.persona_mind_id,
           target_audience_id = EXCLUDED.target_audience_id,
           project_metadata = jsonb_merge_patch(p.project_metadata, EXCLUDED.project_metadata)
       -- A re-run that changes nothing writes nothing: updated_at (and so the
       -- tree's ETag, which carries the project) stays as it was.
       WHERE (p.name, p.project_type, p.description, p.status, p.persona_mind_id,
              p.target_audience_id, p.project_metadata)
             IS DISTINCT FROM
             (EXCLUDED.name, EXCLUDED.project_type, EXCLUDED.description,
              coalesce($5, p.status), EXCLUDED.persona_mind_id,
              EXCLUDED.target_audience_id,
              jsonb_merge_patch(p.project_metadata, EXCLUDED.project_metadata))
       RETURNING p.*, (xmax = 0) AS inserted"""

# The unchanged row, when the upsert above left it alone (and so returned
# nothing). $1 slug.
UNCHANGED = (
    "SELECT p.*, false AS inserted FROM content_projects p"
    " WHERE p.slug = $1 AND p.creator_mind_id = (select current_mind_id())"
)
