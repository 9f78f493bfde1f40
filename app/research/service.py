"""Market research in SQL. Row level security scopes every statement to the
caller: a report follows its project, fully for the project's creator and
read-only for its persona."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import MarketResearch
from app.db.rows import Row, TableRows
from app.db.tenancy import Reader
from app.projects.service import insert_under_project, require_project
from app.research.schemas import MarketResearchCreate

research = cast(Table, MarketResearch.__table__)


# A report follows its project: fully for its creator, read-only for its persona.
ROWS = TableRows(research, "market research", "you can read this market research but not change it")


async def create_research(
    conn: AsyncConnection, project_id: uuid.UUID, data: MarketResearchCreate
) -> Row:
    return await insert_under_project(conn, project_id, ROWS, data.model_dump(mode="json"))


require_research = ROWS.require


async def list_research(
    conn: Reader,
    project_id: uuid.UUID,
    *,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
) -> tuple[list[Row], str | None]:
    # RLS alone would list an invisible project as empty (200); answer 404,
    # as GET /projects/{id} does, so a missing project never looks empty.
    await require_project(conn, project_id)
    return await ROWS.page(
        conn, filters={**filters, "project_id": project_id}, limit=limit, cursor=cursor
    )


update_research = ROWS.patch
delete_research = ROWS.delete
