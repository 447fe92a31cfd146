"""Recovery of a known truth: pure array functions over posterior draws with explicit axes.

A simulator with an answer key lets us score a fit on what it cannot see from the data alone:
bias, error, and whether the posterior intervals cover the true parameters, ROAS and
contributions. The labelled tables at the end wrap the array functions for reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

PARAMETER_COLUMNS = [
    "parameter",
    "truth",
    "mean",
    "median",
    "sd",
    "bias",
    "rel_bias",
    "rmse",
    "lo90",
    "hi90",
    "cover50",
    "cover90",
    "z",
]
CONTRIBUTION_METRICS = ["bias", "rel_bias", "rmse", "srmse", "r2"]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` elementwise, NaN where ``den == 0`` (no warning)."""
    num, den = np.broadcast_arrays(np.asarray(num, float), np.asarray(den, float))
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def central_interval(
    draws: np.ndarray, prob: float, axis: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed central interval of posterior draws.

    Parameters
    ----------
    draws : np.ndarray, shape (..., S, ...)
        Posterior draws, with the draw axis at `axis`.
    prob : float
        Probability mass inside the interval, in (0, 1).
    axis : int
        Draw axis of `draws`.

    Returns
    -------
    lo, hi : np.ndarray, shape of `draws` without `axis`
        Quantiles ``(1 - prob) / 2`` and ``(1 + prob) / 2``: ``np.quantile``'s values (linear
        interpolation; NaN where a draw is NaN), from two single-rank partitions instead of
        its multi-rank one (4-5x faster on 4000 draws; fastest with the draws contiguous,
        ``axis=-1``).
    """
    if not 0.0 < prob < 1.0:
        raise ValueError(f"prob must lie strictly between 0 and 1, got {prob}")
    qs = [(1.0 - prob) / 2.0, (1.0 + prob) / 2.0]
    x = np.moveaxis(np.asarray(draws, float), axis, -1)
    n = x.shape[-1]
    at = [(n - 1) * q for q in qs]  # np.quantile's virtual indices, so the same weights
    i, j = (int(np.floor(v)) for v in at)
    if n < 4 or j < i + 2 or j + 1 > n - 1:  # few draws: the ranks overlap
        lo, hi = np.quantile(x, qs, axis=-1)
        return lo, hi
    low = np.partition(x, i + 1, axis=-1)  # rank i + 1 in place, ranks 0..i before it
    high = low[..., i + 2 :]  # ranks i + 2 .. n - 1, partitioned in place at rank j + 1
    k = j + 1 - (i + 2)
    high.partition(k, axis=-1)
    nan = np.isnan(high[..., k:]).any(axis=-1)  # NaN sorts last: in the top ranks if anywhere
    lo = _lerp(low[..., : i + 1].max(axis=-1), low[..., i + 1], at[0] - i)
    hi = _lerp(high[..., :k].max(axis=-1), high[..., k], at[1] - j)
    return np.where(nan, np.nan, lo)[()], np.where(nan, np.nan, hi)[()]


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """``np.quantile``'s linear interpolation between neighbouring order statistics."""
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t


def covers(draws: np.ndarray, truth: np.ndarray, prob: float, axis: int = 0) -> np.ndarray:
    """Whether `truth` lies inside the central `prob` interval of `draws` (ends included).

    Parameters
    ----------
    draws : np.ndarray, shape (..., S, ...)
        Posterior draws, with the draw axis at `axis`.
    truth : np.ndarray
        True values; broadcasts against the shape of `draws` without `axis`.
    prob : float
        Probability mass of the central interval, in (0, 1).
    axis : int
        Draw axis of `draws`.

    Returns
    -------
    np.ndarray of bool, broadcast shape of `truth` and `draws` without `axis`
    """
    lo, hi = central_interval(draws, prob, axis=axis)
    truth = np.asarray(truth, float)
    return (lo <= truth) & (truth <= hi)


def _element_names(
    name: str, shape: tuple[int, ...], axis_labels: Sequence[Sequence[str]] | None
) -> list[str]:
    """Row labels of every scalar element of a parameter, in C order.

    ``name`` for a scalar, ``name[i,j]`` by index, or ``name[tv,geo_a]`` with per-axis labels.
    """
    if not shape:
        return [name]
    if axis_labels is None:
        axis_labels = [[str(i) for i in range(n)] for n in shape]
    label_shape = tuple(len(axis) for axis in axis_labels)
    if label_shape != shape:
        raise ValueError(
            f"labels[{name!r}] give {label_shape} labels per axis but the parameter has "
            f"shape {shape}; pass one label list per axis with one label per element"
        )
    return [
        f"{name}[{','.join(str(axis_labels[k][i]) for k, i in enumerate(idx))}]"
        for idx in np.ndindex(*shape)
    ]


