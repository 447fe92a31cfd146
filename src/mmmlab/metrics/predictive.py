"""Goodness of fit: pure array functions over (..., T) with explicit axes."""

from __future__ import annotations

import numpy as np


def r_squared(actual: np.ndarray, predicted: np.ndarray) -> float:
    """1 - SSE / SST over all elements; `predicted` is a point prediction shaped like `actual`."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    sst = np.square(actual - actual.mean()).sum()
    return float(1.0 - np.square(actual - predicted).sum() / sst) if sst > 0 else float("nan")


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error over elements with a non-zero actual (a fraction)."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    keep = actual != 0
    return float(np.mean(np.abs((actual[keep] - predicted[keep]) / actual[keep])))


def nrmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error over the range of `actual` (Robyn's normalisation)."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    span = actual.max() - actual.min()
    rmse = np.sqrt(np.mean(np.square(actual - predicted)))
    return float(rmse / span) if span > 0 else float("nan")


def fit_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """{'r2', 'mape', 'nrmse'} of a point prediction."""
    return {
        "r2": r_squared(actual, predicted),
        "mape": mape(actual, predicted),
        "nrmse": nrmse(actual, predicted),
    }


def srmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error over the mean of |actual| (scale-free, comparable across data)."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    scale = np.abs(actual).mean()
    return float(rmse(actual, predicted) / scale) if scale > 0 else float("nan")


def durbin_watson(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Durbin–Watson statistic of the residuals, time on the first axis (T, ...): each series
    (e.g. each geo) is differenced in time on its own. About 2 without autocorrelation; near 0
    when residuals drift together (missed trend or carry-over), near 4 when they alternate."""
    resid = np.asarray(actual, float) - np.asarray(predicted, float)
    num = np.square(np.diff(resid, axis=0)).sum()
    den = np.square(resid).sum()
    return float(num / den) if den > 0 else float("nan")


def crps(actual: np.ndarray, draws: np.ndarray) -> float:
    """Mean continuous ranked probability score of predictive draws (S, ...) against `actual`
    (...), by the energy form E|X - y| - E|X - X'| / 2 (sorted-sample identity, O(S log S))."""
    actual, draws = np.asarray(actual, float), np.asarray(draws, float)
    s = draws.shape[0]
    first = np.abs(draws - actual[None]).mean(axis=0)
    ordered = np.sort(draws, axis=0)
    weights = (2 * np.arange(1, s + 1) - s - 1).reshape((s,) + (1,) * actual.ndim)
    spread = (weights * ordered).sum(axis=0) / (s * s)  # = E|X - X'| / 2
    return float(np.mean(first - spread))


def interval_coverage(actual: np.ndarray, draws: np.ndarray, prob: float = 0.9) -> float:
    """Share of `actual` (...) inside the central `prob` interval of draws (S, ...)."""
    lo, hi = np.quantile(draws, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    actual = np.asarray(actual, float)
    return float(np.mean((actual >= lo) & (actual <= hi)))


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error of a point prediction."""
    diff = np.asarray(actual, float) - np.asarray(predicted, float)
    return float(np.sqrt(np.mean(np.square(diff))))
