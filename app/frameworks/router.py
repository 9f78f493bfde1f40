from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.db.sessions import UserReadSession, WriteSession
from app.frameworks import service
from app.frameworks.schemas import Framework, FrameworkCreate, FrameworkType, FrameworkUpdate
from app.http.ids import FrameworkId
from app.http.pagination import ListQuery, ListRequest, Page
from app.http.routes import model_page, operation, resource_router
from app.idempotency import IdempotencyKey

router = resource_router("/frameworks", "frameworks")


@router.post(
    "",
    **operation("Create a framework", "createFramework", 409, status_code=201),
)
async def create_framework(
    body: FrameworkCreate,
    conn: WriteSession,
    idempotency: IdempotencyKey,
) -> Framework:
    """Create a framework owned by the caller's mind. Slugs are unique per
    owner, so a creator may shadow a global framework's slug with their own."""
    row = await service.create_framework(conn, body)
    return await idempotency.created(Framework.model_validate(row), f"/v1/frameworks/{row['id']}")


FrameworkList = Annotated[
    ListRequest, Depends(ListQuery(framework_type=FrameworkType, is_active=bool, slug=str))
]


@router.get("", **operation("List frameworks", "listFrameworks"))
async def list_frameworks(conn: UserReadSession, query: FrameworkList) -> Page[Framework]:
    """The frameworks the caller may use: the global ones and their own."""
    return model_page(Framework, await service.list_frameworks(conn, **query))


@router.get("/{framework_id}", **operation("Get a framework", "getFramework", 404))
async def get_framework(framework_id: FrameworkId, conn: UserReadSession) -> Framework:
    """One framework: the caller's own or a global one; 404 otherwise."""
    return Framework.model_validate(await service.require_framework(conn, framework_id))


@router.patch("/{framework_id}", **operation("Update a framework", "updateFramework", 404, 409))
async def update_framework(
    framework_id: FrameworkId, body: FrameworkUpdate, conn: WriteSession
) -> Framework:
    """Partial update: only the fields sent change; `framework_schema` is one
    document, so it is replaced whole, not merged. Global frameworks are
    read-only to creators (403)."""
    return Framework.model_validate(await service.update_framework(conn, framework_id, body))


@router.delete(
    "/{framework_id}",
    **operation("Delete a framework", "deleteFramework", 404, status_code=204),
)
async def delete_framework(framework_id: FrameworkId, conn: WriteSession) -> None:
    """Delete one of the caller's frameworks; contents built on it keep
    existing, without a framework. Global frameworks are read-only (403)."""
    await service.delete_framework(conn, framework_id)
