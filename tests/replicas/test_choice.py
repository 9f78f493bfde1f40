"""Which replica a read may use, from what is remembered (no database)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.db.replicas import (
    RECHECK_SECONDS,
    Replica,
    Replicas,
    format_lsn,
    parse_lsn,
    read_urls,
)

pytestmark = pytest.mark.pure

ENGINE: Any = None  # choices never touch it


def replicas(n: int = 2) -> Replicas:
    return Replicas([Replica(ENGINE, f"r{i}") for i in range(n)])


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_a_position_reads_back_as_printed(position: int) -> None:
    assert parse_lsn(format_lsn(position)) == position


@pytest.mark.parametrize("value", [None, "", "16", "1/2/3", "G/0", "123456789/0", " /1"])
def test_a_malformed_token_is_no_token(value: str | None) -> None:
    assert parse_lsn(value) is None


def test_several_urls_and_a_multi_host_one() -> None:
    value = "postgresql://a:1@r1/db, postgres://r2:5432,r3:5432/db,postgresql+asyncpg://r4/db"
    assert read_urls(value) == [
        "postgresql://a:1@r1/db",
        "postgres://r2:5432,r3:5432/db",
        "postgresql+asyncpg://r4/db",
    ]
    assert read_urls("  ") == [] and read_urls(None) == []


def test_reads_without_a_token_take_the_replicas_in_turn() -> None:
    pool = replicas(2)
    chosen = [pool.choose(None).replica for _ in range(4)]
    assert chosen == [pool.all[0], pool.all[1], pool.all[0], pool.all[1]]
    assert not any(pool.choose(None).check for _ in range(4))


def test_a_token_goes_to_a_replica_known_past_it_without_asking() -> None:
    pool = replicas(2)
    pool.all[1].saw(100)
    for _ in range(3):
        choice = pool.choose(100)
        assert choice.replica is pool.all[1] and not choice.check


def test_a_replica_behind_is_asked_at_most_every_recheck_interval() -> None:
    pool = replicas(1)
    first = pool.choose(100)
    assert first.replica is pool.all[0] and first.check
    # Meanwhile, reads with that token go to the primary, not all to ask it.
    assert pool.choose(100).replica is None
    pool.all[0].checked_at -= RECHECK_SECONDS
    assert pool.choose(100).check


def test_a_replica_down_is_skipped_then_tried_again() -> None:
    pool = replicas(2)
    pool.all[0].mark_down(OSError("refused"))
    assert {pool.choose(None).replica for _ in range(4)} == {pool.all[1]}
    pool.all[1].mark_down(OSError("refused"))
    assert pool.choose(None).replica is None
    pool.all[0].down_until = time.monotonic() - 1
    assert pool.choose(None).replica is pool.all[0]
