"""bench/compare.py's pure parts: the ABBA order of the sides and the
summary of the per-round CPU figures into a ratio, a spread and a verdict."""

from __future__ import annotations

import pytest

from bench.compare import summarize
from bench.measure import abba

pytestmark = pytest.mark.pure


def test_each_round_alternates_which_side_starts() -> None:
    assert abba(["before", "after"], 4) == [
        ["before", "after"],
        ["after", "before"],
        ["before", "after"],
        ["after", "before"],
    ]


def test_the_ratio_pairs_the_rounds_so_a_drift_between_rounds_cancels() -> None:
    # The host slows down by half over the run; after costs 2 % more in every round.
    before = [1.0, 1.2, 1.4, 1.6]
    after = [1.02, 1.224, 1.428, 1.632]
    summary = summarize(before, after)

    assert summary.before_ms == pytest.approx(1.3)
    assert summary.ratio == pytest.approx(1.02)
    assert summary.spread == pytest.approx((1.02, 1.02))
    assert summary.verdict() == "within 5 %"


def test_a_slowdown_past_the_bound_is_named() -> None:
    summary = summarize([2.0, 2.0, 2.0], [2.1, 2.2, 2.4])

    assert summary.ratio == pytest.approx(1.1)
    assert summary.spread == pytest.approx((1.05, 1.2))
    assert summary.verdict().startswith("slower by 10.0 %")


def test_a_verdict_the_noise_does_not_settle_says_so() -> None:
    settled = summarize([1.0] * 8, [1.10, 1.11, 1.12, 1.09, 1.10, 1.11, 1.12, 1.10])
    unsettled = summarize([1.0] * 8, [0.80, 1.30, 0.95, 1.25, 1.02, 0.85, 1.40, 0.90])

    assert settled.verdict() == "slower by 10.5 %"
    assert unsettled.verdict().startswith("within 5 % (not settled: 90 % up to ")


def test_both_sides_must_have_run_the_same_rounds() -> None:
    with pytest.raises(ValueError, match="same rounds"):
        summarize([1.0, 1.0], [1.0])


def test_the_middle_half_of_the_rounds_leaves_out_the_outliers() -> None:
    summary = summarize([1.0] * 5, [0.5, 0.98, 1.0, 1.02, 3.0])

    assert summary.ratio == pytest.approx(1.0)
    assert summary.quartiles == pytest.approx((0.98, 1.02))
    assert summary.spread == pytest.approx((0.5, 3.0))
