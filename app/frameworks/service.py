"""Frameworks in SQL. Row level security scopes every statement to the
caller: global frameworks (no owner) and their own are visible, only their
own are writable."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import ContentFramework
from app.db.rows import Row, TableRows
from app.frameworks.schemas import FrameworkCreate

frameworks = cast(Table, ContentFramework.__table__)

# Visible but not writable means, for a tenant, a global framework.
ROWS = TableRows(frameworks, "framework", "global frameworks are managed by service_role")


async def create_framework(conn: AsyncConnection, data: FrameworkCreate) -> Row:
    # service_role bypasses RLS: its frameworks get no owner, i.e. are global.
    return await ROWS.insert_owned(conn, data.model_dump(mode="json"))


require_framework = ROWS.require
list_frameworks = ROWS.page
update_framework = ROWS.patch
delete_framework = ROWS.delete