def parameter_recovery(
    draws: Mapping[str, np.ndarray],
    truth: Mapping[str, np.ndarray],
    labels: Mapping[str, Sequence[Sequence[str]]] | None = None,
) -> pd.DataFrame:
    """Score posterior draws of every parameter against its true value, one row per element.

    Parameters
    ----------
    draws : Mapping[str, np.ndarray]
        ``draws[name]`` has shape (S, *shape): S posterior draws (chains flattened).
    truth : Mapping[str, np.ndarray]
        ``truth[name]`` has shape (*shape). Only names in both mappings are scored, sorted.
    labels : Mapping[str, Sequence[Sequence[str]]], optional
        ``labels[name]`` holds one label list per axis of the parameter, e.g.
        ``{"geometric_alpha": [["tv", "search"]]}``; parameters without labels are indexed.

    Returns
    -------
    pd.DataFrame
        Columns ``parameter`` (``"sigma[0]"``, ``"geometric_alpha[tv]"``, ``"trend_slope"``),
        ``truth``, ``mean``, ``median``, ``sd`` (of the draws, ddof=0, so that
        ``rmse**2 == bias**2 + sd**2``), ``bias`` (mean - truth), ``rel_bias`` (bias / |truth|,
        NaN at truth 0), ``rmse`` (root of the posterior mean of (draw - truth)**2),
        ``lo90``, ``hi90``, ``cover50``, ``cover90`` (truth inside the central interval) and
        ``z`` ((mean - truth) / sd, NaN at sd 0).

    Raises
    ------
    ValueError
        If a parameter's draws and truth disagree in shape.
    """
    labels = labels or {}
    blocks = []
    for name in sorted(set(draws) & set(truth)):
        d, t = np.asarray(draws[name], float), np.asarray(truth[name], float)
        if d.ndim == 0 or d.shape[1:] != t.shape:
            raise ValueError(
                f"parameter {name!r}: draws have shape {d.shape} (draw axis first), so each draw "
                f"is {d.shape[1:]}, but truth has shape {t.shape}; they must match"
            )
        mean, sd = d.mean(axis=0), d.std(axis=0)
        bias = mean - t
        lo90, hi90 = central_interval(d, 0.9)
        columns = {
            "truth": t,
            "mean": mean,
            "median": np.median(d, axis=0),
            "sd": sd,
            "bias": bias,
            "rel_bias": _ratio(bias, np.abs(t)),
            "rmse": np.sqrt(np.mean(np.square(d - t), axis=0)),
            "lo90": lo90,
            "hi90": hi90,
            "cover50": covers(d, t, 0.5),
            "cover90": (lo90 <= t) & (t <= hi90),
            "z": _ratio(bias, sd),
        }
        block = {"parameter": _element_names(name, t.shape, labels.get(name))}
        block |= {key: np.ravel(value) for key, value in columns.items()}
        blocks.append(pd.DataFrame(block, columns=PARAMETER_COLUMNS))
    if not blocks:
        return pd.DataFrame(columns=PARAMETER_COLUMNS)
    return pd.concat(blocks, ignore_index=True)


def roas_recovery(draws: np.ndarray, truth: np.ndarray, channels: Sequence[str]) -> pd.DataFrame:
    """Score posterior ROAS draws against the true ROAS, one row per channel.

    Parameters
    ----------
    draws : np.ndarray, shape (S, C)
        Posterior draws of each channel's ROAS.
    truth : np.ndarray, shape (C,)
        True ROAS.
    channels : Sequence[str], length C
        Channel names, in the order of the last axis.

    Returns
    -------
    pd.DataFrame
        Columns ``channel``, ``truth``, ``mean``, ``median``, ``lo90``, ``hi90``, ``error``
        (mean - truth), ``abs_error``, ``rel_error`` (error / |truth|, NaN at truth 0),
        ``cover50`` and ``cover90``.
    """
    draws, truth = np.asarray(draws, float), np.asarray(truth, float)
    if draws.ndim != 2 or truth.shape != draws.shape[1:] or len(channels) != truth.shape[0]:
        raise ValueError(
            f"roas_recovery wants draws (S, C), truth (C,) and C channel names; got draws "
            f"{draws.shape}, truth {truth.shape} and {len(channels)} channels"
        )
    mean = draws.mean(axis=0)
    error = mean - truth
    lo90, hi90 = central_interval(draws, 0.9)
    return pd.DataFrame(
        {
            "channel": list(channels),
            "truth": truth,
            "mean": mean,
            "median": np.median(draws, axis=0),
            "lo90": lo90,
            "hi90": hi90,
            "error": error,
            "abs_error": np.abs(error),
            "rel_error": _ratio(error, np.abs(truth)),
            "cover50": covers(draws, truth, 0.5),
            "cover90": (lo90 <= truth) & (truth <= hi90),
        }
    )


