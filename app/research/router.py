from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.db.sessions import UserReadSession, WriteSession
from app.http.ids import ProjectId, ResearchId
from app.http.pagination import ListQuery, ListRequest, Page
from app.http.routes import model_page, operation, resource_router
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
router = resource_router("", "market research")


@router.post(
    "/projects/{project_id}/market-research",
    **operation(
        "Create a market research report",
        "createMarketResearch",
        404,
        409,
        status_code=201,
    ),
)
async def create_market_research(
    project_id: ProjectId,
    body: MarketResearchCreate,
    conn: WriteSession,
    idempotency: IdempotencyKey,
) -> MarketResearch:
    """Add a report to one of the caller's projects. Its persona may read the
    project's reports but not add to them (403)."""
    row = await service.create_research(conn, project_id, body)
    return await idempotency.created(
        MarketResearch.model_validate(row), f"/v1/market-research/{row['id']}"
    )


ResearchList = Annotated[ListRequest, Depends(ListQuery(research_type=ResearchType))]


@router.get(
    "/projects/{project_id}/market-research",
    **operation("List a project's market research", "listMarketResearch", 404),
)
async def list_market_research(
    project_id: ProjectId,
    conn: UserReadSession,
    query: ResearchList,
) -> Page[MarketResearch]:
    """The reports of a project the caller may see (as its creator or persona)."""
    return model_page(MarketResearch, await service.list_research(conn, project_id, **query))


@router.get(
    "/market-research/{research_id}",
    **operation("Get a market research report", "getMarketResearch", 404),
)
async def get_market_research(research_id: ResearchId, conn: UserReadSession) -> MarketResearch:
    """One report, with its body, for the owner of its project; 404 otherwise."""
    return MarketResearch.model_validate(await service.require_research(conn, research_id))


@router.patch(
    "/market-research/{research_id}",
    **operation("Update a market research report", "updateMarketResearch", 404),
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
    **operation(
        "Delete a market research report",
        "deleteMarketResearch",
        404,
        status_code=204,
    ),
)
async def delete_market_research(research_id: ResearchId, conn: WriteSession) -> None:
    """Delete a report. Deleting its project deletes it too."""
    await service.delete_research(conn, research_id)
