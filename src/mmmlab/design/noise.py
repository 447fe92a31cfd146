"""How noisy a lift estimate is: the sd of a sum of W residuals, three ways.

A lift is estimated as the sum over its W measured periods of target minus the model's
counterfactual, so its noise is the sum of W residuals r_t (a series (T,): national total,
or treated minus scaled control for a geo design):

- ``iid``: σ √W, as if residuals were independent (what overstates assurance);
- ``ar1``: the exact sd of a sum of W AR(1) terms with σ and ρ (lag-1 autocorrelation) of
  the residuals, ``σ √(W + 2 Σ_{k<W} (W − k) ρ^k)``, which tends to ``σ √(W (1+ρ)/(1−ρ))``
  as W grows (for short windows that limit overstates it);
- ``placebo``: placebo-in-time, the sd of the lift estimator applied to every past window of
  W periods with no intervention. Its counterfactual must not have seen the window (a
  future test's counterfactual is a forecast): with a fit, `holdout_sums` leaves the window
  out by importance-weighting the posterior draws by ``1 / p(y_window | θ_s)``. In-sample
  residuals would understate the noise, because the fit absorbs part of each window's
  noise (on a world with AR(1) ρ = 0.6 the in-sample residuals' ρ was 0.34 and their sd
  22% short; see docs/design.md).

The designer uses the largest unless told otherwise (`NOISE_RULES`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

NOISE_RULES = ("max", "ar1", "placebo", "iid")


class Noise(NamedTuple):
    """sd of a W-period lift estimate: `iid`, `ar1`, `placebo`, and `used` (by `rule`);
    `sigma`, `rho` of the residual series it came from."""

    sigma: float
    rho: float
    periods: int
    iid: float
    ar1: float
    placebo: float
    used: float
    rule: str


def lag1(series: np.ndarray) -> float:
    """Lag-1 autocorrelation of a series (T,) around its mean, clipped to [0, 0.99]: a
    negative estimate is treated as independence (it would shrink the noise)."""
    x = np.asarray(series, float) - np.mean(series)
    rho = float((x[1:] * x[:-1]).sum() / max((x * x).sum(), 1e-300))
    return min(max(rho, 0.0), 0.99)


def ar1_sum_sd(sigma: float, rho: float, periods: int) -> float:
    """sd of the sum of `periods` consecutive terms of a stationary AR(1) with marginal sd
    `sigma` and lag-1 autocorrelation `rho`."""
    k = np.arange(1, periods)
    return float(sigma * np.sqrt(periods + 2.0 * ((periods - k) * rho**k).sum()))


def placebo_sd(series: np.ndarray, periods: int) -> float:
    """sd of the sums of `series` (T,) over every window of `periods` consecutive periods."""
    sums = np.convolve(np.asarray(series, float), np.ones(periods), mode="valid")
    return float(sums.std(ddof=1)) if len(sums) > 1 else float("nan")


def holdout_sums(
    mean: np.ndarray, loglik: np.ndarray, target: np.ndarray, combo: np.ndarray, periods: int
) -> np.ndarray:
    """Placebo lifts (N,): over every window of `periods` periods, the sum of
    ``combo · (y_t − ŷ_t)`` with ŷ the posterior mean left out of the window.

    mean, loglik : (S, T, G) expected target and pointwise log-likelihood per draw
    target : (T, G); combo : (G,) how geos enter the estimate (ones: national; treated
        minus w × control: a geo design)
    """

    def window_sums(x: np.ndarray) -> np.ndarray:  # (..., T) -> (..., N)
        c = np.concatenate([np.zeros((*x.shape[:-1], 1)), np.cumsum(x, axis=-1)], axis=-1)
        return c[..., periods:] - c[..., :-periods]

    log_w = -window_sums(loglik.sum(axis=2))  # (S, N)
    w = np.exp(log_w - log_w.max(axis=0))
    w /= w.sum(axis=0)
    expected = (w * window_sums(mean @ combo)).sum(axis=0)
    return window_sums(target @ combo) - expected


def lift_noise(
    series: np.ndarray, periods: int, rule: str = "max", placebo: np.ndarray | None = None
) -> Noise:
    """`Noise` of a lift summed over `periods` periods, from the residual `series` (T,);
    `placebo` lifts (N,) (`holdout_sums`) give the placebo figure, else the sums of `series`
    over every window (residuals that are out of sample already)."""
    if rule not in NOISE_RULES:
        raise ValueError(f"--noise {rule!r}: give one of {list(NOISE_RULES)}")
    sigma, rho = float(np.std(series, ddof=1)), lag1(series)
    iid = sigma * np.sqrt(periods)
    ar1 = ar1_sum_sd(sigma, rho, periods)
    placebo = placebo_sd(series, periods) if placebo is None else float(np.std(placebo, ddof=1))
    figures = {"iid": iid, "ar1": ar1, "placebo": placebo}
    used = max(ar1, placebo) if rule == "max" else figures[rule]
    return Noise(sigma, rho, periods, float(iid), ar1, placebo, float(used), rule)