def contribution_recovery(
    estimate: np.ndarray, truth: np.ndarray, axis: int = 0
) -> dict[str, np.ndarray]:
    """Error of estimated contribution series against the true ones, over time.

    Parameters
    ----------
    estimate : np.ndarray, shape like `truth`, or (S, *truth.shape)
        Estimated contributions, e.g. posterior means (T, G, C); with one extra leading axis
        they are posterior draws and their mean over that axis is scored.
    truth : np.ndarray, shape (..., T, ...)
        True contributions, with time at `axis`.
    axis : int
        Time axis of `truth` (and of `estimate` once any draw axis is averaged out).

    Returns
    -------
    dict[str, np.ndarray], each shaped like `truth` without `axis`
        ``bias``: mean over time of estimate - truth; ``rel_bias``: sum(estimate - truth) /
        sum(truth); ``rmse``; ``srmse``: rmse / mean |truth|; ``r2``: 1 - SSE / SST around the
        time mean of truth. Ratios are NaN where their denominator is 0.
    """
    estimate, truth = np.asarray(estimate, float), np.asarray(truth, float)
    if estimate.ndim == truth.ndim + 1:
        estimate = estimate.mean(axis=0)
    if estimate.shape != truth.shape:
        raise ValueError(
            f"estimate has shape {estimate.shape} but truth has shape {truth.shape}; pass "
            "estimates shaped like truth, or posterior draws with one extra leading axis"
        )
    error = estimate - truth
    rmse = np.sqrt(np.mean(np.square(error), axis=axis))
    sst = np.sum(np.square(truth - truth.mean(axis=axis, keepdims=True)), axis=axis)
    return {
        "bias": error.mean(axis=axis),
        "rel_bias": _ratio(error.sum(axis=axis), truth.sum(axis=axis)),
        "rmse": rmse,
        "srmse": _ratio(rmse, np.abs(truth).mean(axis=axis)),
        "r2": 1.0 - _ratio(np.sum(np.square(error), axis=axis), sst),
    }


def contribution_recovery_table(
    estimate: np.ndarray,
    truth: np.ndarray,
    channels: Sequence[str],
    geos: Sequence[str],
) -> pd.DataFrame:
    """`contribution_recovery` per geo and channel, then per channel summed over geos.

    Parameters
    ----------
    estimate : np.ndarray, shape (T, G, C) or (S, T, G, C)
        Estimated contributions (posterior draws are averaged over S first).
    truth : np.ndarray, shape (T, G, C)
        True contributions.
    channels : Sequence[str], length C
    geos : Sequence[str], length G

    Returns
    -------
    pd.DataFrame
        Columns ``geo``, ``channel``, ``bias``, ``rel_bias``, ``rmse``, ``srmse``, ``r2``:
        G * C rows geo by geo, then C rows with ``geo == "all"`` scoring the national series
        (estimate and truth summed over geos).
    """
    estimate, truth = np.asarray(estimate, float), np.asarray(truth, float)
    if estimate.ndim == 4:
        estimate = estimate.mean(axis=0)
    if truth.ndim != 3 or truth.shape[1:] != (len(geos), len(channels)):
        raise ValueError(
            f"truth must be (T, G, C) with G={len(geos)} geos and C={len(channels)} channels; "
            f"got shape {truth.shape}"
        )
    per_geo = contribution_recovery(estimate, truth, axis=0)
    national = contribution_recovery(estimate.sum(axis=1), truth.sum(axis=1), axis=0)
    geo_rows = pd.DataFrame(
        {
            "geo": np.repeat(list(geos), len(channels)),
            "channel": np.tile(list(channels), len(geos)),
        }
        | {key: per_geo[key].ravel() for key in CONTRIBUTION_METRICS}
    )
    all_rows = pd.DataFrame(
        {"geo": ["all"] * len(channels), "channel": list(channels)}
        | {key: national[key] for key in CONTRIBUTION_METRICS}
    )
    return pd.concat([geo_rows, all_rows], ignore_index=True)
