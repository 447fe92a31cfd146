"""The lift tests of a calibrated fit side by side with what the fit predicts for them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mmmlab.data.lift_tests import check_lift_tests
from mmmlab.metrics.roas import draw_interval

if TYPE_CHECKING:
    from mmmlab.inference.fit import Fit

DISAGREE_Z = 2.0  # |z| above which a test and the calibrated fit are flagged as disagreeing


def lift_table(fit: Fit) -> pd.DataFrame:
    """One row per lift test of `fit` (none without): the test, its measured lift ± se, the
    fit's predicted lift (mean, 90% interval) and their standardised gap.

    ``z = (predicted mean - lift) / sqrt(lift_se² + predicted sd²)``, both uncertainties
    counted; ``disagree`` is ``|z| > 2``. Lifts are in target units, summed over the test's
    geos from `start` to `measure_end` (the default resolved to its date).
    """
    tests = fit.lift_tests
    columns = [
        "test", "channel", "geo", "start", "end", "measure_end", "spend_change", "lift",
        "lift_se", "predicted_mean", "predicted_lo", "predicted_hi", "z", "disagree",
    ]  # fmt: skip
    if not tests:
        return pd.DataFrame(columns=columns)
    draws = fit.lift_draws()  # (S, N)
    lo, hi = draw_interval(draws)
    mean = draws.mean(axis=0)
    sd = draws.std(axis=0) if len(draws) > 1 else np.zeros(len(tests))
    lift = np.array([t.lift for t in tests])
    se = np.array([t.lift_se for t in tests])
    z = (mean - lift) / np.sqrt(se**2 + sd**2)
    designs = check_lift_tests(tests, fit.train, fit.config.l_max)
    return pd.DataFrame(
        {
            "test": [t.where for t in tests],
            "channel": [t.channel for t in tests],
            "geo": [t.geo or "all" for t in tests],
            "start": [t.start.isoformat() for t in tests],
            "end": [t.end.isoformat() for t in tests],
            "measure_end": [str(fit.train.dates[d.last].date()) for d in designs],
            "spend_change": [t.spend_change for t in tests],
            "lift": lift,
            "lift_se": se,
            "predicted_mean": mean,
            "predicted_lo": lo,
            "predicted_hi": hi,
            "z": z,
            "disagree": np.abs(z) > DISAGREE_Z,
        },
        columns=columns,
    )


def lift_warnings(table: pd.DataFrame) -> list[str]:
    """One line per lift test the calibrated fit disagrees with (|z| > 2)."""
    return [
        f"lift test {row.test} ({row.channel}): measured {row.lift:,.6g} ± {row.lift_se:,.6g}, "
        f"the calibrated fit predicts {row.predicted_mean:,.6g} (z = {row.z:.1f}); the test "
        "and the other data disagree: check the test's dates, spend change and scope"
        for row in table.itertuples()
        if row.disagree
    ]
