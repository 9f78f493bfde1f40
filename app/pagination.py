"""Keyset pagination: `?limit=&cursor=` in, `{"items", "next_cursor"}` out.

The cursor is opaque to clients (base64 of the last row's sort key), so the
sort key can change without breaking them; a page never skips or repeats a
row when rows are added meanwhile, unlike OFFSET.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, and_, or_

from app.problems import ProblemError

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}.")]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="`next_cursor` of the previous page; omit for the first."),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, row_id = json.loads(raw)
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            raise ValueError("a cursor's time has an offset")
        # In UTC, as the database compares it: year 1 at +14:00 or year 9999
        # at -14:00 falls outside what a datetime (and timestamptz) holds.
        return moment.astimezone(UTC), uuid.UUID(row_id)
    except (binascii.Error, ValueError, TypeError, OverflowError) as exc:
        raise ProblemError(
            422, "the cursor is not one this API issued", slug="invalid-cursor"
        ) from exc


def paginate(
    query: Select[Any],
    created_at: ColumnElement[Any],
    row_id: ColumnElement[Any],
    *,
    limit: int,
    cursor: str | None,
) -> Select[Any]:
    """Order by (created_at, id) and start after the cursor; fetch one extra
    row to know whether there is a next page."""
    if cursor:
        after_created, after_id = decode_cursor(cursor)
        query = query.where(
            or_(created_at > after_created, and_(created_at == after_created, row_id > after_id))
        )
    return query.order_by(created_at, row_id).limit(limit + 1)


def page_of(rows: list[Any], limit: int) -> tuple[list[Any], str | None]:
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(last.created_at, last.id)
