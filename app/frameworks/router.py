from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.db.sessions import UserReadSession, WriteSession
from app.frameworks import service
from app.frameworks.schemas import Framework, FrameworkCreate, FrameworkType, FrameworkUpdate
from app.http.bodies import JsonBodyRoute
from app.http.ids import FrameworkId
from app.http.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.http.problems import problem_responses
from app.idempotency import IdempotencyKey

router = APIRouter(
    route_class=JsonBodyRoute,
    prefix="/frameworks",
    tags=["frameworks"],
    responses=problem_responses(400, 401, 403, 413, 422, 503),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a framework",
    operation_id="createFramework",
    responses=problem_responses(409),
)
async def create_framework(
    body: FrameworkCreate,
    conn: WriteSession,
    response: Response,
    idempotency: IdempotencyKey,
) -> Framework:
    """Create a framework owned by the caller's mind. Slugs are unique per
    owner, so a creator may shadow a global framework's slug with their own."""
    row = await service.create_framework(conn, body)
    response.headers["Location"] = f"/v1/frameworks/{row['id']}"
    return await idempotency.record(Framework.model_validate(row), response, 201)


@router.get("", summary="List frameworks", operation_id="listFrameworks")
async def list_frameworks(
    conn: UserReadSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    framework_type: FrameworkType | None = None,
    is_active: bool | None = None,
    slug: str | None = None,
) -> Page[Framework]:
    """The frameworks the caller may use: the global ones and their own."""
    rows, next_cursor = await service.list_frameworks(
        conn,
        filters={"framework_type": framework_type, "is_active": is_active, "slug": slug},
        limit=limit,
        cursor=cursor,
    )
    return Page[Framework](
        items=[Framework.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/{framework_id}",
    summary="Get a framework",
    operation_id="getFramework",
    responses=problem_responses(404),
)
async def get_framework(framework_id: FrameworkId, conn: UserReadSession) -> Framework:
    return Framework.model_validate(await service.require_framework(conn, framework_id))


@router.patch(
    "/{framework_id}",
    summary="Update a framework",
    operation_id="updateFramework",
    responses=problem_responses(404, 409),
)
async def update_framework(
    framework_id: FrameworkId, body: FrameworkUpdate, conn: WriteSession
) -> Framework:
    """Partial update: only the fields sent change; `framework_schema` is one
    document, so it is replaced whole, not merged. Global frameworks are
    read-only to creators (403)."""
    return Framework.model_validate(await service.update_framework(conn, framework_id, body))


@router.delete(
    "/{framework_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a framework",
    operation_id="deleteFramework",
    responses=problem_responses(404),
)
async def delete_framework(framework_id: FrameworkId, conn: WriteSession) -> None:
    """Delete one of the caller's frameworks; contents built on it keep
    existing, without a framework. Global frameworks are read-only (403)."""
    await service.delete_framework(conn, framework_id)
