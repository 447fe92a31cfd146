"""Rank-normalised split R-hat and bulk / tail effective sample size, with NumPy alone.

The estimators of Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021), "Rank-normalization,
folding, and localization: an improved R-hat for assessing convergence of MCMC" (Bayesian
Analysis 16(2)), in the variant ArviZ 0.x computes (`az.rhat`, `az.ess(method="bulk" |
"tail")`), to the same floating-point values (tests/test_rank_stats.py). Computed here so that
a fit does not import ArviZ, and SciPy's statistics and Matplotlib with it (~0.5 s of every
new process).

The public functions take draws (chain, draw, K), K elements side by side, and return (K,);
each element is computed on its own (chain, draw) array.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

BLOM = 3 / 8  # the offset of the normal scores of ranks (Blom 1958)
TAIL_PROBS = (0.05, 0.95)
MIN_DRAWS = 4


def rhat(x: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat: the larger of the bulk's and the folded draws' (NaN with
    fewer than 2 chains or 4 draws, or with a NaN draw)."""
    return _each(x, _rhat_rank, min_chains=2)


def ess_bulk(x: np.ndarray) -> np.ndarray:
    """Bulk effective sample size: that of the rank-normalised split chains."""
    return _each(x, lambda a: _ess(_z_scale(_split_chains(a))))


def ess_tail(x: np.ndarray) -> np.ndarray:
    """Tail effective sample size: the smaller of those of the indicators of the 5% and 95%
    quantiles (R's type 7, over all chains and draws)."""

    def one(a: np.ndarray) -> float:
        low, high = (_ess(_split_chains(a <= _quantile(a, p))) for p in TAIL_PROBS)
        return low if not high < low else high

    return _each(x, one)


def _each(x: np.ndarray, fn, min_chains: int = 1) -> np.ndarray:
    """``fn`` of each element's (chain, draw) draws; NaN for too few chains or draws, or a
    NaN draw."""
    x = np.asarray(x, dtype=float)
    out = np.full(x.shape[-1], np.nan)
    if x.shape[0] < min_chains or x.shape[1] < MIN_DRAWS:
        return out
    for j in range(x.shape[-1]):
        element = np.ascontiguousarray(x[..., j])
        if not np.isnan(element).any():
            out[j] = fn(element)
    return out


def _split_chains(a: np.ndarray) -> np.ndarray:
    """(chain, draw) -> (2 chain, draw // 2): each chain's first and last halves (the middle
    draw of an odd count left out)."""
    half = a.shape[1] // 2
    return np.vstack((a[:, :half], a[:, a.shape[1] - half :]))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..N of a 1-D array's N values, ties at their average rank."""
    n = values.size
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]  # the first of each run of equals
    first = np.flatnonzero(starts)
    size = np.diff(np.r_[first, n])
    ranks = np.empty(n)
    ranks[order] = np.repeat(first + (size + 1) / 2, size)
    return ranks


def _z_scale(a: np.ndarray) -> np.ndarray:
    """Normal scores of the ranks of all of `a`'s values, in `a`'s shape."""
    ranks = average_ranks(a.ravel())
    return ndtri((ranks - BLOM) / (ranks.size - 2 * BLOM + 1)).reshape(a.shape)


