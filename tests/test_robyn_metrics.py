"""Robyn's metrics against values computed by hand on tiny tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmmlab.metrics import predictive
from mmmlab.metrics.robyn import (
    LiftTest,
    adjusted_r2,
    check_lift_test,
    lift_window,
    mape_lift,
    nrmse,
    predicted_lift,
)

Y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
Y_HAT = np.array([1.1, 1.9, 3.2, 3.8, 5.0])
# SSE = 0.01 + 0.01 + 0.04 + 0.04 + 0 = 0.10; SST = 4 + 1 + 0 + 1 + 4 = 10; R² = 0.99
SSE, R2 = 0.10, 0.99

# Five weeks starting Monday 2024-01-01, two channels.
DATES = pd.date_range("2024-01-01", periods=5, freq="7D")
TOTAL = np.array([[10.0, 1.0], [20.0, 2.0], [30.0, 3.0], [40.0, 4.0], [50.0, 5.0]])
IMMEDIATE = TOTAL / 2
SPEND = np.array([[5.0, 1.0], [6.0, 1.0], [7.0, 1.0], [8.0, 1.0], [9.0, 1.0]])


def test_adjusted_r2_follows_robyns_get_rsq():
    # n = 5, p = 2: residual df = n - p - 1 = 2
    assert adjusted_r2(Y, Y_HAT, n_features=2) == pytest.approx(1 - (1 - R2) * (5 - 1) / 2)
    # intercept dropped (df_int = 0): (n - 0) / 2
    assert adjusted_r2(Y, Y_HAT, 2, df_int=0) == pytest.approx(1 - (1 - R2) * 5 / 2)
    # a held-out window uses the training n: n = 10 -> (10 - 1) / (10 - 2 - 1)
    assert adjusted_r2(Y, Y_HAT, 2, n_train=10) == pytest.approx(1 - (1 - R2) * 9 / 7)
    with pytest.raises(ValueError, match="no residual degrees of freedom"):
        adjusted_r2(Y, Y_HAT, n_features=4)


def test_nrmse_is_rmse_over_the_range_and_reuses_the_predictive_one():
    assert nrmse is predictive.nrmse
    assert nrmse(Y, Y_HAT) == pytest.approx(np.sqrt(SSE / 5) / (5 - 1))


def test_lift_window_takes_the_overlapping_periods_and_scales_by_days():
    # 2024-01-10..2024-01-21 touches week 2 (01-08..01-14) and week 3 (01-15..01-21):
    # 2 periods = 14 model days for 12 lift days.
    test = LiftTest("a", "2024-01-10", "2024-01-21", lift=30.0, spend=13.0)
    rows, scale = lift_window(test, DATES, period_days=7)
    assert rows.tolist() == [False, True, True, False, False]
    assert scale == pytest.approx(12 / 14)


def test_predicted_lift_by_scope_and_for_summed_channels():
    immediate = LiftTest("a", "2024-01-10", "2024-01-21", lift=30.0, spend=13.0)
    total = LiftTest("a", "2024-01-10", "2024-01-21", 30.0, 13.0, scope="total")
    both = LiftTest("a+b", "2024-01-08", "2024-01-21", 30.0, 15.0, scope="total")
    args = (DATES, IMMEDIATE, TOTAL, ["a", "b"], 7)
    assert predicted_lift(immediate, *args) == pytest.approx((10 + 15) * 12 / 14)
    assert predicted_lift(total, *args) == pytest.approx((20 + 30) * 12 / 14)
    assert predicted_lift(both, *args) == pytest.approx(20 + 30 + 2 + 3)  # 14 days of 14
    batch = predicted_lift(
        total, DATES, np.stack([IMMEDIATE] * 3), np.stack([TOTAL] * 3), *args[3:]
    )
    assert batch.shape == (3,) and batch[0] == pytest.approx(50 * 12 / 14)


def test_lift_tests_are_checked_against_the_data():
    args = (DATES, SPEND, ["a", "b"], 7)
    check_lift_test(LiftTest("a", "2024-01-08", "2024-01-21", 30.0, spend=13.0), *args)  # 6 + 7
    off = LiftTest("a", "2024-01-08", "2024-01-21", lift=30.0, spend=20.0)
    with pytest.warns(UserWarning, match="differs by more than 10%"):
        check_lift_test(off, *args)
    with pytest.raises(ValueError, match=r"unknown channel\(s\) \['tv'\]"):
        check_lift_test(LiftTest("tv", "2024-01-08", "2024-01-21", 1.0, 1.0), *args)
    with pytest.raises(ValueError, match="outside the model window"):
        check_lift_test(LiftTest("a", "2025-01-01", "2025-01-07", 1.0, 1.0), *args)


def test_mape_lift_is_the_mean_relative_error_over_tests():
    tests = [
        LiftTest("a", "2024-01-01", "2024-01-07", lift=100.0, spend=5.0),
        LiftTest("b", "2024-01-01", "2024-01-07", lift=-50.0, spend=1.0),
    ]
    # |90 - 100| / 100 = 0.1 and |-40 + 50| / 50 = 0.2
    assert mape_lift(np.array([90.0, -40.0]), tests) == pytest.approx(0.15)
    batch = mape_lift(np.array([[90.0, -40.0], [100.0, -50.0]]), tests)
    assert batch == pytest.approx([0.15, 0.0])
    with pytest.raises(ValueError, match="for 2 tests"):
        mape_lift(np.array([1.0, 2.0, 3.0]), tests)


def test_lift_test_from_a_spec_dict_names_bad_keys():
    raw = {"channel": "a", "start": "2024-01-01", "end": "2024-01-14", "lift": 5, "spend": 2}
    test = LiftTest.from_dict(raw)
    assert test.scope == "immediate" and test.lift == 5.0 and str(test.end) == "2024-01-14"
    with pytest.raises(ValueError, match=r"lift_tests\[0\]: unknown key\(s\) \['liftAbs'\]"):
        LiftTest.from_dict(raw | {"liftAbs": 5}, "lift_tests[0]")
    with pytest.raises(ValueError, match=r"missing key\(s\) \['spend'\]"):
        LiftTest.from_dict({k: v for k, v in raw.items() if k != "spend"})
    with pytest.raises(ValueError, match="scope must be"):
        LiftTest.from_dict(raw | {"scope": "carryover"})
    with pytest.raises(ValueError, match="start must not be after end"):
        LiftTest.from_dict(raw | {"start": "2024-02-01"})
