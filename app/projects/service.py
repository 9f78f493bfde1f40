"""Projects in SQL. Row level security scopes every statement to the caller."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import RowMapping, Table, delete, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import ContentProject
from app.pagination import page_of, paginate
from app.problems import ProblemError, sqlstate_of
from app.projects.schemas import ProjectCreate, ProjectUpdate

projects = cast(Table, ContentProject.__table__)

NO_MIND = ProblemError(
    403,
    "your user has no mind yet, so it cannot own projects; "
    "an admin provisions one with `creatoros minds create`",
    slug="no-mind",
)


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
    values = data.model_dump(mode="json", exclude_unset=True)
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
