"""The ``recovery`` metric group: a cell's fit scored against its world's answer key:
contributions (per channel, and per channel × geo), ROAS and its 90% interval, and the
parameters whose meaning every engine shares. Per-element keys are ``channel`` or
``channel|geo``, parameter elements ``name[channel]``.
"""

from __future__ import annotations

import numpy as np

from mmmlab.bench.score.fitted import FittedCell, Metric, MetricGroup
from mmmlab.data import Dataset
from mmmlab.metrics.recovery import contribution_recovery, covers, parameter_recovery

# Parameters scored across engines: their meaning does not depend on how an engine scales its
# data. Geometric adstock decay (the share carried to the next period) and the Hill exponent.
SHARED_PARAMETERS = ("geometric_alpha", "hill_slope")


def recovery_metrics(
    contributions: np.ndarray, roas: np.ndarray, train: Dataset, truth, parameters=None
) -> list[Metric]:
    """Every recovery metric of one fit.

    contributions : draws (S, T, G, C) on the training window; roas : draws (S, C)
    parameters : the backend's ``parameters()`` (draws by name, dims), or None to skip them
    """
    rows = train.time_index
    true_contrib = truth.contributions[rows]  # (T, G, C)
    spend = train.spend.sum(axis=(0, 1))
    true_roas = true_contrib.sum(axis=(0, 1)) / np.where(spend > 0, spend, np.nan)
    cover = covers(np.nan_to_num(roas), np.nan_to_num(true_roas), 0.9)
    mean_contrib = contributions.mean(axis=0)  # (T, G, C)
    summed = contribution_recovery(mean_contrib.sum(axis=1), true_contrib.sum(axis=1))
    roas_mean = np.nanmean(roas, axis=0)
    out: list[Metric] = []
    for c, ch in enumerate(train.channels):
        out += [
            ("roas_true", ch, true_roas[c]),
            ("roas_cover90", ch, float(cover[c])),
            ("contribution_srmse", ch, summed["srmse"][c]),
            ("contribution_bias", ch, summed["bias"][c]),
            ("contribution_r2", ch, summed["r2"][c]),
        ]
    out += [
        ("roas_coverage_90", "", float(np.mean(cover))),
        ("roas_mae", "", float(np.nanmean(np.abs(roas_mean - true_roas)))),
        ("roas_bias", "", float(np.nanmean(roas_mean - true_roas))),
        ("contribution_srmse_median", "", float(np.nanmedian(summed["srmse"]))),
    ]
    if train.n_geos > 1:
        out += _per_geo(mean_contrib, true_contrib, train)
    if parameters is not None:
        out += _parameters(parameters, truth, train)
    return out


def _per_geo(mean_contrib: np.ndarray, true_contrib: np.ndarray, train: Dataset) -> list[Metric]:
    """Bias, SRMSE and R² of each channel × geo contribution series, and their medians."""
    found = contribution_recovery(mean_contrib, true_contrib)  # each (G, C)
    out: list[Metric] = []
    for g, geo in enumerate(train.geos):
        for c, ch in enumerate(train.channels):
            key = f"{ch}|{geo}"
            out += [(f"geo_contribution_{k}", key, found[k][g, c]) for k in ("bias", "srmse", "r2")]
    out += [
        ("geo_contribution_srmse_median", "", float(np.nanmedian(found["srmse"]))),
        ("geo_contribution_r2_median", "", float(np.nanmedian(found["r2"]))),
    ]
    return out


def _parameters(parameters, truth, train: Dataset) -> list[Metric]:
    """Per element: posterior mean minus truth and whether the 90% interval covers it; per
    parameter: mean absolute error and coverage. Only `SHARED_PARAMETERS` of equal shape."""
    draws, _dims = parameters
    wanted = {
        name: np.asarray(truth.params[name], float)
        for name in SHARED_PARAMETERS
        if name in draws and name in truth.params
    }
    wanted = {k: v for k, v in wanted.items() if np.shape(draws[k])[1:] == v.shape}
    if not wanted:
        return []
    labels = {
        k: [list(train.channels)] for k, v in wanted.items() if v.shape == (train.n_channels,)
    }
    table = parameter_recovery({k: draws[k] for k in wanted}, wanted, labels)
    out: list[Metric] = []
    for row in table.itertuples(index=False):
        out += [
            ("param_error", row.parameter, row.bias),
            ("param_cover90", row.parameter, row.cover90),
        ]
    for name in wanted:
        part = table[table.parameter.str.startswith(f"{name}[") | (table.parameter == name)]
        out += [
            (f"{name}_mae", "", float(np.mean(np.abs(part.bias)))),
            (f"{name}_cover90", "", float(np.mean(part.cover90))),
        ]
    return out


def _recovery(cell: FittedCell) -> list[Metric]:
    if cell.truth is None:
        return []
    params = cell.fit.parameters() if cell.capabilities.parameters else None
    return recovery_metrics(cell.contributions, cell.roas, cell.train, cell.truth, params)


RECOVERY = MetricGroup("recovery", cell=_recovery, needs=("contributions",))
