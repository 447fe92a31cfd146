"""PSIS-LOO from pointwise log-likelihood, and the paired comparison of two models."""

from __future__ import annotations

import warnings

import numpy as np


def loo(log_lik: np.ndarray, num_chains: int = 1) -> dict[str, float | np.ndarray]:
    """PSIS leave-one-out of pointwise log-likelihood (S, N) with S = chains × draws.

    Returns elpd_loo, se, p_loo, pareto_k_bad (count of k > 0.7) and `pointwise` (N,).
    """
    import arviz as az

    s, n = log_lik.shape
    data = az.from_dict(
        posterior={"dummy": np.zeros((num_chains, s // num_chains))},
        log_likelihood={"y": log_lik.reshape(num_chains, s // num_chains, n)},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # high Pareto k is reported as a count instead
        result = az.loo(data, pointwise=True)
    pareto_k = np.asarray(result.pareto_k)
    return {
        "elpd_loo": float(result.elpd_loo),
        "se": float(result.se),
        "p_loo": float(result.p_loo),
        "pareto_k_bad": float(np.sum(pareto_k > 0.7)),
        "pointwise": np.asarray(result.loo_i),
    }


def loo_difference(pointwise_a: np.ndarray, pointwise_b: np.ndarray) -> tuple[float, float]:
    """elpd(a) - elpd(b) and the standard error of that paired difference."""
    diff = np.asarray(pointwise_a, float) - np.asarray(pointwise_b, float)
    return float(diff.sum()), float(np.sqrt(len(diff)) * diff.std(ddof=1))
