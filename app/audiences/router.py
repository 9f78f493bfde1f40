from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.audiences import service
from app.audiences.schemas import Audience, AudienceCreate, AudienceUpdate, TechnicalLevel
from app.db.sessions import UserReadSession, WriteSession
from app.http.bodies import JsonBodyRoute
from app.http.ids import AudienceId
from app.http.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.http.problems import problem_responses
from app.idempotency import IdempotencyKey

router = APIRouter(
    route_class=JsonBodyRoute,
    prefix="/audiences",
    tags=["audiences"],
    responses=problem_responses(400, 401, 403, 413, 422, 503),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an audience",
    operation_id="createAudience",
    responses=problem_responses(409),
)
async def create_audience(
    body: AudienceCreate,
    conn: WriteSession,
    response: Response,
    idempotency: IdempotencyKey,
) -> Audience:
    """Create an audience owned by the caller's mind. Slugs are unique per owner."""
    row = await service.create_audience(conn, body)
    response.headers["Location"] = f"/v1/audiences/{row['id']}"
    return await idempotency.record(Audience.model_validate(row), response, 201)


@router.get("", summary="List audiences", operation_id="listAudiences")
async def list_audiences(
    conn: UserReadSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    technical_level: TechnicalLevel | None = None,
    slug: str | None = None,
) -> Page[Audience]:
    """The caller's own audiences: nobody else's are ever visible."""
    rows, next_cursor = await service.list_audiences(
        conn,
        filters={"technical_level": technical_level, "slug": slug},
        limit=limit,
        cursor=cursor,
    )
    return Page[Audience](items=[Audience.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{audience_id}",
    summary="Get an audience",
    operation_id="getAudience",
    responses=problem_responses(404),
)
async def get_audience(audience_id: AudienceId, conn: UserReadSession) -> Audience:
    return Audience.model_validate(await service.require_audience(conn, audience_id))


@router.patch(
    "/{audience_id}",
    summary="Update an audience",
    operation_id="updateAudience",
    responses=problem_responses(404, 409),
)
async def update_audience(
    audience_id: AudienceId, body: AudienceUpdate, conn: WriteSession
) -> Audience:
    """Partial update: only the fields sent change; a JSON field sent is
    replaced whole (not merged), and null clears it."""
    return Audience.model_validate(await service.update_audience(conn, audience_id, body))


@router.delete(
    "/{audience_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an audience",
    operation_id="deleteAudience",
    responses=problem_responses(404, 409),
)
async def delete_audience(audience_id: AudienceId, conn: WriteSession) -> None:
    """Delete an audience no project targets any more (409 while one does)."""
    await service.delete_audience(conn, audience_id)
