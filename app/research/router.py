from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.db.sessions import UserReadSession, WriteSession
from app.http.bodies import JsonBodyRoute
from app.http.ids import ProjectId, ResearchId
from app.http.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.http.problems import problem_responses
from app.idempotency import IdempotencyKey
from app.research import service
from app.research.schemas import (
    MarketResearch,
    MarketResearchCreate,
    MarketResearchUpdate,
    ResearchType,
)

# No common prefix: reports are created and listed under their project, and
# addressed on their own once they exist.
router = APIRouter(
    route_class=JsonBodyRoute,
    prefix="",
    tags=["market research"],
    responses=problem_responses(400, 401, 403, 413, 422, 503),
)


@router.post(
    "/projects/{project_id}/market-research",
    status_code=status.HTTP_201_CREATED,
    summary="Create a market research report",
    operation_id="createMarketResearch",
    responses=problem_responses(404, 409),
)
async def create_market_research(
    project_id: ProjectId,
    body: MarketResearchCreate,
    conn: WriteSession,
    response: Response,
    idempotency: IdempotencyKey,
) -> MarketResearch:
    """Add a report to one of the caller's projects. Its persona may read the
    project's reports but not add to them (403)."""
    row = await service.create_research(conn, project_id, body)
    response.headers["Location"] = f"/v1/market-research/{row['id']}"
    return await idempotency.record(MarketResearch.model_validate(row), response, 201)


@router.get(
    "/projects/{project_id}/market-research",
    summary="List a project's market research",
    operation_id="listMarketResearch",
    responses=problem_responses(404),
)
async def list_market_research(
    project_id: ProjectId,
    conn: UserReadSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    research_type: ResearchType | None = None,
) -> Page[MarketResearch]:
    """The reports of a project the caller may see (as its creator or persona)."""
    rows, next_cursor = await service.list_research(
        conn,
        project_id,
        filters={"research_type": research_type},
        limit=limit,
        cursor=cursor,
    )
    return Page[MarketResearch](
        items=[MarketResearch.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/market-research/{research_id}",
    summary="Get a market research report",
    operation_id="getMarketResearch",
    responses=problem_responses(404),
)
async def get_market_research(research_id: ResearchId, conn: UserReadSession) -> MarketResearch:
    return MarketResearch.model_validate(await service.require_research(conn, research_id))


@router.patch(
    "/market-research/{research_id}",
    summary="Update a market research report",
    operation_id="updateMarketResearch",
    responses=problem_responses(404),
)
async def update_market_research(
    research_id: ResearchId,
    body: MarketResearchUpdate,
    conn: WriteSession,
) -> MarketResearch:
    """Partial update: only the fields sent change; `report_data` is one
    report, so it is replaced whole, not merged. A report stays in its project."""
    return MarketResearch.model_validate(await service.update_research(conn, research_id, body))


@router.delete(
    "/market-research/{research_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a market research report",
    operation_id="deleteMarketResearch",
    responses=problem_responses(404),
)
async def delete_market_research(research_id: ResearchId, conn: WriteSession) -> None:
    """Delete a report. Deleting its project deletes it too."""
    await service.delete_research(conn, research_id)
