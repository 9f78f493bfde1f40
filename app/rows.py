"""What every resource table's service does the same way: get, list a keyset
page, update and delete by id. Row level security scopes each statement to
the caller; a write that matches no row is turned into the right refusal
(404 when the row is invisible, exactly as if it did not exist; 403 when the
caller may read it but not change it)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.pagination import page_of, paginate
from app.problems import ProblemError


@dataclass(frozen=True)
class TableRows:
    table: Table
    noun: str
    read_only_detail: str

    def not_found(self, row_id: uuid.UUID) -> ProblemError:
        return ProblemError(404, f"{self.noun} {row_id} does not exist", slug="not-found")

    async def get(self, conn: AsyncConnection, row_id: uuid.UUID) -> RowMapping | None:
        result = await conn.execute(select(self.table).where(self.table.c.id == row_id))
        return result.mappings().one_or_none()

    async def require(self, conn: AsyncConnection, row_id: uuid.UUID) -> RowMapping:
        row = await self.get(conn, row_id)
        if row is None:
            raise self.not_found(row_id)
        return row

    async def page(
        self,
        conn: AsyncConnection,
        *,
        filters: dict[str, Any],
        limit: int,
        cursor: str | None,
        where: Sequence[ColumnElement[bool]] = (),
    ) -> tuple[list[RowMapping], str | None]:
        """One page in (created_at, id) order; filters whose value is None are ignored."""
        query = select(self.table).where(*where)
        for column, value in filters.items():
            if value is not None:
                query = query.where(self.table.c[column] == value)
        query = paginate(
            query, self.table.c.created_at, self.table.c.id, limit=limit, cursor=cursor
        )
        return page_of(list((await conn.execute(query)).mappings()), limit)

    async def refusal(self, conn: AsyncConnection, row_id: uuid.UUID) -> ProblemError:
        if await self.get(conn, row_id) is None:
            return self.not_found(row_id)
        return ProblemError(403, self.read_only_detail, slug="read-only")

    async def update(
        self, conn: AsyncConnection, row_id: uuid.UUID, values: dict[str, Any]
    ) -> RowMapping:
        if not values:
            return await self.require(conn, row_id)
        result = await conn.execute(
            update(self.table)
            .where(self.table.c.id == row_id)
            .values(**values)
            .returning(*self.table.c)
        )
        row = result.mappings().one_or_none()
        if row is None:
            raise await self.refusal(conn, row_id)
        return row

    async def delete(self, conn: AsyncConnection, row_id: uuid.UUID) -> None:
        result = await conn.execute(
            delete(self.table).where(self.table.c.id == row_id).returning(self.table.c.id)
        )
        if result.first() is None:
            raise await self.refusal(conn, row_id)
