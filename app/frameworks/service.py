"""Frameworks in SQL. Row level security scopes every statement to the
caller: global frameworks (no owner) and their own are visible, only their
own are writable."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import ContentFramework
from app.db.rows import Row, TableRows
from app.db.tenancy import Reader
from app.frameworks.schemas import FrameworkCreate, FrameworkUpdate

frameworks = cast(Table, ContentFramework.__table__)

# Visible but not writable means, for a tenant, a global framework.
ROWS = TableRows(frameworks, "framework", "global frameworks are managed by service_role")


async def create_framework(conn: AsyncConnection, data: FrameworkCreate) -> Row:
    # service_role bypasses RLS: its frameworks get no owner, i.e. are global.
    return await ROWS.insert_owned(conn, data.model_dump(mode="json"))


require_framework = ROWS.require


async def list_frameworks(
    conn: Reader, *, filters: dict[str, Any], limit: int, cursor: str | None
) -> tuple[list[Row], str | None]:
    return await ROWS.page(conn, filters=filters, limit=limit, cursor=cursor)


async def update_framework(
    conn: AsyncConnection, framework_id: uuid.UUID, data: FrameworkUpdate
) -> Row:
    return await ROWS.update(conn, framework_id, data.model_dump(mode="json", exclude_unset=True))


async def delete_framework(conn: AsyncConnection, framework_id: uuid.UUID) -> None:
    await ROWS.delete(conn, framework_id)
