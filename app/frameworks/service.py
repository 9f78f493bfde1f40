"""Frameworks in SQL. Row level security scopes every statement to the
caller: global frameworks (no owner) and their own are visible, only their
own are writable."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import RowMapping, Table, delete, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.frameworks.schemas import FrameworkCreate, FrameworkUpdate
from app.models import ContentFramework
from app.pagination import page_of, paginate
from app.problems import ProblemError, sqlstate_of

frameworks = cast(Table, ContentFramework.__table__)

NO_MIND = ProblemError(
    403,
    "your user has no mind yet, so it cannot own frameworks; "
    "an admin provisions one with `creatoros minds create`",
    slug="no-mind",
)


def framework_not_found(framework_id: uuid.UUID) -> ProblemError:
    return ProblemError(404, f"framework {framework_id} does not exist", slug="not-found")


async def create_framework(conn: AsyncConnection, data: FrameworkCreate) -> RowMapping:
    values = data.model_dump(mode="json")
    try:
        result = await conn.execute(insert(frameworks).values(**values).returning(*frameworks.c))
    except DBAPIError as exc:
        # The only policy an insert can fail is "the owner is me"; the owner
        # is the database's default, so the caller has no mind. (service_role
        # bypasses RLS: its frameworks have no owner, i.e. they are global.)
        if sqlstate_of(exc) == "42501":
            raise NO_MIND from exc
        raise
    return result.mappings().one()


async def get_framework(conn: AsyncConnection, framework_id: uuid.UUID) -> RowMapping | None:
    result = await conn.execute(select(frameworks).where(frameworks.c.id == framework_id))
    return result.mappings().one_or_none()


async def list_frameworks(
    conn: AsyncConnection,
    *,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
) -> tuple[list[RowMapping], str | None]:
    query = select(frameworks)
    for column, value in filters.items():
        if value is not None:
            query = query.where(frameworks.c[column] == value)
    query = paginate(query, frameworks.c.created_at, frameworks.c.id, limit=limit, cursor=cursor)
    rows = list((await conn.execute(query)).mappings())
    return page_of(rows, limit)


async def _refused_write(conn: AsyncConnection, framework_id: uuid.UUID) -> ProblemError:
    """A write matched no row: the framework is either invisible (404, as if
    it did not exist) or visible but not the caller's, which for a tenant
    means a global one (403)."""
    if await get_framework(conn, framework_id) is None:
        return framework_not_found(framework_id)
    return ProblemError(403, "global frameworks are managed by service_role", slug="read-only")


async def update_framework(
    conn: AsyncConnection, framework_id: uuid.UUID, data: FrameworkUpdate
) -> RowMapping:
    values = data.model_dump(mode="json", exclude_unset=True)
    if not values:
        row = await get_framework(conn, framework_id)
        if row is None:
            raise framework_not_found(framework_id)
        return row
    result = await conn.execute(
        update(frameworks)
        .where(frameworks.c.id == framework_id)
        .values(**values)
        .returning(*frameworks.c)
    )
    row = result.mappings().one_or_none()
    if row is None:
        raise await _refused_write(conn, framework_id)
    return row


async def delete_framework(conn: AsyncConnection, framework_id: uuid.UUID) -> None:
    result = await conn.execute(
        delete(frameworks).where(frameworks.c.id == framework_id).returning(frameworks.c.id)
    )
    if result.first() is None:
        raise await _refused_write(conn, framework_id)
