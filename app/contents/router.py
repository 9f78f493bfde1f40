from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from app.auth import AuthenticatedPrincipal
from app.contents import service
from app.contents.schemas import Content, ContentCreate, ContentStatus, ContentType, ContentUpdate
from app.pagination import Cursor, Limit, Page
from app.problems import problem_responses
from app.tenancy import TenantSession

router = APIRouter(
    prefix="/contents",
    tags=["contents"],
    responses=problem_responses(401, 403, 422, 503),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a content",
    operation_id="createContent",
    responses=problem_responses(404, 409),
)
async def create_content(
    body: ContentCreate, conn: TenantSession, _: AuthenticatedPrincipal, response: Response
) -> Content:
    """Add a content to one of the caller's projects. Slugs are unique per project."""
    row = await service.create_content(conn, body)
    response.headers["Location"] = f"/v1/contents/{row['id']}"
    return Content.model_validate(row)


@router.get("", summary="List contents", operation_id="listContents")
async def list_contents(
    conn: TenantSession,
    _: AuthenticatedPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    project_id: uuid.UUID | None = None,
    parent_id: uuid.UUID | None = None,
    content_type: ContentType | None = None,
    status: ContentStatus | None = None,
    ai_generated: bool | None = None,
) -> Page[Content]:
    """Contents the caller may see: those of their projects, and published ones."""
    rows, next_cursor = await service.list_contents(
        conn,
        filters={
            "project_id": project_id,
            "parent_content_id": parent_id,
            "content_type": content_type,
            "status": status,
            "ai_generated": ai_generated,
        },
        limit=limit,
        cursor=cursor,
    )
    return Page[Content](items=[Content.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{content_id}",
    summary="Get a content",
    operation_id="getContent",
    responses=problem_responses(404),
)
async def get_content(
    content_id: uuid.UUID, conn: TenantSession, _: AuthenticatedPrincipal
) -> Content:
    row = await service.get_content(conn, content_id)
    if row is None:
        raise service.content_not_found(content_id)
    return Content.model_validate(row)


@router.patch(
    "/{content_id}",
    summary="Update a content",
    operation_id="updateContent",
    responses=problem_responses(404, 409),
)
async def update_content(
    content_id: uuid.UUID, body: ContentUpdate, conn: TenantSession, _: AuthenticatedPrincipal
) -> Content:
    """Partial update: only the fields sent change."""
    return Content.model_validate(await service.update_content(conn, content_id, body))


@router.delete(
    "/{content_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a content",
    operation_id="deleteContent",
    responses=problem_responses(404),
)
async def delete_content(
    content_id: uuid.UUID, conn: TenantSession, _: AuthenticatedPrincipal
) -> Response:
    """Soft delete: the content disappears from every answer."""
    await service.delete_content(conn, content_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
