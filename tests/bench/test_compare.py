

def test_the_middle_half_of_the_rounds_leaves_out_the_outliers() -> None:
    summary = summarize([1.0] * 5, [0.5, 0.98, 1.0, 1.02, 3.0])

    assert summary.ratio == pytest.approx(1.0)
    assert summary.quartiles == pytest.approx((0.98, 1.02))
    assert summary.spread == pytest.approx((0.5, 3.0))
