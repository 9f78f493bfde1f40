from __future__ import annotations

import uuid

from fastapi import Query, Response

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
from app.http.ids import ContentId, MindId
from app.http.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from app.http.routes import operation, resource_router
from app.http.schemas import rows_response
from app.idempotency import ConditionalWriteSession, IdempotencyKey

router = resource_router("/contents", "contents")


@router.post(
    "",
    **operation("Create a content", "createContent", 404, 409, status_code=201),
)
async def create_content(
    body: ContentCreate,
    conn: WriteSession,
    idempotency: IdempotencyKey,
) -> Content:
    """Add a content (a draft) to one of the caller's projects. Slugs are unique per
    project; the parent, if any, must be a content of the same project."""
    row = await service.create_content(conn, body)
    return await idempotency.created(Content.model_validate(row), f"/v1/contents/{row['id']}")


@router.get(
    "",
    **operation(
        "List contents", "listContents", response_model=Page[Content], openapi_extra=PUBLIC_READ
    ),
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
    **operation(
        "Get a content", "getContent", 404, openapi_extra=PUBLIC_READ, response_model=Content
    ),
)
async def get_content(content_id: ContentId, conn: ReadSession) -> Response:
    """One content with its body. Anyone reads a published one; drafts only
    their creator (and its persona); 404 for one the caller cannot see. With
    its ETag (send it back as `If-None-Match` for a 304, as `If-Match` on a
    PATCH or DELETE)."""
    row = await service.require_content(conn, content_id)
    return Response(service.content_bytes(row), media_type="application/json")


@router.patch(
    "/{content_id}",
    **operation("Update a content", "updateContent", 404, 409, 412, response_model=Content),
)
async def update_content(
    content_id: ContentId, body: ContentUpdate, write: ConditionalWriteSession
) -> Response:
    """Partial update: only the fields sent change. `metadata` is merged on the
    server (JSON Merge Patch: `null` deletes a key); `status` follows the
    workflow draft → reviewed → published → archived (409 otherwise).
    Answers the content and its new ETag; with `If-Match`, only if the
    content is still that version (412 otherwise, nothing changed)."""
    row = await service.update_content(write.conn, content_id, body, if_match=write.if_match)
    return await write.answer(service.content_bytes(row))


@router.delete(
    "/{content_id}",
    # 409: its Idempotency-Key is still in use by a request being processed.
    **operation("Delete a content", "deleteContent", 404, 409, 412, status_code=204),
)
async def delete_content(content_id: ContentId, write: ConditionalWriteSession) -> None:
    """Soft delete: the content disappears from every answer until restored.
    With `If-Match`, only if the content is still that version."""
    await service.delete_content(write.conn, content_id, if_match=write.if_match)
    await write.no_content()


@router.post(
    "/{content_id}/restore", **operation("Restore a deleted content", "restoreContent", 404, 409)
)
async def restore_content(
    content_id: ContentId, conn: WriteSession, idempotency: IdempotencyKey
) -> Content:
    """Undo a soft delete. Restoring a live content changes nothing."""
    row = await service.restore_content(conn, content_id)
    return await idempotency.record(Content.model_validate(row), 200)


@router.get(
    "/{content_id}/minds",
    **operation("List the minds of a content", "listContentMinds", 404, openapi_extra=PUBLIC_READ),
)
async def list_content_minds(content_id: ContentId, conn: ReadSession) -> list[ContentMind]:
    """Which minds created, voiced or took part in the content, and as what."""
    rows = await service.list_content_minds(conn, content_id)
    return [ContentMind.model_validate(r) for r in rows]


@router.put(
    "/{content_id}/minds/{mind_id}",
    **operation("Attribute a content to a mind", "putContentMind", 404),
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
    **operation(
        "Remove a mind from a content",
        "deleteContentMind",
        404,
        status_code=204,
    ),
)
async def delete_content_mind(content_id: ContentId, mind_id: MindId, conn: WriteSession) -> None:
    """Unlink a mind from a content (the mind itself stays)."""
    await service.delete_content_mind(conn, content_id, mind_id)


@router.get(
    "/{content_id}/tags",
    **operation("List the tags of a content", "listContentTags", 404, openapi_extra=PUBLIC_READ),
)
async def list_content_tags(content_id: ContentId, conn: ReadSession) -> ContentTags:
    """The content's tags, by name; readable wherever the content is."""
    return ContentTags(
        content_id=content_id, tags=await service.list_content_tags(conn, content_id)
    )


@router.put("/{content_id}/tags", **operation("Set the tags of a content", "putContentTags", 404))
async def put_content_tags(
    content_id: ContentId, body: ContentTagsPut, conn: WriteSession
) -> ContentTags:
    """Replace the content's tags with exactly these names; unknown tags are created."""
    names = await service.replace_content_tags(conn, content_id, body.tags)
    return ContentTags(content_id=content_id, tags=names)