def _gelman_rubin(a: np.ndarray) -> float:
    """The potential scale reduction of (chain, draw)."""
    n = a.shape[1]
    between = n * np.var(np.mean(a, axis=1), ddof=1)
    within = np.mean(np.var(a, axis=1, ddof=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sqrt((between / within + n - 1) / n))


def _rhat_rank(a: np.ndarray) -> float:
    split = _split_chains(a)
    bulk = _gelman_rubin(_z_scale(split))
    tail = _gelman_rubin(_z_scale(np.abs(split - np.median(split))))
    return tail if tail > bulk else bulk


def _quantile(a: np.ndarray, p: float) -> float:
    """The type-7 quantile of all of `a`'s values, in the plotting-position form
    ``(1 - g) x[k-1] + g x[k]`` with ``k, g`` the whole and fractional parts of
    ``n p + 1 - p``."""
    ordered = np.sort(a.ravel())
    n = ordered.size
    aleph = n * p + (1.0 - p)
    k = int(np.floor(np.clip(aleph, 1, n - 1)))
    gamma = float(np.clip(aleph - k, 0, 1))
    return (1.0 - gamma) * ordered[k - 1] + gamma * ordered[k]


def _fast_length(n: int) -> int:
    """The smallest 2^a 3^b 5^c at least n: an FFT length without large prime factors."""
    best = 1 << max(n - 1, 0).bit_length()
    five = 1
    while five < best:
        three = five
        while three < best:
            two = three
            while two < n:
                two *= 2
            best = min(best, two)
            three *= 3
        five *= 5
    return best


def _autocorrelation(a: np.ndarray) -> np.ndarray:
    """Multi-chain autocorrelations of (chain, draw) at every lag (Vehtari et al.'s rho-hat:
    within-chain autocovariances against the pooled variance estimate)."""
    n_chain, n = a.shape
    m = _fast_length(2 * n)
    spectrum = np.fft.rfft(a - a.mean(axis=1, keepdims=True), n=m, axis=1)
    spectrum *= np.conjugate(spectrum)
    acov = np.fft.irfft(spectrum, n=m, axis=1)[:, :n]
    acov /= n
    # by lag, over chains: a contiguous row per lag, summed as NumPy sums a 1-D array
    mean_acov = np.mean(np.ascontiguousarray(acov.T), axis=1)
    mean_var = mean_acov[0] * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if n_chain > 1:
        var_plus += np.var(a.mean(axis=1), ddof=1)
    return 1.0 - (mean_var - mean_acov) / var_plus


def _ess(a: np.ndarray) -> float:
    """Effective sample size of (chain, draw): autocorrelations summed over Geyer's initial
    positive, then monotone, sequence.

    Lags go in pairs (2j, 2j + 1), lag 0 counting as 1. The positive sequence keeps the
    pairs before the first whose sum is not positive (looking at pairs that start before lag
    draw - 2), and the even lag after them when positive; the monotone sequence lowers each
    kept pair whose sum exceeds the smallest sum before it to that smallest sum, split
    evenly."""
    a = np.asarray(a, dtype=float)
    size = a.size
    if np.max(a) - np.min(a) < np.finfo(float).resolution:
        return size
    n_draw = a.shape[1]
    rho = _autocorrelation(a)
    kept = np.zeros(n_draw)
    kept[0], kept[1] = 1.0, rho[1]
    looked = len(range(1, n_draw - 3, 2)) if 1.0 + rho[1] > 0.0 else 0  # pairs 1.. looked at
    sums = rho[2 : 2 * looked + 2 : 2] + rho[3 : 2 * looked + 3 : 2]
    stops = np.flatnonzero(~(sums > 0.0))
    # pairs after pair 0 summed in full; when none is non-positive, the last pair looked at
    # adds its even lag alone
    pairs = int(stops[0]) if stops.size else looked - 1
    last = 2 * pairs + 1 if looked else -1  # the last lag summed in full
    kept[2 : last + 1] = rho[2 : last + 1]
    if looked and (rho[last + 1] > 0 or not stops.size or sums[pairs] == 0):
        kept[last + 1] = rho[last + 1]
    if pairs >= 1:
        pair_sums = kept[0 : last + 1 : 2] + kept[1 : last + 1 : 2]
        floor = np.minimum.accumulate(pair_sums)
        lower = np.flatnonzero(pair_sums[1:] > floor[:-1]) + 1
        kept[2 * lower] = kept[2 * lower + 1] = floor[lower - 1] / 2.0
    tau = -1.0 + 2.0 * np.sum(kept[: last + 1]) + np.sum(kept[last + 1 : last + 2])
    tau = max(tau, 1 / np.log10(size))
    if np.isnan(kept).any():
        return float("nan")
    return size / tau
