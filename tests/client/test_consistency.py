"""The client's read-your-writes: it keeps the newest consistency token a
write answered with and sends it with its reads (issue 21)."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from creatoros_client._core import CONSISTENCY_HEADER, Consistency

pytestmark = pytest.mark.pure


def answer(token: str | None) -> httpx.Response:
    headers = {CONSISTENCY_HEADER: token} if token is not None else {}
    return httpx.Response(200, headers=headers)


def lsn(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


def test_reads_carry_the_newest_token_and_writes_none() -> None:
    consistency = Consistency()
    assert consistency.headers("GET") == {}
    consistency.observe(answer("0/16B3748"))
    consistency.observe(answer("1/0"))
    consistency.observe(answer("0/FFFFFFFF"))  # older than 1/0: kept out
    consistency.observe(answer(None))
    consistency.observe(answer("garbage"))
    assert consistency.headers("GET") == {CONSISTENCY_HEADER: "1/0"}
    assert consistency.headers("HEAD") == {CONSISTENCY_HEADER: "1/0"}
    assert consistency.headers("PUT") == {}


@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=1, max_size=20))
def test_the_token_kept_is_the_highest_position_seen(positions: list[int]) -> None:
    consistency = Consistency()
    for position in positions:
        consistency.observe(answer(lsn(position)))
    assert consistency.headers("GET") == {CONSISTENCY_HEADER: lsn(max(positions))}


@given(st.text(max_size=40))
def test_any_header_value_is_kept_only_when_it_is_a_position(value: str) -> None:
    consistency = Consistency()
    try:
        response = answer(value)
    except (UnicodeEncodeError, httpx.LocalProtocolError):
        return  # not a header httpx can carry
    consistency.observe(response)
    sent = consistency.headers("GET")
    assert sent == {} or sent == {CONSISTENCY_HEADER: value}
