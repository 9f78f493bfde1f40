"""Market research in SQL. Row level security scopes every statement to the
caller: a report follows its project, fully for the project's creator and
read-only for its persona."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import RowMapping, Table, delete, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import MarketResearch
from app.pagination import page_of, paginate
from app.problems import ProblemError, sqlstate_of
from app.projects.service import get_project, project_not_found
from app.research.schemas import MarketResearchCreate, MarketResearchUpdate

research = cast(Table, MarketResearch.__table__)


def research_not_found(research_id: uuid.UUID) -> ProblemError:
    return ProblemError(404, f"market research {research_id} does not exist", slug="not-found")


async def create_research(
    conn: AsyncConnection, project_id: uuid.UUID, data: MarketResearchCreate
) -> RowMapping:
    values = {**data.model_dump(mode="json"), "project_id": project_id}
    try:
        # A savepoint, so that after a refusal the transaction can still tell
        # the caller which refusal it was.
        async with conn.begin_nested():
            result = await conn.execute(insert(research).values(**values).returning(*research.c))
    except DBAPIError as exc:
        # The policy refused: the project is not the caller's. Invisible (or
        # missing: the policy runs before the foreign key) → 404, as if it
        # did not exist; visible (its persona) → 403.
        if sqlstate_of(exc) == "42501":
            if await get_project(conn, project_id) is None:
                raise project_not_found(project_id) from exc
            raise ProblemError(
                403, "you can read this project but not add to it", slug="read-only"
            ) from exc
        raise
    return result.mappings().one()


async def get_research(conn: AsyncConnection, research_id: uuid.UUID) -> RowMapping | None:
    result = await conn.execute(select(research).where(research.c.id == research_id))
    return result.mappings().one_or_none()


async def list_research(
    conn: AsyncConnection,
    project_id: uuid.UUID,
    *,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
) -> tuple[list[RowMapping], str | None]:
    # RLS alone would list an invisible project as empty (200); answer 404,
    # as GET /projects/{id} does, so a missing project never looks empty.
    if await get_project(conn, project_id) is None:
        raise project_not_found(project_id)
    query = select(research).where(research.c.project_id == project_id)
    for column, value in filters.items():
        if value is not None:
            query = query.where(research.c[column] == value)
    query = paginate(query, research.c.created_at, research.c.id, limit=limit, cursor=cursor)
    rows = list((await conn.execute(query)).mappings())
    return page_of(rows, limit)


async def _refused_write(conn: AsyncConnection, research_id: uuid.UUID) -> ProblemError:
    """A write matched no row: the report is either invisible (404, as if it
    did not exist) or visible read-only, as to its project's persona (403)."""
    if await get_research(conn, research_id) is None:
        return research_not_found(research_id)
    return ProblemError(
        403, "you can read this market research but not change it", slug="read-only"
    )


async def update_research(
    conn: AsyncConnection, research_id: uuid.UUID, data: MarketResearchUpdate
) -> RowMapping:
    values = data.model_dump(mode="json", exclude_unset=True)
    if not values:
        row = await get_research(conn, research_id)
        if row is None:
            raise research_not_found(research_id)
        return row
    result = await conn.execute(
        update(research).where(research.c.id == research_id).values(**values).returning(*research.c)
    )
    row = result.mappings().one_or_none()
    if row is None:
        raise await _refused_write(conn, research_id)
    return row


async def delete_research(conn: AsyncConnection, research_id: uuid.UUID) -> None:
    result = await conn.execute(
        delete(research).where(research.c.id == research_id).returning(research.c.id)
    )
    if result.first() is None:
        raise await _refused_write(conn, research_id)
