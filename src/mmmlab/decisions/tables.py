"""The optimizer's answer as tables: the plan per channel (and per geo and channel) and a
JSON-ready summary of it against the current mix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mmmlab.metrics.roas import draw_interval

if TYPE_CHECKING:
    from mmmlab.decisions.optimizer import BudgetPlan


def _value(x: float) -> float | None:
    """A JSON value: None for NaN (a point fit has no interval), else the float."""
    return None if np.isnan(x) else float(x)


def _summarise(draws: np.ndarray, name: str) -> dict[str, np.ndarray]:
    """`{name}_mean`, `{name}_lo`, `{name}_hi` (90%) over axis 0 of `draws` (S, ...)."""
    lo, hi = draw_interval(draws)
    return {f"{name}_mean": draws.mean(axis=0), f"{name}_lo": lo, f"{name}_hi": hi}


def plan_table(plan: BudgetPlan) -> pd.DataFrame:
    """One row per channel: current and recommended spend over the horizon, the bounds, the
    incremental response of each plan (mean; 90% interval for the recommended one), its ROAS,
    and mROAS at the recommended plan (mean, 90% interval)."""
    current, recommended = plan.current.sum(axis=0), plan.recommended.sum(axis=0)
    table = pd.DataFrame(index=pd.Index(plan.channels, name="channel"))
    table["current_spend"] = current
    table["recommended_spend"] = recommended
    table["change"] = recommended - current
    table["lower"], table["upper"] = plan.limits.lower, plan.limits.upper
    table["bound"] = plan.bound
    table["response_current"] = plan.response_current.mean(axis=0)
    for key, value in _summarise(plan.response_recommended, "response").items():
        table[key] = value
    table["roas"] = np.where(
        recommended > 0, table["response_mean"] / np.maximum(recommended, 1e-300), np.nan
    )
    for key, value in _summarise(plan.mroas, "mroas").items():
        table[key] = value
    return table


def geo_table(plan: BudgetPlan) -> pd.DataFrame:
    """One row per geo and channel of a geo-level plan: spend, response and mROAS."""
    rows = []
    response = _summarise(plan.cells_recommended, "response")
    mroas = _summarise(plan.cell_mroas, "mroas")
    current_response = plan.cells_current.mean(axis=0)
    for g, geo in enumerate(plan.geos):
        for c, channel in enumerate(plan.channels):
            rows.append(
                {
                    "geo": geo,
                    "channel": channel,
                    "current_spend": plan.current[g, c],
                    "recommended_spend": plan.recommended[g, c],
                    "response_current": current_response[g, c],
                    **{k: v[g, c] for k, v in (response | mroas).items()},
                }
            )
    return pd.DataFrame(rows)


def plan_summary(plan: BudgetPlan) -> dict[str, Any]:
    """A JSON-ready summary: the question, the answer against the current allocation (uplift
    with its 90% interval and the probability the plan is better), the optimality check and
    the per-channel table."""
    hz = plan.horizon
    uplift_lo, uplift_hi = draw_interval(plan.uplift[:, None])
    total = _summarise(plan.response_recommended.sum(axis=1)[:, None], "response")
    interior = [ch for ch, b in zip(plan.channels, plan.bound, strict=True) if not b]
    return {
        "budget": plan.budget,
        "recommended_total": round(float(plan.recommended.sum()), 2),
        "horizon": {
            "periods": hz.periods,
            "start": str(hz.dates[0].date()),
            "end": str(hz.dates[hz.periods - 1].date()),
            "carry_over_periods": hz.length - hz.periods,
        },
        "objective": plan.objective.label,
        "geo_level": plan.geo_level,
        "draws": int(plan.cells_current.shape[0]),
        "current": {
            "definition": f"each channel's spend in the {hz.periods} periods before the "
            "start, scaled to the budget and spent evenly like the plan (the same channel mix: "
            "the uplift is the reallocation alone)",
            "observed_spend": plan.observed,
            "scale": plan.budget / plan.observed if plan.observed > 0 else None,
            "objective": plan.value_current,
            "response_mean": float(plan.response_current.sum(axis=1).mean()),
        },
        "recommended": {
            "objective": plan.value_recommended,
            **{k: _value(v[0]) for k, v in total.items()},
        },
        "uplift": {
            "mean": float(plan.uplift.mean()),
            "lo": _value(uplift_lo[0]),
            "hi": _value(uplift_hi[0]),
            "prob_better": plan.prob_better,
        },
        "optimality": {
            "interior_channels": interior,
            "marginal_return_interior": {
                ch: float(plan.marginal[:, c][plan.interior[:, c]].mean())
                for c, ch in enumerate(plan.channels)
                if ch in interior
            },
            "marginal_spread": plan.marginal_spread,
            "iterations": plan.iterations,
            "stop": plan.stop,
            "seconds": plan.seconds,
        },
        "channels": [
            {k: _value(v) if isinstance(v, float) else v for k, v in row.items()}
            for row in plan_table(plan).reset_index().to_dict(orient="records")
        ],
    }
