"""A fit scored against a simulator's answer key: parameters, ROAS and contributions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mmmlab.analysis.draws import ReportDraws, report_draws
from mmmlab.metrics.recovery import (
    contribution_recovery_table,
    parameter_recovery,
    roas_recovery,
)
from mmmlab.metrics.roas import roas_from_totals
from mmmlab.models.units import natural_params

if TYPE_CHECKING:
    from mmmlab.inference.fit import Fit
    from mmmlab.synth.truth import Truth


def _window(fit: Fit, truth: Truth) -> np.ndarray:
    """Rows of the truth that the fit's training window covers, (T_train,) indices."""
    if truth.channels != fit.channels or truth.geos != fit.train.geos:
        raise ValueError(
            f"truth {truth.name!r} has channels {truth.channels} / geos {truth.geos}; the fit "
            f"has {fit.channels} / {fit.train.geos}: they are not the same world"
        )
    rows = fit.train.time_index
    if rows.max() >= truth.contributions.shape[0]:
        raise ValueError(f"the fit's window runs past truth {truth.name!r}")
    return rows


def fit_recovery(
    fit: Fit, truth: Truth, draws: ReportDraws | None = None
) -> dict[str, pd.DataFrame]:
    """How well `fit` recovers `truth`, over the fit's training window.

    Returns tables ``roas`` (per channel: error, 50%/90% coverage), ``params`` (every named
    parameter the model shares with the truth, in data units) and ``contributions`` (bias,
    SRMSE, R² per geo × channel and summed over geos). `draws`: the training window's
    `report_draws` when the caller has them (the report's), else evaluated here.
    """
    rows = _window(fit, truth)
    contributions = truth.contributions[rows]
    spend = fit.train.spend
    true_roas = np.where(
        spend.sum(axis=(0, 1)) > 0,
        contributions.sum(axis=(0, 1)) / np.maximum(spend.sum(axis=(0, 1)), 1e-300),
        0.0,
    )
    draws = report_draws(fit, multipliers=()) if draws is None else draws
    ratio = roas_from_totals(draws.contribution, draws.bumped, spend)["roas"]
    roas = roas_recovery(np.nan_to_num(ratio), true_roas, fit.channels)
    named, _ = natural_params(fit.flat_posterior(), fit.structure, fit.scaling)
    axes = {"channel": list(fit.channels), "geo": list(fit.train.geos)}
    labels = {
        k: [
            axes.get(d, [str(i) for i in range(n)])
            for d, n in zip(truth.dims[k], np.shape(truth.params[k]), strict=True)
        ]
        for k in truth.params
    }
    shared = {
        k: v
        for k, v in named.items()
        if k in truth.params and np.shape(v)[1:] == np.shape(truth.params[k])
    }
    truth_shared = {k: np.asarray(truth.params[k]) for k in shared}
    params = parameter_recovery(shared, truth_shared, {k: labels[k] for k in shared})
    params = params[np.isfinite(params["truth"].astype(float))].reset_index(drop=True)
    mean = np.stack([draws.bands[ch][0] for ch in fit.channels], axis=-1)  # (T, G, C)
    contrib = contribution_recovery_table(mean, contributions, fit.channels, fit.train.geos)
    return {"roas": roas, "params": params, "contributions": contrib}


def recovery_summary(tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Headline figures: ROAS 90% coverage, mean |ROAS error|, parameter 90% coverage,
    median contribution SRMSE over channels (all geos summed)."""
    roas, params, contrib = tables["roas"], tables["params"], tables["contributions"]
    total = contrib[contrib["geo"] == "all"]
    return {
        "roas_covered_90": int(roas["cover90"].sum()),
        "roas_channels": len(roas),
        "roas_mean_abs_error": float(roas["abs_error"].mean()),
        "params_covered_90": int(params["cover90"].sum()),
        "params": len(params),
        "contribution_srmse_median": float(np.nanmedian(total["srmse"])),
        "contribution_r2_median": float(np.nanmedian(total["r2"])),
    }


def write_recovery(tables: dict[str, pd.DataFrame], out: str | Path) -> dict[str, Path]:
    """recovery_roas.csv, recovery_params.csv, recovery_contributions.csv in `out`."""
    out = Path(out)
    paths = {name: out / f"recovery_{name}.csv" for name in tables}
    for name, table in tables.items():
        table.to_csv(paths[name], index=False)
    return paths
