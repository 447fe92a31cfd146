"""Figures of the benchmark report: matplotlib `Figure`s built from the store's frames (never
pyplot, so nothing global changes and workers need no display)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mmmlab.bench.report.tables import done_wide


def _label(frame: pd.DataFrame) -> pd.Series:
    """``model`` or ``model[variant]`` per row: the contestant's name on a figure axis."""
    variant = frame["variant"].fillna("").astype(str)
    return frame["model"].astype(str) + np.where(variant == "", "", "[" + variant + "]")


def _auto_scale(ax, values: np.ndarray) -> None:
    """Log (or symlog, for non-positive data) when the magnitudes span more than 2 decades."""
    v = values[np.isfinite(values)]
    size = np.abs(v[v != 0])
    if not len(size) or size.max() / size.min() <= 100:
        return
    if (v > 0).all():
        ax.set_yscale("log")
    else:
        ax.set_yscale("symlog", linthresh=float(size.min()))
    # Pad in the scaled space: symlog's own autoscaling wastes the empty side of zero.
    scale = ax.yaxis.get_transform()
    low, high = scale.transform(np.array([v.min(), v.max()]))
    pad = 0.06 * (high - low)
    ax.set_ylim(*scale.inverted().transform(np.array([low - pad, high + pad])))


def distribution_figure(
    labels: pd.Series, values: pd.Series, converged: pd.Series, title: str
) -> Figure | None:
    """Box plot per group with every run drawn on top (jittered), unconverged runs as red x.

    Parameters
    ----------
    labels, values, converged : Series
        Aligned per run: group name, value, and the converged flag (0 marks unconverged).
    title : str
        Axes title; the value axis is labelled with it too.

    Returns
    -------
    Figure or None
        None when no value is finite.
    """
    keep = np.isfinite(values.to_numpy(float))
    labels, values, converged = labels[keep], values[keep].astype(float), converged[keep]
    if not keep.any():
        return None
    groups = sorted(labels.unique())
    fig = Figure(figsize=(max(5.0, 1.1 * len(groups) + 2.5), 3.8), layout="constrained")
    ax = fig.subplots()
    ax.boxplot(
        [values[labels == g].to_numpy() for g in groups],
        positions=np.arange(1, len(groups) + 1),
        widths=0.5,
        showfliers=False,  # every run is drawn as a point below, tails included
    )
    position = labels.map({g: i + 1 for i, g in enumerate(groups)}).to_numpy(float)
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(position))
    bad = (converged == 0).to_numpy()
    ax.scatter(
        position[~bad] + jitter[~bad], values[~bad], s=14, alpha=0.6, color="C0", label="run"
    )
    if bad.any():
        ax.scatter(
            position[bad] + jitter[bad],
            values[bad],
            s=30,
            marker="x",
            color="C3",
            label="run, not converged",
        )
        ax.legend(fontsize=8, loc="best")
    ax.set_xticks(np.arange(1, len(groups) + 1), groups, rotation=20 if len(groups) > 4 else 0)
    ax.set_title(title)
    ax.set_ylabel(title)
    ax.grid(axis="y", alpha=0.3)
    _auto_scale(ax, values.to_numpy())
    return fig


def metric_figure(metrics: pd.DataFrame, metric: str) -> Figure | None:
    """``distribution_figure`` of one cell-level metric over done runs, by model[variant]."""
    table = done_wide(metrics)
    if metric not in table.columns:
        return None
    return distribution_figure(_label(table), table[metric], table["converged"], metric)


def convergence_figure(convergence: pd.DataFrame) -> Figure | None:
    """Bar chart of ``rate`` from ``summary.convergence_rate``, annotated converged/assessed."""
    rows = convergence[convergence["n_assessed"] > 0] if len(convergence) else convergence
    if rows.empty:
        return None
    names = _label(rows) if "variant" in rows.columns else rows["model"].astype(str)
    fig = Figure(figsize=(max(5.0, 1.0 * len(rows) + 2.5), 3.4), layout="constrained")
    ax = fig.subplots()
    bars = ax.bar(names, rows["rate"].astype(float), color="C0", width=0.6)
    notes = [f"{c}/{a}" for c, a in zip(rows["n_converged"], rows["n_assessed"], strict=True)]
    ax.bar_label(bars, notes, fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("share of done runs converged")
    ax.set_title("convergence rate")
    return fig


def roas_recovery_figure(metrics: pd.DataFrame) -> Figure | None:
    """Scatter of estimated ``roas`` against ``roas_true`` per (cell, channel), with y = x."""
    rows = metrics[(metrics["status"] == "done") & metrics["metric"].isin(["roas", "roas_true"])]
    rows = rows.assign(variant=rows["variant"].fillna(""))
    pairs = rows.pivot_table(
        index=["cell", "model", "variant", "key"], columns="metric", values="value", aggfunc="last"
    ).reset_index()
    if not {"roas", "roas_true"} <= set(pairs.columns):
        return None
    pairs = pairs[np.isfinite(pairs["roas"]) & np.isfinite(pairs["roas_true"])]
    if pairs.empty:
        return None
    fig = Figure(figsize=(5.0, 4.4), layout="constrained")
    ax = fig.subplots()
    pairs = pairs.assign(label=_label(pairs))
    for name, group in pairs.groupby("label", sort=True):
        ax.scatter(group["roas_true"], group["roas"], s=16, alpha=0.7, label=name)
    ends = [
        min(pairs["roas_true"].min(), pairs["roas"].min()),
        pairs[["roas_true", "roas"]].max().max(),
    ]
    ax.plot(ends, ends, color="0.4", linestyle="--", linewidth=1, label="y = x")
    ax.set_xlabel("true ROAS")
    ax.set_ylabel("estimated ROAS")
    ax.set_title("ROAS recovery (one point per cell and channel)")
    ax.legend(fontsize=8)
    return fig


def runtime_figure(cells: pd.DataFrame) -> Figure | None:
    """``distribution_figure`` of wall-clock ``seconds`` of done cells, by model[variant]."""
    done = cells[cells["status"] == "done"]
    flags = pd.Series(1.0, index=done.index)
    return distribution_figure(_label(done), done["seconds"], flags, "seconds per cell")
