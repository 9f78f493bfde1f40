"""Keyset pagination: `?limit=&cursor=` in, `{"items", "next_cursor"}` out.

The cursor is opaque to clients (base64 of the last row's sort key), so the
sort key can change without breaking them; a page never skips or repeats a
row when rows are added meanwhile, unlike OFFSET.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypedDict, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from app.http.problems import InvalidCursor

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}.")]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="`next_cursor` of the previous page; omit for the first."),
]


class PageRequest(TypedDict):
    """The page a list endpoint was asked for, as the services' `page`
    methods take it (`**page`)."""

    limit: int
    cursor: str | None


async def page_request(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> PageRequest:
    """`?limit=&cursor=`, declared once for every list endpoint. FastAPI lists
    a dependency's query parameters in the order the endpoint takes its
    dependencies: a list takes this one first, then its filters."""
    return {"limit": limit, "cursor": cursor}


PageQuery = Annotated[PageRequest, Depends(page_request)]


class ListRequest(PageRequest):
    """A filtered list's query: its page and its `filters`, by column, as
    the services' `page` methods take them (`**query`)."""

    filters: dict[str, Any]


class ListQuery:
    """A filtered list endpoint's query string as one dependency:
    `ListQuery(status=ProjectStatus, slug=str)` takes `?limit=&cursor=`
    (as `page_request` declares them, first) then `?status=&slug=`, each
    filter optional, and answers the page with `filters` by the column each
    one compares (None for one left out: no filter on that column)."""

    def __init__(self, **columns: Any) -> None:
        # FastAPI reads a dependency's parameters from its signature.
        page = list(inspect.signature(page_request, eval_str=True).parameters.values())
        filters = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                              annotation=kind | None)
            for name, kind in columns.items()
        ]  # fmt: skip
        self.__signature__ = inspect.Signature([*page, *filters], return_annotation=ListRequest)

    async def __call__(self, limit: int, cursor: str | None, **filters: Any) -> ListRequest:
        return {"limit": limit, "cursor": cursor, "filters": filters}


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


def encode_key(*values: Any) -> str:
    """An opaque cursor holding a row's sort key (JSON values)."""
    raw = json.dumps(list(values)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def invalid_cursor() -> InvalidCursor:
    return InvalidCursor("the cursor is not one this API issued")


def decode_key(cursor: str, size: int) -> list[Any]:
    """The `size` values `encode_key` put in `cursor`; anything else is a 422."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise invalid_cursor() from exc
    if not isinstance(values, list) or len(values) != size:
        raise invalid_cursor()
    return values


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    return encode_key(created_at.isoformat(), str(row_id))


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    created_at, row_id = decode_key(cursor, 2)
    try:
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            raise ValueError("a cursor's time has an offset")
        # In UTC, as the database compares it: year 1 at +14:00 or year 9999
        # at -14:00 falls outside what a datetime (and timestamptz) holds.
        return moment.astimezone(UTC), uuid.UUID(row_id)
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise invalid_cursor() from exc


def page_of(rows: list[Any], limit: int) -> tuple[list[Any], str | None]:
    """The page's rows (fetched with one extra) and the cursor after them."""
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(last["created_at"], last["id"])
