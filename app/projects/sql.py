"""The SQL of projects that is not every table's (`app.db.rows.TableRows`):
the upsert by slug, in asyncpg's `$n` style."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from app.db.models import AudienceProfile, ContentProject, Mind
from app.db.rows import Reference

projects = cast(Table, ContentProject.__table__)

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
