"""Projects in SQL. Row level security scopes every statement to the caller."""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, RowMapping, Table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import AudienceProfile, ContentProject, Mind
from app.db.rows import Row, TableRows, merge_patch, no_mind, require_visible
from app.db.tenancy import Reader
from app.http.problems import sqlstate_of
from app.projects.schemas import ProjectCreate, ProjectUpdate, ProjectUpsert

projects = cast(Table, ContentProject.__table__)
audiences = cast(Table, AudienceProfile.__table__)
minds = cast(Table, Mind.__table__)

# Visible but not writable: the caller is the project's persona.
ROWS = TableRows(projects, "project", "you can read this project but not change it")
project_not_found = ROWS.not_found


async def _check_references(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """The audience and the persona must be ones the caller can see (their
    own, or public): the foreign keys alone would accept another creator's
    private mind by its UUID, and tell that it exists."""
    await require_visible(
        conn, minds, values.get("persona_mind_id"), field="persona_mind_id", noun="mind"
    )
    await require_visible(
        conn, audiences, values.get("target_audience_id"),
        field="target_audience_id", noun="audience",
    )  # fmt: skip


async def create_project(conn: AsyncConnection, data: ProjectCreate) -> RowMapping:
    values = data.model_dump(mode="json")
    await _check_references(conn, values)
    return await ROWS.insert_owned(conn, values)


async def insert_under_project(
    conn: AsyncConnection, project_id: uuid.UUID, statement: Executable
) -> CursorResult[Any]:
    """Run an INSERT of rows that belong to a project (contents, market
    research). The policy refuses it when the project is not the caller's;
    a savepoint keeps the transaction usable so the refusal can be told
    apart: invisible → 404, as if it did not exist; visible (the caller is
    its persona) → 403."""
    try:
        async with conn.begin_nested():
            return await conn.execute(statement)
    except DBAPIError as exc:
        if sqlstate_of(exc) == "42501":
            raise await ROWS.refusal(conn, project_id) from exc
        raise


_UPSERT = text(
    """INSERT INTO content_projects AS p
           (slug, name, project_type, description, status, persona_mind_id,
            target_audience_id, project_metadata)
       VALUES (:slug, :name, :project_type, :description, coalesce(:status, 'planning'),
               :persona_mind_id, :target_audience_id, CAST(:project_metadata AS jsonb))
       ON CONFLICT (creator_mind_id, slug) DO UPDATE SET
           name = EXCLUDED.name,
           project_type = EXCLUDED.project_type,
           description = EXCLUDED.description,
           status = coalesce(:status, p.status),
           persona_mind_id = EXCLUDED.persona_mind_id,
           target_audience_id = EXCLUDED.target_audience_id,
           project_metadata = jsonb_merge_patch(p.project_metadata, EXCLUDED.project_metadata)
       -- A re-run that changes nothing writes nothing: updated_at (and so the
       -- tree's ETag, which carries the project) stays as it was.
       WHERE (p.name, p.project_type, p.description, p.status, p.persona_mind_id,
              p.target_audience_id, p.project_metadata)
             IS DISTINCT FROM
             (EXCLUDED.name, EXCLUDED.project_type, EXCLUDED.description,
              coalesce(:status, p.status), EXCLUDED.persona_mind_id,
              EXCLUDED.target_audience_id,
              jsonb_merge_patch(p.project_metadata, EXCLUDED.project_metadata))
       RETURNING p.*, (xmax = 0) AS inserted"""
)
# The unchanged row, when the upsert above left it alone (and so returned nothing).
_UNCHANGED = text(
    "SELECT p.*, false AS inserted FROM content_projects p"
    " WHERE p.slug = :slug AND p.creator_mind_id = (select current_mind_id())"
)


async def upsert_project(
    conn: AsyncConnection, slug: str, data: ProjectUpsert
) -> tuple[RowMapping, bool]:
    """Create the caller's project `slug`, or update it in place (same id):
    one statement, so retries and concurrent runs never duplicate it."""
    params = data.model_dump(mode="json")
    await _check_references(conn, params)
    params["project_metadata"] = json.dumps(params["project_metadata"])
    try:
        result = await conn.execute(_UPSERT, {"slug": slug, **params})
    except DBAPIError as exc:
        if sqlstate_of(exc) == "42501":
            raise no_mind("projects") from exc
        raise
    found = result.mappings().one_or_none()
    if found is None:
        found = (await conn.execute(_UNCHANGED, {"slug": slug})).mappings().one()
    row = dict(found)
    inserted = bool(row.pop("inserted"))
    return cast(RowMapping, row), inserted


get_project = ROWS.get
require_project = ROWS.require


async def list_projects(
    conn: Reader, *, filters: dict[str, Any], limit: int, cursor: str | None
) -> tuple[list[Row], str | None]:
    return await ROWS.page(conn, filters=filters, limit=limit, cursor=cursor)


async def update_project(conn: AsyncConnection, project_id: uuid.UUID, data: ProjectUpdate) -> Row:
    values: dict[str, Any] = data.model_dump(mode="json", exclude_unset=True)
    await _check_references(conn, values)
    if "project_metadata" in values:
        values["project_metadata"] = merge_patch(
            projects.c.project_metadata, values["project_metadata"]
        )
    return await ROWS.update(conn, project_id, values)


async def delete_project(conn: AsyncConnection, project_id: uuid.UUID) -> None:
    """Deletes its market research too; its contents stay, detached."""
    await ROWS.delete(conn, project_id)
