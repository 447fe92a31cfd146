"""Figures of decisions: a plan against the current allocation with each channel's response
curve, and scenario plans side by side (PNG via Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.gridspec import GridSpec
from matplotlib.ticker import FuncFormatter, MaxNLocator

from mmmlab.analysis.plots import save

if TYPE_CHECKING:
    from mmmlab.decisions.optimizer import BudgetPlan
    from mmmlab.decisions.scenarios import ScenarioResult

CURRENT, RECOMMENDED = "tab:gray", "tab:blue"


def _compact(value: float, _: object = None) -> str:
    """Tick labels like 250k, 1.2M."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def _tidy(ax: plt.Axes, axes: str = "xy") -> None:
    for axis in (ax.xaxis if "x" in axes else None, ax.yaxis if "y" in axes else None):
        if axis is not None:
            axis.set_major_locator(MaxNLocator(4))
            axis.set_major_formatter(FuncFormatter(_compact))


def plot_plan(plan: BudgetPlan, path: Path) -> Path:
    """`plan_figure` written to `path`."""
    return save(plan_figure(plan), path)


def plan_figure(plan: BudgetPlan) -> plt.Figure:
    """Top: current vs recommended spend per channel (bars). Below, one panel per channel:
    its incremental response against its spend over the horizon (posterior mean, 90% band),
    with the current (circle) and recommended (star) plans marked at their responses."""
    channels = plan.channels
    C = len(channels)
    cols = min(C, 5)
    rows = -(-C // cols)
    fig = plt.figure(figsize=(3.2 * cols, 3.0 + 2.6 * rows))
    grid = GridSpec(rows + 1, cols, figure=fig, height_ratios=[1.3] + [1.0] * rows)
    bars = fig.add_subplot(grid[0, :])
    at = np.arange(C)
    current, recommended = plan.current.sum(axis=0), plan.recommended.sum(axis=0)
    bars.bar(at - 0.2, current, 0.4, color=CURRENT, label="current")
    bars.bar(at + 0.2, recommended, 0.4, color=RECOMMENDED, label="recommended")
    bars.set_xticks(at, channels, rotation=30 if C > 6 else 0, ha="right" if C > 6 else "center")
    bars.set_ylabel(f"spend over {plan.horizon.periods} periods")
    bars.set_title(
        f"Budget {plan.budget:,.2f} ({plan.objective.label}): uplift {plan.uplift.mean():,.0f}, "
        f"P(better) {plan.prob_better:.2f}"
    )
    bars.legend(frameon=False)
    _tidy(bars, "y")
    mean, lo, hi = plan.curve_response
    now, best = plan.response_current.mean(axis=0), plan.response_recommended.mean(axis=0)
    for c, channel in enumerate(channels):
        ax = fig.add_subplot(grid[1 + c // cols, c % cols])
        x = plan.curve_spend[:, c]
        ax.fill_between(x, lo[:, c], hi[:, c], color=RECOMMENDED, alpha=0.2)
        ax.plot(x, mean[:, c], color=RECOMMENDED, lw=1.5)
        ax.plot([current[c]], [now[c]], "o", color=CURRENT, label="current")
        ax.plot([recommended[c]], [best[c]], "*", color="black", ms=10, label="recommended")
        ax.set_title(channel, fontsize=9)
        ax.set_xlabel("spend", fontsize=8)
        ax.set_ylabel("response", fontsize=8)
        ax.tick_params(labelsize=7)
        _tidy(ax)
    fig.tight_layout()
    return fig


def plot_scenarios(result: ScenarioResult, path: Path) -> Path:
    """`scenario_figure` written to `path`."""
    return save(scenario_figure(result), path)


def scenario_figure(result: ScenarioResult) -> plt.Figure:
    """Left: the predicted target per period of each plan (posterior mean; the baseline's
    90% band). Right: each plan's difference to the baseline over the horizon and its
    carry-over (mean and 90% interval), with P(better)."""
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [2.2, 1]}
    )
    dates, colour = result.dates, {}
    for name in result.names:
        total = result.target[name].sum(axis=2)  # (S, T)
        line = left.plot(dates, total.mean(axis=0), lw=1.5, label=name)[0]
        colour[name] = line.get_color()
        if name == result.baseline:
            lo, hi = np.quantile(total, [0.05, 0.95], axis=0)
            left.fill_between(dates, lo, hi, color=line.get_color(), alpha=0.2)
    left.set_ylabel("predicted target")
    left.set_title(f"Predicted target per period (band: {result.baseline}, 90%)")
    left.legend(frameon=False, fontsize=8)
    _tidy(left, "y")
    others = [n for n in result.names if n != result.baseline]
    at = np.arange(len(others))
    for i, name in enumerate(others):
        diff = result.difference(name)
        lo, hi = np.quantile(diff, [0.05, 0.95]) if len(diff) > 1 else (diff[0], diff[0])
        right.errorbar(
            [diff.mean()],
            [i],
            xerr=[[diff.mean() - lo], [hi - diff.mean()]],
            fmt="o",
            capsize=3,
            color=colour[name],
        )
        right.annotate(
            f"P(better) {result.prob_better(name):.2f}",
            (diff.mean(), i),
            textcoords="offset points",
            xytext=(0, 7),
            ha="center",
            fontsize=8,
        )
    right.axvline(0.0, color="black", lw=0.8)
    right.set_yticks(at, others)
    right.set_ylim(-0.7, max(len(others) - 0.3, 0.7))
    right.set_xlabel(f"difference to {result.baseline}")
    right.set_title("Total difference (90% interval)")
    _tidy(right, "x")
    fig.tight_layout()
    return fig
