"""The keyset cursor, without a database: what it encodes comes back, and a
cursor this API did not issue is a 422 problem, not a 500."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from app.http.pagination import decode_cursor, encode_cursor, page_of
from app.http.problems import ProblemError

pytestmark = pytest.mark.pure


def test_cursor_round_trip() -> None:
    created, row_id = datetime(2026, 11, 25, 18, 0, 1, 123456, tzinfo=UTC), uuid.uuid4()
    cursor = encode_cursor(created, row_id)
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor  # URL-safe
    assert decode_cursor(cursor) == (created, row_id)


@pytest.mark.parametrize(
    "cursor", ["", "not base64 !", "e30", "WyJ4IiwgInkiXQ", "WzEsIDJd", "W10", "bnVsbA"]
)
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(ProblemError) as refused:
        decode_cursor(cursor)
    assert refused.value.status == 422


def test_page_of_says_whether_there_is_more() -> None:
    rows = [
        {"created_at": datetime(2026, 1, 1, tzinfo=UTC), "id": uuid.UUID(int=i)} for i in range(3)
    ]
    assert page_of(rows[:2], 2) == (rows[:2], None)
    items, cursor = page_of(rows, 2)
    assert items == rows[:2]
    assert cursor is not None and decode_cursor(cursor)[1] == rows[1]["id"]
