from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.audiences import service
from app.audiences.schemas import Audience, AudienceCreate, AudienceUpdate, TechnicalLevel
from app.db.sessions import UserReadSession, WriteSession
from app.http.ids import AudienceId
from app.http.pagination import ListQuery, ListRequest, Page
from app.http.routes import model_page, operation, resource_router
from app.idempotency import IdempotencyKey

router = resource_router("/audiences", "audiences")


@router.post(
    "",
    **operation("Create an audience", "createAudience", 409, status_code=201),
)
async def create_audience(
    body: AudienceCreate,
    conn: WriteSession,
    idempotency: IdempotencyKey,
) -> Audience:
    """Create an audience owned by the caller's mind. Slugs are unique per owner."""
    row = await service.create_audience(conn, body)
    return await idempotency.created(Audience.model_validate(row), f"/v1/audiences/{row['id']}")


AudienceList = Annotated[ListRequest, Depends(ListQuery(technical_level=TechnicalLevel, slug=str))]


@router.get("", **operation("List audiences", "listAudiences"))
async def list_audiences(conn: UserReadSession, query: AudienceList) -> Page[Audience]:
    """The caller's own audiences: nobody else's are ever visible."""
    return model_page(Audience, await service.list_audiences(conn, **query))


@router.get("/{audience_id}", **operation("Get an audience", "getAudience", 404))
async def get_audience(audience_id: AudienceId, conn: UserReadSession) -> Audience:
    """One of the caller's audiences; 404 for one they cannot see."""
    return Audience.model_validate(await service.require_audience(conn, audience_id))


@router.patch("/{audience_id}", **operation("Update an audience", "updateAudience", 404, 409))
async def update_audience(
    audience_id: AudienceId, body: AudienceUpdate, conn: WriteSession
) -> Audience:
    """Partial update: only the fields sent change; a JSON field sent is
    replaced whole (not merged), and null clears it."""
    return Audience.model_validate(await service.update_audience(conn, audience_id, body))


@router.delete(
    "/{audience_id}",
    **operation("Delete an audience", "deleteAudience", 404, 409, status_code=204),
)
async def delete_audience(audience_id: AudienceId, conn: WriteSession) -> None:
    """Delete an audience no project targets any more (409 while one does)."""
    await service.delete_audience(conn, audience_id)
