"""The ``predictive`` and ``fit`` metric groups: each split window's accuracy.

predictive : RMSE of the posterior-predictive mean, coverage of the 90% predictive interval,
    CRPS; fit : R², MAPE, NRMSE, SRMSE and the Durbin-Watson statistic of the residuals
"""

from __future__ import annotations

from mmmlab.bench.score.fitted import FittedCell, Metric, MetricGroup
from mmmlab.data import Dataset


def window_fit(cell: FittedCell, name: str, window: Dataset) -> list[Metric]:
    """R², MAPE and NRMSE of the window's posterior mean (shared by ``fit`` and ``robyn``)."""
    from mmmlab.metrics import fit_metrics

    found = fit_metrics(window.target, cell.point(name))
    return [(f"{metric}_{name}", "", value) for metric, value in found.items()]


def _predictive(cell: FittedCell, name: str, window: Dataset) -> list[Metric]:
    from mmmlab.metrics.predictive import crps, interval_coverage, rmse

    draws, point = cell.draws(name), cell.point(name)
    return [
        (f"{name}_rmse", "", rmse(window.target, point)),
        (f"{name}_coverage_90", "", interval_coverage(window.target, draws)),
        (f"{name}_crps", "", crps(window.target, draws)),
    ]


def _fit(cell: FittedCell, name: str, window: Dataset) -> list[Metric]:
    from mmmlab.metrics.predictive import durbin_watson, srmse

    point = cell.point(name)
    return window_fit(cell, name, window) + [
        (f"srmse_{name}", "", srmse(window.target, point)),
        (f"durbin_watson_{name}", "", durbin_watson(window.target, point)),
    ]


PREDICTIVE = MetricGroup("predictive", window=_predictive)
FIT = MetricGroup("fit", window=_fit)
