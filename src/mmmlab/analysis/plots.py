"""Figures of a fit: fit vs actual, stacked contributions, response curves (PNG via Agg)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def save(fig: plt.Figure, path: Path) -> Path:
    """Write `fig` as a PNG to `path` and free it."""
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_fit(
    dates: pd.DatetimeIndex, actual: np.ndarray, predictive: np.ndarray, path: Path, title: str
) -> Path:
    """`fit_figure` written to `path`."""
    return save(fit_figure(dates, actual, predictive, title), path)


def fit_figure(
    dates: pd.DatetimeIndex, actual: np.ndarray, predictive: np.ndarray, title: str
) -> plt.Figure:
    """Actual target vs posterior predictive mean and 90% band, summed over geos.

    actual : (T, G); predictive : (S, T, G). Lines: posterior mean, then actual.
    """
    total = predictive.sum(axis=2)
    lo, hi = np.quantile(total, [0.05, 0.95], axis=0)
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.fill_between(dates, lo, hi, color="tab:blue", alpha=0.25, label="90% predictive")
    ax.plot(dates, total.mean(axis=0), color="tab:blue", lw=1.5, label="posterior mean")
    ax.plot(dates, actual.sum(axis=1), color="black", lw=1.0, label="actual")
    ax.set_title(title)
    ax.set_ylabel("target")
    ax.legend(loc="upper left", frameon=False)
    fig.tight_layout()
    return fig


def plot_contributions(contributions: pd.DataFrame, path: Path) -> Path:
    """`contributions_figure` written to `path`."""
    return save(contributions_figure(contributions), path)


def contributions_figure(contributions: pd.DataFrame) -> plt.Figure:
    """Stacked posterior-mean contributions over time (all geos summed): the positive parts
    stacked upward (base components first, then media), negative ones downward."""
    wide = contributions.groupby(["date", "component"], sort=False)["mean"].sum().unstack()
    base = [c for c in ("baseline", "trend", "seasonality", "controls") if c in wide]
    media = [c for c in wide.columns if c not in base]
    wide = wide[base + media]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    positive = wide.clip(lower=0.0)
    ax.stackplot(wide.index, positive.T.values, labels=wide.columns, alpha=0.85)
    negative = wide.clip(upper=0.0)
    if (negative.values < 0).any():
        ax.stackplot(wide.index, negative.T.values, alpha=0.85)
    ax.set_title("Contributions (posterior mean)")
    ax.set_ylabel("target")
    ax.legend(loc="upper left", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_response_curves(curves: pd.DataFrame, path: Path) -> Path:
    """`response_curves_figure` written to `path`."""
    return save(response_curves_figure(curves), path)


def response_curves_figure(curves: pd.DataFrame) -> plt.Figure:
    """One panel per channel: contribution against total spend with its 90% band; the dot
    is today's spend (multiplier 1)."""
    channels = list(dict.fromkeys(curves["channel"]))
    n = len(channels)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, ch in zip(axes.flat, channels, strict=False):
        part = curves[curves["channel"] == ch]
        ax.fill_between(part["spend"], part["lo"], part["hi"], alpha=0.25)
        ax.plot(part["spend"], part["mean"], lw=1.5)
        now = part.iloc[(part["multiplier"] - 1.0).abs().argmin()]
        ax.plot([now["spend"]], [now["mean"]], "o", color="black")
        ax.set_title(ch)
        ax.set_xlabel("spend over the window")
        ax.set_ylabel("contribution")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    return fig
