"""Figures of a design (PNG via Agg): predicted lift per top candidate, assurance against
duration per channel, the assurance–cost front, the adstock ramp of a test window, and the
identification diagnostics."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np

from mmmlab.decisions.plots import _tidy

if TYPE_CHECKING:
    from mmmlab.design.designer import Recommendations

TOP = 6


def lift_figure(rec: Recommendations, top: int = TOP) -> plt.Figure:
    """Histogram of the predicted lift (posterior draws) of the top candidates, with ±z σ_d
    of the test's noise around zero: lifts beyond it are likely detected."""
    n = min(top, len(rec.table))
    fig, axes = plt.subplots(1, n, figsize=(3.0 * n, 2.8), squeeze=False)
    for ax, row, lift in zip(axes[0], rec.table.head(n).itertuples(), rec.lift, strict=False):
        total = lift[:, : row.measured_periods].sum(axis=1)
        ax.hist(total, bins=40, color="tab:blue", alpha=0.8)
        for edge in (-1.96 * row.noise_sd, 1.96 * row.noise_sd):
            ax.axvline(edge, color="tab:red", lw=1, ls="--")
        ax.set_title(f"{row.candidate}\nassurance {row.assurance:.0%}", fontsize=8)
        ax.set_yticks([])
        _tidy(ax, "x")
    fig.suptitle("Predicted lift per posterior draw (dashed: ±1.96 σ_d)", fontsize=9)
    fig.tight_layout()
    return fig


def duration_figure(rec: Recommendations) -> plt.Figure:
    """Assurance against duration, one panel per channel, one line per spend change
    (national designs)."""
    t = rec.table[rec.table.kind == "national"]
    channels = list(dict.fromkeys(t.channel))
    fig, axes = plt.subplots(1, len(channels), figsize=(3.0 * len(channels), 2.8), squeeze=False)
    for ax, ch in zip(axes[0], channels, strict=True):
        for i, change in enumerate(rec.settings["spend_changes"]):  # one colour per change
            rows = t[(t.channel == ch) & (t.spend_change == change)].sort_values("duration")
            ax.plot(rows.duration, rows.assurance, marker="o", ms=3, color=f"C{i}", label=change)
        ax.set_title(ch, fontsize=9)
        ax.set_ylim(0, 1)
        ax.set_xlabel("duration (periods)", fontsize=8)
    axes[0][0].set_ylabel("assurance")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def front_figure(rec: Recommendations) -> plt.Figure:
    """Assurance against cost of every candidate; the Pareto front joined."""
    t = rec.table
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for ch, rows in t.groupby("channel"):
        ax.scatter(rows.cost, rows.assurance, s=12, label=ch, alpha=0.7)
    front = t[t.pareto].sort_values("cost")
    ax.plot(front.cost, front.assurance, color="black", lw=1, drawstyle="steps-post")
    ax.set_xlabel("cost: spend at risk + expected revenue lost")
    ax.set_ylabel("assurance")
    ax.set_ylim(0, 1.02)
    _tidy(ax, "x")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def ramp_figure(rec: Recommendations) -> plt.Figure:
    """The top candidate's lift per period: the adstock's ramp-up within the test and its
    carry-over after it (posterior mean and 90% band)."""
    row, lift = rec.table.iloc[0], rec.lift[0][:, : rec.table.iloc[0].measured_periods]
    x = np.arange(1, lift.shape[1] + 1)
    lo, hi = np.quantile(lift, [0.05, 0.95], axis=0)
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    ax.fill_between(x, lo, hi, color="tab:blue", alpha=0.25, lw=0)
    ax.plot(x, lift.mean(axis=0), color="tab:blue")
    ax.axvspan(0.5, row.duration + 0.5, color="tab:gray", alpha=0.15, label="spend changed")
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xlabel("period of the measurement window")
    ax.set_ylabel("lift per period")
    ax.set_title(f"{row.candidate}: ramp-up and carry-over", fontsize=9)
    _tidy(ax, "y")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def identification_figure(rec: Recommendations) -> plt.Figure:
    """Spend correlation between channels, and each channel's prior→posterior contraction."""
    ident = rec.identification
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    image = a.imshow(ident.corr, vmin=-1, vmax=1, cmap="RdBu_r")
    ticks = range(len(ident.channels))
    a.set_xticks(ticks, ident.channels, rotation=45, ha="right", fontsize=7)
    a.set_yticks(ticks, ident.channels, fontsize=7)
    for i in ticks:
        for j in ticks:
            a.text(j, i, f"{ident.corr[i, j]:.2f}", ha="center", va="center", fontsize=6)
    a.set_title("spend correlation", fontsize=9)
    fig.colorbar(image, ax=a, fraction=0.046)
    b.barh(list(ident.channels), ident.contraction, color="tab:blue")
    b.axvline(0.1, color="tab:red", ls="--", lw=1)
    b.set_xlim(min(0.0, float(np.nanmin(ident.contraction))), 1)
    b.set_title("ROAS prior→posterior contraction (dashed: 10%)", fontsize=9)
    b.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


FIGURES = {
    "lift": lift_figure,
    "duration": duration_figure,
    "front": front_figure,
    "ramp": ramp_figure,
    "identification": identification_figure,
}
