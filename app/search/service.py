"""Search in SQL (app/search/sql.py). Row level security decides which
contents are visible, as for every other read."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import Any

from app.db.tenancy import Reader, fetch
from app.http.pagination import decode_key, encode_key, invalid_cursor
from app.http.problems import InvalidQuery
from app.search import sql


def _after(cursor: str | None) -> tuple[float | None, uuid.UUID | None]:
    """The (rank, id) a page starts after; a cursor this API did not issue
    (not two values, a rank that is not a finite number) is a 422."""
    if cursor is None:
        return None, None
    rank, row_id = decode_key(cursor, 2)
    if isinstance(rank, bool) or not isinstance(rank, int | float) or not math.isfinite(rank):
        raise invalid_cursor()
    try:
        return float(rank), uuid.UUID(str(row_id))
    except ValueError as exc:
        raise invalid_cursor() from exc


def _invalid_query(detail: str, msg: str) -> InvalidQuery:
    issue = {"loc": ["query", "q"], "msg": msg, "type": "value_error"}
    return InvalidQuery(detail).with_errors([issue])


async def search(
    conn: Reader,
    q: str,
    *,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
    marks: tuple[str, str],
) -> tuple[Sequence[Any], str | None]:
    """A page of matches, best first; `marks` (start, stop) wrap each match
    in the snippets, whose text is HTML-escaped."""
    after_rank, after_id = _after(cursor)
    (check,) = await fetch(conn, sql.CHECK_QUERY, q)
    if check["indexable"] == "":
        return [], None  # only stop words or punctuation: nothing can match
    if check["indexable"] == "T":
        raise _invalid_query(
            "the query only excludes words; say what to look for too (e.g. `hooks -git`)",
            "no word to look for",
        )
    if check["excludes_phrase"]:
        raise _invalid_query(
            'excluding a phrase (-"…") is not supported; exclude words (-word) instead',
            "excludes a phrase",
        )
    args = (
        q,
        filters.get("project_id"),
        filters.get("content_type"),
        filters.get("status"),
        after_rank,
        after_id,
        limit + 1,
        *marks,
    )
    rows = await fetch(conn, sql.SEARCH, *args)
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_key(last["rank"], str(last["id"]))
