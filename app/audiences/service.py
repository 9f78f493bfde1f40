"""Audiences in SQL. Row level security scopes every statement to the
caller: an audience is visible and writable to its owner only."""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audiences.schemas import AudienceCreate
from app.db.models import AudienceProfile
from app.db.rows import Row, TableRows, no_mind
from app.http.problems import InUse, sqlstate_of

audiences = cast(Table, AudienceProfile.__table__)

# Today an audience is visible only to the one who may write it, so a refused
# write is a 404; the 403 stays right should a shared audience ever be added.
ROWS = TableRows(audiences, "audience", "you can read this audience but not change it")


async def create_audience(conn: AsyncConnection, data: AudienceCreate) -> Row:
    row = await ROWS.insert_owned(conn, data.model_dump(mode="json"))
    if row["owner_mind_id"] is None:
        # service_role bypasses RLS, so its insert succeeds with no owner: an
        # audience nobody but service_role could ever see. Raising rolls the
        # request's transaction back.
        raise no_mind("audiences")
    return row


require_audience = ROWS.require
list_audiences = ROWS.page
update_audience = ROWS.patch


async def delete_audience(conn: AsyncConnection, audience_id: uuid.UUID) -> None:
    try:
        await ROWS.delete(conn, audience_id)
    except DBAPIError as exc:
        # `content_projects.target_audience_id` has no ON DELETE action: a
        # project still aims at this audience. The generic mapping of 23503
        # ("a referenced row does not exist") would mislead here.
        if sqlstate_of(exc) == "23503":
            raise InUse("a project still targets this audience; point it elsewhere first") from exc
        raise
