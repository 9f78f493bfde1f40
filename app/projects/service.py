"""Projects in SQL. Row level security scopes every statement to the caller."""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

from sqlalchemy import RowMapping, Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import ContentProject
from app.pagination import page_of, paginate
from app.problems import ProblemError, sqlstate_of
from app.projects.schemas import ProjectCreate, ProjectUpdate, ProjectUpsert

projects = cast(Table, ContentProject.__table__)

NO_MIND = ProblemError(
    403,
    "your user has no mind yet, so it cannot own projects; "
    "an admin provisions one with `creatoros minds create`",
    slug="no-mind",
)


def merge_patch(column: Any, patch: dict[str, Any]) -> Any:
    """`column = jsonb_merge_patch(column, patch)`: merged in the UPDATE
    itself, so concurrent patches serialize on the row lock and none is lost."""
    return func.jsonb_merge_patch(column, bindparam(None, patch, type_=JSONB))


def project_not_found(project_id: uuid.UUID) -> ProblemError:
    return ProblemError(404, f"project {project_id} does not exist", slug="not-found")


async def create_project(conn: AsyncConnection, data: ProjectCreate) -> RowMapping:
    values = data.model_dump(mode="json")
    try:
        result = await conn.execute(insert(projects).values(**values).returning(*projects.c))
    except DBAPIError as exc:
        # The only policy an insert can fail is "the creator is me"; the
        # creator is the database's default, so the caller has no mind.
        if sqlstate_of(exc) == "42501":
            raise NO_MIND from exc
        raise
    return result.mappings().one()


_UPSERT = text(
    """INSERT INTO content_projects AS p
           (slug, name, project_type, description, status, persona_mind_id, project_metadata)
       VALUES (:slug, :name, :project_type, :description, coalesce(:status, 'planning'),
               :persona_mind_id, CAST(:project_metadata AS jsonb))
       ON CONFLICT (creator_mind_id, slug) DO UPDATE SET
           name = EXCLUDED.name,
           project_type = EXCLUDED.project_type,
           description = EXCLUDED.description,
           status = coalesce(:status, p.status),
           persona_mind_id = EXCLUDED.persona_mind_id,
           project_metadata = jsonb_merge_patch(p.project_metadata, EXCLUDED.project_metadata)
       RETURNING p.*, (xmax = 0) AS inserted"""
)


async def upsert_project(
    conn: AsyncConnection, slug: str, data: ProjectUpsert
) -> tuple[RowMapping, bool]:
    """Create the caller's project `slug`, or update it in place (same id):
    one statement, so retries and concurrent runs never duplicate it."""
    params = data.model_dump(mode="json")
    params["project_metadata"] = json.dumps(params["project_metadata"])
    try:
        result = await conn.execute(_UPSERT, {"slug": slug, **params})
    except DBAPIError as exc:
        if sqlstate_of(exc) == "42501":
            raise NO_MIND from exc
        raise
    row = dict(result.mappings().one())
    inserted = bool(row.pop("inserted"))
    return cast(RowMapping, row), inserted


async def get_project(conn: AsyncConnection, project_id: uuid.UUID) -> RowMapping | None:
    result = await conn.execute(select(projects).where(projects.c.id == project_id))
    return result.mappings().one_or_none()


async def list_projects(
    conn: AsyncConnection,
    *,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
) -> tuple[list[RowMapping], str | None]:
    query = select(projects)
    for column, value in filters.items():
        if value is not None:
            query = query.where(projects.c[column] == value)
    query = paginate(query, projects.c.created_at, projects.c.id, limit=limit, cursor=cursor)
    rows = list((await conn.execute(query)).mappings())
    return page_of(rows, limit)


async def _refused_write(conn: AsyncConnection, project_id: uuid.UUID) -> ProblemError:
    """A write matched no row: the project is either invisible (404, as if it
    did not exist) or visible read-only, as to its persona (403)."""
    if await get_project(conn, project_id) is None:
        return project_not_found(project_id)
    return ProblemError(403, "you can read this project but not change it", slug="read-only")


async def update_project(
    conn: AsyncConnection, project_id: uuid.UUID, data: ProjectUpdate
) -> RowMapping:
    values: dict[str, Any] = data.model_dump(mode="json", exclude_unset=True)
    if "project_metadata" in values:
        values["project_metadata"] = merge_patch(
            projects.c.project_metadata, values["project_metadata"]
        )
    if not values:
        row = await get_project(conn, project_id)
        if row is None:
            raise project_not_found(project_id)
        return row
    result = await conn.execute(
        update(projects).where(projects.c.id == project_id).values(**values).returning(*projects.c)
    )
    row = result.mappings().one_or_none()
    if row is None:
        raise await _refused_write(conn, project_id)
    return row


async def delete_project(conn: AsyncConnection, project_id: uuid.UUID) -> None:
    result = await conn.execute(
        delete(projects).where(projects.c.id == project_id).returning(projects.c.id)
    )
    if result.first() is None:
        raise await _refused_write(conn, project_id)
