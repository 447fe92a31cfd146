"""Everything a fit writes for a person: summary.json, CSV tables and PNG figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmmlab.analysis.plots import plot_contributions, plot_fit, plot_response_curves
from mmmlab.analysis.response import response_curves
from mmmlab.analysis.roas import contributions_frame, roas_table
from mmmlab.inference.fit import Fit
from mmmlab.metrics import fit_metrics


def summarize(
    fit: Fit, roas: pd.DataFrame | None = None, predicted: np.ndarray | None = None
) -> dict[str, Any]:
    """A JSON-ready summary: data, settings, diagnostics, warnings, fit metrics, ROAS.

    `roas` (from `roas_table`) and `predicted` (posterior mean (T, G)) are computed here
    unless the caller already has them.
    """
    train = fit.train
    predicted = fit.components().mean.mean(axis=0) if predicted is None else predicted
    roas = roas_table(fit) if roas is None else roas
    return {
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
        "warnings": fit.diagnostics.warnings(),
        "metrics": fit_metrics(train.target, predicted),
        "roas": roas.reset_index().to_dict(orient="records"),
    }


def write_outputs(fit: Fit, out: str | Path) -> dict[str, Any]:
    """Write summary.json, roas.csv, contributions.csv, response_curves.csv, three PNGs and
    the fit itself (fit/) into `out`. Returns the summary with the written paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    components = fit.components()
    predictive = fit.predict(components=components)
    roas = roas_table(fit, components=components)
    summary = summarize(fit, roas, predicted=components.mean.mean(axis=0))
    contributions = contributions_frame(fit, components=components)
    curves = response_curves(fit)
    files = {
        "roas": out / "roas.csv",
        "contributions": out / "contributions.csv",
        "response_curves": out / "response_curves.csv",
    }
    roas.to_csv(files["roas"])
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
    files["response_curves_plot"] = plot_response_curves(
        curves, roas["spend"], out / "response_curves.png"
    )
    fit.save(out / "fit")
    files["fit"] = out / "fit"
    summary["files"] = {k: str(v) for k, v in files.items()}
    files["summary"] = out / "summary.json"
    files["summary"].write_text(json.dumps(summary, indent=2, default=_json_default))
    summary["files"]["summary"] = str(files["summary"])
    return summary


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
