from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Response, status

from app.auth import PUBLIC_READ
from app.contents import service
from app.contents.schemas import (
    Content,
    ContentCreate,
    ContentMind,
    ContentMindPut,
    ContentStatus,
    ContentTags,
    ContentTagsPut,
    ContentType,
    ContentUpdate,
)
from app.db.sessions import ReadSession, WriteSession
from app.http.bodies import JsonBodyRoute
from app.http.ids import ContentId, MindId
from app.http.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.http.problems import problem_responses
from app.http.schemas import rows_response
from app.idempotency import IdempotencyKey

router = APIRouter(
    route_class=JsonBodyRoute,
    prefix="/contents",
    tags=["contents"],
    responses=problem_responses(400, 401, 403, 413, 422, 503),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a content",
    operation_id="createContent",
    responses=problem_responses(404, 409),
)
async def create_content(
    body: ContentCreate,
    conn: WriteSession,
    response: Response,
    idempotency: IdempotencyKey,
) -> Content:
    """Add a content (a draft) to one of the caller's projects. Slugs are unique per
    project; the parent, if any, must be a content of the same project."""
    row = await service.create_content(conn, body)
    response.headers["Location"] = f"/v1/contents/{row['id']}"
    return await idempotency.record(Content.model_validate(row), response, 201)


@router.get(
    "",
    summary="List contents",
    operation_id="listContents",
    response_model=Page[Content],
    openapi_extra=PUBLIC_READ,
)
async def list_contents(
    conn: ReadSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    project_id: uuid.UUID | None = None,
    parent_id: uuid.UUID | None = None,
    content_type: ContentType | None = None,
    status: ContentStatus | None = None,
    ai_generated: bool | None = None,
    tag: str | None = Query(
        default=None, max_length=100, description="Only contents with this tag."
    ),
) -> Response:
    """Contents the caller may see: those of their projects, and published ones."""
    rows, next_cursor = await service.list_contents(
        conn,
        filters={
            "project_id": project_id,
            "parent_content_id": parent_id,
            "content_type": content_type,
            "status": status,
            "ai_generated": ai_generated,
            "tag": tag,
        },
        limit=limit,
        cursor=cursor,
    )
    return rows_response({"items": rows, "next_cursor": next_cursor})


@router.get(
    "/{content_id}",
    summary="Get a content",
    operation_id="getContent",
    openapi_extra=PUBLIC_READ,
    response_model=Content,
    responses=problem_responses(404),
)
async def get_content(content_id: ContentId, conn: ReadSession) -> Response:
    return rows_response(await service.require_content(conn, content_id))


@router.patch(
    "/{content_id}",
    summary="Update a content",
    operation_id="updateContent",
    responses=problem_responses(404, 409),
)
async def update_content(content_id: ContentId, body: ContentUpdate, conn: WriteSession) -> Content:
    """Partial update: only the fields sent change. `metadata` is merged on the
    server (JSON Merge Patch: `null` deletes a key); `status` follows the
    workflow draft → reviewed → published → archived (409 otherwise)."""
    return Content.model_validate(await service.update_content(conn, content_id, body))


@router.delete(
    "/{content_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a content",
    operation_id="deleteContent",
    responses=problem_responses(404),
)
async def delete_content(content_id: ContentId, conn: WriteSession) -> None:
    """Soft delete: the content disappears from every answer until restored."""
    await service.delete_content(conn, content_id)


@router.post(
    "/{content_id}/restore",
    summary="Restore a deleted content",
    operation_id="restoreContent",
    responses=problem_responses(404),
)
async def restore_content(content_id: ContentId, conn: WriteSession) -> Content:
    """Undo a soft delete. Restoring a live content changes nothing."""
    return Content.model_validate(await service.restore_content(conn, content_id))


@router.get(
    "/{content_id}/minds",
    summary="List the minds of a content",
    operation_id="listContentMinds",
    openapi_extra=PUBLIC_READ,
    responses=problem_responses(404),
)
async def list_content_minds(content_id: ContentId, conn: ReadSession) -> list[ContentMind]:
    """Which minds created, voiced or took part in the content, and as what."""
    rows = await service.list_content_minds(conn, content_id)
    return [ContentMind.model_validate(r) for r in rows]


@router.put(
    "/{content_id}/minds/{mind_id}",
    summary="Attribute a content to a mind",
    operation_id="putContentMind",
    responses=problem_responses(404),
)
async def put_content_mind(
    content_id: ContentId,
    mind_id: MindId,
    body: ContentMindPut,
    conn: WriteSession,
) -> ContentMind:
    """Idempotent: sets the mind's role on the content, adding it if needed."""
    row = await service.put_content_mind(conn, content_id, mind_id, body.role)
    return ContentMind.model_validate(row)


@router.delete(
    "/{content_id}/minds/{mind_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a mind from a content",
    operation_id="deleteContentMind",
    responses=problem_responses(404),
)
async def delete_content_mind(content_id: ContentId, mind_id: MindId, conn: WriteSession) -> None:
    await service.delete_content_mind(conn, content_id, mind_id)


@router.get(
    "/{content_id}/tags",
    summary="List the tags of a content",
    operation_id="listContentTags",
    openapi_extra=PUBLIC_READ,
    responses=problem_responses(404),
)
async def list_content_tags(content_id: ContentId, conn: ReadSession) -> ContentTags:
    return ContentTags(
        content_id=content_id, tags=await service.list_content_tags(conn, content_id)
    )


@router.put(
    "/{content_id}/tags",
    summary="Set the tags of a content",
    operation_id="putContentTags",
    responses=problem_responses(404),
)
async def put_content_tags(
    content_id: ContentId, body: ContentTagsPut, conn: WriteSession
) -> ContentTags:
    """Replace the content's tags with exactly these names; unknown tags are created."""
    names = await service.replace_content_tags(conn, content_id, body.tags)
    return ContentTags(content_id=content_id, tags=names)
