"""What the decision commands write: `write_plan` (plan.csv, summary.json, optimize.png, and
plan_geo.csv for geo-level plans) and `write_scenarios` (scenarios.csv, totals.csv,
summary.json, scenario.png)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmmlab.decisions.optimizer import BudgetPlan
from mmmlab.decisions.plots import plot_plan, plot_scenarios
from mmmlab.decisions.scenarios import ScenarioResult
from mmmlab.decisions.tables import geo_table, plan_summary, plan_table
from mmmlab.files import write_json


def write_plan(plan: BudgetPlan, out: str | Path) -> dict[str, Path]:
    """The plan's files in `out` (made if missing); returns name -> path."""
    files = _files(out, plan="plan.csv", summary="summary.json", figure="optimize.png")
    plan_table(plan).to_csv(files["plan"])
    if plan.geo_level:
        files["plan_geo"] = files["plan"].with_name("plan_geo.csv")
        geo_table(plan).to_csv(files["plan_geo"], index=False)
    plot_plan(plan, files["figure"])
    write_json(files["summary"], plan_summary(plan) | {"files": _named(files)}, indent=2)
    return files


def write_scenarios(result: ScenarioResult, out: str | Path) -> dict[str, Path]:
    """The scenarios' files in `out` (made if missing); returns name -> path."""
    files = _files(
        out,
        periods="scenarios.csv",
        totals="totals.csv",
        summary="summary.json",
        figure="scenario.png",
    )
    result.periods_table().to_csv(files["periods"], index=False)
    totals = result.totals_table()
    totals.to_csv(files["totals"])
    plot_scenarios(result, files["figure"])
    summary = scenario_summary(result, totals) | {"files": _named(files)}
    write_json(files["summary"], summary, indent=2)
    return files


def scenario_summary(result: ScenarioResult, totals: pd.DataFrame | None = None) -> dict[str, Any]:
    """JSON-ready: the horizon, the baseline and each plan's totals (`totals_table`)."""
    totals = result.totals_table() if totals is None else totals
    return {
        "baseline": result.baseline,
        "horizon": {
            "periods": len(result.dates),
            "start": str(result.dates[0].date()),
            "end": str(result.dates[-1].date()),
        },
        "target": "expected target (model mean; credible interval, no observation noise)",
        "difference": "target minus the baseline's over the horizon and its carry-over",
        "plans": [
            {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()}
            for row in totals.reset_index().to_dict(orient="records")
        ],
        "seconds": result.seconds,
    }


def _files(out: str | Path, **names: str) -> dict[str, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return {key: out / name for key, name in names.items()}


def _named(files: dict[str, Path]) -> dict[str, str]:
    return {key: str(path) for key, path in files.items()}
