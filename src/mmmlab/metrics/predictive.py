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
