"""Everything a fit writes for a person: summary.json, CSV tables and PNG figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmmlab.analysis.draws import ReportDraws, report_draws
from mmmlab.analysis.lift import lift_table, lift_warnings
from mmmlab.analysis.plots import plot_contributions, plot_fit, plot_response_curves
from mmmlab.analysis.response import curves_table, response_curves
from mmmlab.analysis.roas import contributions_table, roas_table
from mmmlab.files import write_json
from mmmlab.inference.fit import Fit
from mmmlab.metrics import fit_metrics
from mmmlab.metrics.roas import roas_from_totals, roas_summary


def summarize(
    fit: Fit,
    roas: pd.DataFrame | None = None,
    predicted: np.ndarray | None = None,
    lifts: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """A JSON-ready summary: data, settings, diagnostics, warnings, fit metrics, ROAS, and
    the lift tests of a calibrated fit (`lift_table`).

    `roas` (from `roas_table`), `predicted` (posterior mean (T, G)) and `lifts` are computed
    here unless the caller already has them.
    """
    train = fit.train
    predicted = fit.components().mean.mean(axis=0) if predicted is None else predicted
    roas = roas_table(fit) if roas is None else roas
    lifts = lift_table(fit) if lifts is None else lifts
    summary = {
        "dataset": {
            "name": train.name,
            "fingerprint": train.fingerprint,
            "frequency": train.frequency,
            "start": str(train.dates[0].date()),
            "end": str(train.dates[-1].date()),
            "periods": train.n_time,
            "geos": list(train.geos),
            "channels": list(train.channels),
            "controls": list(train.control_names),
        },
        "method": fit.method,
        "seed": fit.seed,
        "settings": fit.settings,
        "config": fit.config.model_dump(mode="json"),
        "diagnostics": fit.diagnostics.to_json(),
        "warnings": fit.diagnostics.warnings() + _undefined_roas(roas) + lift_warnings(lifts),
        "metrics": fit_metrics(train.target, predicted),
        "roas": _records(roas.reset_index()),
    }
    if len(lifts):
        summary["lift_tests"] = _records(lifts)
    return summary


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: None if _missing(v) else v for k, v in row.items()}
        for row in table.to_dict(orient="records")
    ]


def _missing(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)


def _undefined_roas(roas: pd.DataFrame) -> list[str]:
    """Why some ROAS figures are null: channels without spend (no return per unit of spend)."""
    unspent = roas.index[roas["spend"] <= 0].tolist()
    if not unspent:
        return []
    return [
        f"no spend on {', '.join(unspent)} in this window: ROAS and mROAS are undefined "
        "there (null in summary.json, empty in roas.csv)"
    ]


def write_outputs(fit: Fit, out: str | Path, draws: ReportDraws | None = None) -> dict[str, Any]:
    """Write summary.json, roas.csv, contributions.csv, response_curves.csv, three PNGs,
    lift_tests.csv for a calibrated fit, and the fit itself (fit/) into `out`. Returns the
    summary with the written paths. `draws`: the training window's `report_draws`, when the
    caller has them (the answer-key recovery reads them too)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # Draws reduced geo block by geo block: never every draw of every channel in every geo at
    # once (S × T × G × C floats, 10 GB for 4 × 1000 draws of 50 geos and 30 channels).
    draws = report_draws(fit) if draws is None else draws
    predictive = fit.predict(components=draws.components())
    spend = fit.train.spend
    roas = roas_summary(
        roas_from_totals(draws.contribution, draws.bumped, spend), spend, fit.train.channels
    )
    lifts = lift_table(fit)
    summary = summarize(fit, roas, predicted=draws.mean.mean(axis=0), lifts=lifts)
    contributions = contributions_table(fit.train, draws.bands)
    if len(draws.multipliers):
        curves = curves_table(fit.train, draws.multipliers, draws.curves)
    else:
        curves = response_curves(fit)
    files = {
        "roas": out / "roas.csv",
        "contributions": out / "contributions.csv",
        "response_curves": out / "response_curves.csv",
    }
    roas.to_csv(files["roas"])
    if len(lifts):
        files["lift_tests"] = out / "lift_tests.csv"
        lifts.to_csv(files["lift_tests"], index=False)
    contributions.to_csv(files["contributions"], index=False)
    curves.to_csv(files["response_curves"], index=False)
    files["fit_plot"] = plot_fit(
        fit.train.dates,
        fit.train.target,
        predictive,
        out / "fit.png",
        f"{fit.train.name}: fit vs actual (R² {summary['metrics']['r2']:.3f})",
    )
    files["contributions_plot"] = plot_contributions(contributions, out / "contributions.png")
    files["response_curves_plot"] = plot_response_curves(curves, out / "response_curves.png")
    fit.save(out / "fit")
    files["fit"] = out / "fit"
    summary["files"] = {k: str(v) for k, v in files.items()}
    files["summary"] = out / "summary.json"
    write_json(files["summary"], summary, indent=2)
    summary["files"]["summary"] = str(files["summary"])
    return summary
