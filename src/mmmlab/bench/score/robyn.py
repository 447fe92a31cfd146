"""The ``robyn`` metric group, Robyn's own metrics: R², MAPE and NRMSE per split window, R²
adjusted for the backend's regression terms (where it counts them), and DECOMP.RSSD (the
distance between effect shares and spend shares, with Robyn's zero-effect penalty)."""

from __future__ import annotations

from mmmlab.bench.score.fitted import FittedCell, Metric, MetricGroup
from mmmlab.bench.score.predictive import window_fit
from mmmlab.data import Dataset


def _window(cell: FittedCell, name: str, window: Dataset) -> list[Metric]:
    from mmmlab.metrics.robyn import adjusted_r2

    out = window_fit(cell, name, window)
    if cell.capabilities.n_features:
        y, y_hat = window.target.ravel(), cell.point(name).ravel()
        n_train = cell.train.target.size  # Robyn adjusts held-out R² by the training n
        adjusted = adjusted_r2(y, y_hat, cell.fit.n_features, n_train=n_train)
        out.append((f"adjusted_r2_{name}", "", adjusted))
    return out


def _cell(cell: FittedCell) -> list[Metric]:
    from mmmlab.metrics.robyn import decomp_rssd

    return [("decomp_rssd", "", decomp_rssd(cell.channel_totals.mean(axis=0), cell.spend))]


ROBYN = MetricGroup("robyn", window=_window, cell=_cell, needs=("contributions",))
