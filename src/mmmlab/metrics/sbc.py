"""Simulation-based calibration (Talts et al. 2018, arXiv:1804.06788).

Draw a parameter from the prior, simulate data from it, fit, and rank the prior draw among
L posterior draws. If the fit is calibrated, the rank is uniform on 0..L; the shape of the rank
histogram tells how it is not (a U: posterior too narrow; a hump: too wide; a slope: biased).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats


def sbc_rank(
    prior_draw: np.ndarray,
    posterior_draws: np.ndarray,
    axis: int = 0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Rank of the prior draw among the posterior draws, elementwise.

    Parameters
    ----------
    prior_draw : np.ndarray
        The parameter value the data were simulated from; broadcasts against the shape of
        `posterior_draws` without `axis`.
    posterior_draws : np.ndarray, shape (..., L, ...)
        L posterior draws (thinned, see `thin`), with the draw axis at `axis`.
    axis : int
        Draw axis of `posterior_draws`.
    rng : np.random.Generator, optional
        Breaks ties (discrete parameters); defaults to ``np.random.default_rng(0)``.

    Returns
    -------
    np.ndarray of int, broadcast shape of `prior_draw` and `posterior_draws` without `axis`
        Number of posterior draws strictly below the prior draw, plus a uniform share
        0..k of the k draws equal to it, so ranks lie in 0..L.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    draws = np.moveaxis(np.asarray(posterior_draws), axis, 0)
    prior = np.asarray(prior_draw)
    below = np.sum(draws < prior, axis=0)
    ties = np.sum(draws == prior, axis=0)
    # Without the random share, ties would all rank low and fake a miscalibration.
    return np.asarray(below + rng.integers(0, ties + 1), dtype=int)


def thin(draws: np.ndarray, n: int, axis: int = 0) -> np.ndarray:
    """Keep `n` evenly spaced draws along `axis`, to cut autocorrelation before ranking.

    Parameters
    ----------
    draws : np.ndarray, shape (..., S, ...)
    n : int
        Number of draws to keep, 1 <= n <= S.
    axis : int
        Draw axis.

    Returns
    -------
    np.ndarray, shape (..., n, ...)
        The draws at indices ``floor(i * S / n)`` for i in 0..n-1.
    """
    draws = np.asarray(draws)
    available = draws.shape[axis]
    if not 1 <= n <= available:
        raise ValueError(f"cannot thin {available} draws (axis {axis}) to {n}; pick 1..{available}")
    return np.take(draws, (np.arange(n) * available) // n, axis=axis)


def _check_bins(num_draws: int, num_bins: int) -> int:
    """Width of each bin in rank values; ranks 0..num_draws must split into equal bins."""
    values = num_draws + 1
    if num_bins < 1 or values % num_bins:
        divisors = [b for b in range(1, values + 1) if values % b == 0]
        raise ValueError(
            f"num_bins={num_bins} does not split the {values} rank values 0..{num_draws} into "
            f"equal bins; use one of {divisors}, or change num_draws so num_draws + 1 divides"
        )
    return values // num_bins


def rank_histogram(ranks: np.ndarray, num_draws: int, num_bins: int) -> np.ndarray:
    """Counts of SBC ranks in equal bins.

    Parameters
    ----------
    ranks : np.ndarray of int, any shape (usually (N,) over N simulations)
        Ranks in 0..num_draws, e.g. from `sbc_rank`.
    num_draws : int
        Number of posterior draws L each rank was taken among.
    num_bins : int
        Number of bins; must divide ``num_draws + 1``.

    Returns
    -------
    np.ndarray of int, shape (num_bins,)
        Counts summing to ``ranks.size``.
    """
    width = _check_bins(num_draws, num_bins)
    ranks = np.asarray(ranks).ravel()
    if ranks.size and (ranks.min() < 0 or ranks.max() > num_draws):
        raise ValueError(
            f"ranks must lie in 0..{num_draws} (num_draws={num_draws}); got values from "
            f"{ranks.min()} to {ranks.max()}: was num_draws the number of posterior draws ranked?"
        )
    return np.bincount(ranks.astype(int) // width, minlength=num_bins)


def uniformity_test(ranks: np.ndarray, num_draws: int, num_bins: int) -> tuple[float, float]:
    """Chi-square goodness of fit of the rank histogram against the uniform.

    Parameters
    ----------
    ranks : np.ndarray of int, shape (N,)
    num_draws : int
        Number of posterior draws L each rank was taken among.
    num_bins : int
        Number of bins; must divide ``num_draws + 1``. Keep ``N / num_bins`` at 5 or more.

    Returns
    -------
    statistic, p_value : float
        From `scipy.stats.chisquare` with num_bins - 1 degrees of freedom.
    """
    result = stats.chisquare(rank_histogram(ranks, num_draws, num_bins))
    return float(result.statistic), float(result.pvalue)


def sbc_summary(ranks: Mapping[str, np.ndarray], num_draws: int, num_bins: int) -> pd.DataFrame:
    """Uniformity of the SBC ranks of each parameter, one row per parameter.

    Parameters
    ----------
    ranks : Mapping[str, np.ndarray]
        ``ranks[name]`` has shape (N,): one rank per simulation of one scalar parameter.
    num_draws : int
        Number of posterior draws L each rank was taken among.
    num_bins : int
        Number of histogram bins; must divide ``num_draws + 1``.

    Returns
    -------
    pd.DataFrame
        Columns ``parameter``, ``n`` (simulations), ``chi2``, ``p_value``,
        ``mean_rank_fraction`` (mean rank / num_draws; about 0.5 when calibrated, lower when
        the posterior sits above the truth), ``rejected_1pct`` (p_value < 0.01) and
        ``rejected_bonferroni_1pct`` (p_value < 0.01 / number of parameters: the parameters
        tested together, so a calibrated model is flagged anywhere with 1% probability, where
        18 parameters at 1% each would flag one about one run in six).
    """
    rows = []
    for name, values in ranks.items():
        values = np.asarray(values)
        if values.ndim != 1:
            raise ValueError(
                f"ranks[{name!r}] has shape {values.shape}; pass one (N,) array per scalar "
                "parameter (split vector parameters into keys like 'beta[tv]')"
            )
        chi2, p_value = uniformity_test(values, num_draws, num_bins)
        rows.append(
            {
                "parameter": name,
                "n": values.size,
                "chi2": chi2,
                "p_value": p_value,
                "mean_rank_fraction": float(values.mean() / num_draws),
                "rejected_1pct": p_value < 0.01,
            }
        )
    columns = ["parameter", "n", "chi2", "p_value", "mean_rank_fraction", "rejected_1pct"]
    summary = pd.DataFrame(rows, columns=columns)
    summary["rejected_bonferroni_1pct"] = summary["p_value"] < 0.01 / max(len(summary), 1)
    return summary


def plot_rank_histograms(
    ranks: Mapping[str, np.ndarray], num_draws: int, num_bins: int, path: str | Path
) -> None:
    """Save a grid of rank histograms, one panel per parameter, as a PNG.

    Each panel shows the counts, the expected count N / num_bins and the band holding 99% of
    the counts of one bin under uniformity (binomial quantiles 0.005 and 0.995).

    Parameters
    ----------
    ranks : Mapping[str, np.ndarray]
        ``ranks[name]`` has shape (N,), ranks in 0..num_draws.
    num_draws : int
        Number of posterior draws L each rank was taken among.
    num_bins : int
        Number of bins; must divide ``num_draws + 1``.
    path : str or Path
        Where to write the PNG; parent folders are created.
    """
    # Figure without pyplot: no global state, no display backend needed.
    from matplotlib.figure import Figure

    if not ranks:
        raise ValueError("ranks is empty: pass at least one parameter's ranks to plot")
    ncols = min(4, len(ranks))
    nrows = -(-len(ranks) // ncols)
    fig = Figure(figsize=(3.2 * ncols, 2.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (name, values) in zip(axes, ranks.items(), strict=False):
        counts = rank_histogram(values, num_draws, num_bins)
        n = counts.sum()
        lo, hi = stats.binom.ppf([0.005, 0.995], n, 1.0 / num_bins)
        ax.axhspan(lo, hi, color="0.85", label="99% band")
        ax.bar(np.arange(num_bins), counts, width=1.0, color="tab:blue", edgecolor="white")
        ax.axhline(n / num_bins, color="black", lw=1, label="expected")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"rank bin (of {num_draws + 1} values)")
        ax.set_ylabel("count")
    for ax in axes[len(ranks) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7, loc="upper right")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
