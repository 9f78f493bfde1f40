"""Contents in SQL. Row level security scopes every statement to the caller;
deleted contents (soft delete, `deleted_at`) are invisible here."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import RowMapping, Table, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.contents.schemas import ContentCreate, ContentUpdate
from app.models import Content
from app.pagination import page_of, paginate
from app.problems import ProblemError, sqlstate_of
from app.projects.service import get_project, project_not_found

contents = cast(Table, Content.__table__)
_COLUMNS = [c for c in contents.c if c.name not in ("deleted_at", "keywords", "framework_id")]
_ALIVE = contents.c.deleted_at.is_(None)


def content_not_found(content_id: uuid.UUID) -> ProblemError:
    return ProblemError(404, f"content {content_id} does not exist", slug="not-found")


async def _check_parent(
    conn: AsyncConnection, parent_id: uuid.UUID, project_id: uuid.UUID | None
) -> None:
    row = (
        await conn.execute(select(contents.c.project_id).where(contents.c.id == parent_id, _ALIVE))
    ).first()
    if row is None:
        raise ProblemError(422, f"parent content {parent_id} does not exist", slug="invalid-parent")
    if row.project_id != project_id:
        raise ProblemError(422, "the parent belongs to another project", slug="invalid-parent")


async def create_content(conn: AsyncConnection, data: ContentCreate) -> RowMapping:
    if data.parent_content_id is not None:
        await _check_parent(conn, data.parent_content_id, data.project_id)
    values = data.model_dump(mode="json")
    try:
        # A savepoint, so that after a refusal the transaction can still tell
        # the caller which refusal it was.
        async with conn.begin_nested():
            result = await conn.execute(insert(contents).values(values).returning(*_COLUMNS))
    except DBAPIError as exc:
        # The policy refused: the project is not the caller's. Invisible →
        # 404, as if it did not exist; visible (its persona) → 403.
        if sqlstate_of(exc) == "42501":
            if await get_project(conn, data.project_id) is None:
                raise project_not_found(data.project_id) from exc
            raise ProblemError(
                403, "you can read this project but not add to it", slug="read-only"
            ) from exc
        raise
    return result.mappings().one()


async def get_content(conn: AsyncConnection, content_id: uuid.UUID) -> RowMapping | None:
    result = await conn.execute(select(*_COLUMNS).where(contents.c.id == content_id, _ALIVE))
    return result.mappings().one_or_none()


async def list_contents(
    conn: AsyncConnection, *, filters: dict[str, Any], limit: int, cursor: str | None
) -> tuple[list[RowMapping], str | None]:
    query = select(*_COLUMNS).where(_ALIVE)
    for column, value in filters.items():
        if value is not None:
            query = query.where(contents.c[column] == value)
    query = paginate(query, contents.c.created_at, contents.c.id, limit=limit, cursor=cursor)
    rows = list((await conn.execute(query)).mappings())
    return page_of(rows, limit)


async def _refused_write(conn: AsyncConnection, content_id: uuid.UUID) -> ProblemError:
    if await get_content(conn, content_id) is None:
        return content_not_found(content_id)
    return ProblemError(403, "you can read this content but not change it", slug="read-only")


async def update_content(
    conn: AsyncConnection, content_id: uuid.UUID, data: ContentUpdate
) -> RowMapping:
    values = data.model_dump(mode="json", exclude_unset=True)
    if not values:
        row = await get_content(conn, content_id)
        if row is None:
            raise content_not_found(content_id)
        return row
    result = await conn.execute(
        update(contents)
        .where(contents.c.id == content_id, _ALIVE)
        .values(values)
        .returning(*_COLUMNS)
    )
    row = result.mappings().one_or_none()
    if row is None:
        raise await _refused_write(conn, content_id)
    return row


async def delete_content(conn: AsyncConnection, content_id: uuid.UUID) -> None:
    """Soft delete: the row stays (with its children) until purged."""
    result = await conn.execute(
        update(contents)
        .where(contents.c.id == content_id, _ALIVE)
        .values(deleted_at=func.now())
        .returning(contents.c.id)
    )
    if result.first() is None:
        raise await _refused_write(conn, content_id)
