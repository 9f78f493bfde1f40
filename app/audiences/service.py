"""Audiences in SQL. Row level security scopes every statement to the
caller: an audience is visible and writable to its owner only."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import RowMapping, Table, delete, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audiences.schemas import AudienceCreate, AudienceUpdate
from app.models import AudienceProfile
from app.pagination import page_of, paginate
from app.problems import ProblemError, sqlstate_of

audiences = cast(Table, AudienceProfile.__table__)

NO_MIND = ProblemError(
    403,
    "only a mind can own audiences and this token has none; "
    "an admin provisions one with `creatoros minds create`",
    slug="no-mind",
)


def audience_not_found(audience_id: uuid.UUID) -> ProblemError:
    return ProblemError(404, f"audience {audience_id} does not exist", slug="not-found")


async def create_audience(conn: AsyncConnection, data: AudienceCreate) -> RowMapping:
    values = data.model_dump(mode="json")
    try:
        result = await conn.execute(insert(audiences).values(**values).returning(*audiences.c))
    except DBAPIError as exc:
        # The only policy an insert can fail is "the owner is me"; the owner
        # is the database's default, so the caller has no mind.
        if sqlstate_of(exc) == "42501":
            raise NO_MIND from exc
        raise
    row = result.mappings().one()
    if row["owner_mind_id"] is None:
        # service_role bypasses RLS, so its insert succeeds with no owner: an
        # audience nobody but service_role could ever see. Raising rolls the
        # request's transaction back.
        raise NO_MIND
    return row


async def get_audience(conn: AsyncConnection, audience_id: uuid.UUID) -> RowMapping | None:
    result = await conn.execute(select(audiences).where(audiences.c.id == audience_id))
    return result.mappings().one_or_none()


async def list_audiences(
    conn: AsyncConnection,
    *,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
) -> tuple[list[RowMapping], str | None]:
    query = select(audiences)
    for column, value in filters.items():
        if value is not None:
            query = query.where(audiences.c[column] == value)
    query = paginate(query, audiences.c.created_at, audiences.c.id, limit=limit, cursor=cursor)
    rows = list((await conn.execute(query)).mappings())
    return page_of(rows, limit)


async def _refused_write(conn: AsyncConnection, audience_id: uuid.UUID) -> ProblemError:
    """A write matched no row. Today an audience is visible only to the one
    who may write it, so this is a 404; the 403 branch keeps the answer right
    should a read-only policy (a shared audience) ever be added."""
    if await get_audience(conn, audience_id) is None:
        return audience_not_found(audience_id)
    return ProblemError(403, "you can read this audience but not change it", slug="read-only")


async def update_audience(
    conn: AsyncConnection, audience_id: uuid.UUID, data: AudienceUpdate
) -> RowMapping:
    values = data.model_dump(mode="json", exclude_unset=True)
    if not values:
        row = await get_audience(conn, audience_id)
        if row is None:
            raise audience_not_found(audience_id)
        return row
    result = await conn.execute(
        update(audiences)
        .where(audiences.c.id == audience_id)
        .values(**values)
        .returning(*audiences.c)
    )
    row = result.mappings().one_or_none()
    if row is None:
        raise await _refused_write(conn, audience_id)
    return row


async def delete_audience(conn: AsyncConnection, audience_id: uuid.UUID) -> None:
    try:
        result = await conn.execute(
            delete(audiences).where(audiences.c.id == audience_id).returning(audiences.c.id)
        )
    except DBAPIError as exc:
        # `content_projects.target_audience_id` has no ON DELETE action: a
        # project still aims at this audience. The generic mapping of 23503
        # ("a referenced row does not exist") would mislead here.
        if sqlstate_of(exc) == "23503":
            raise ProblemError(
                409,
                "a project still targets this audience; point it elsewhere first",
                slug="in-use",
            ) from exc
        raise
    if result.first() is None:
        raise await _refused_write(conn, audience_id)
