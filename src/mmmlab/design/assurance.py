"""What a test of lift draws L (S,) with noise sd σ_d is expected to give, at level α.

The stated test: the lift estimate ``L̂ = L + e``, e ~ N(0, σ_d²), is significant when
``|L̂| / σ_d > z_{1−α/2}`` (two-sided). Averaged over the draws (a posterior, a prior, or a
sceptical belief):

- `assurance`: P(significant), the posterior-expected power;
- `right_sign`: P(significant with the sign of the true lift);
- `rule_out`: P(the one-sided level-α upper bound of the test's incremental ROAS,
  ``L̂ / Δ``, falls below `roas`): the test rules out an effect of that size;
- `sd_reduction`: the expected fall of a quantity's posterior sd (a channel's ROAS) once the
  test is read out, a preposterior figure: outcomes ``L̂`` are drawn from the belief, each
  reweights the draws by its likelihood ``N(L̂; L_s, σ_d²)``, and the reweighted sd is
  averaged over outcomes (1 − E[sd after] / sd before).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm


def assurance(lift: np.ndarray, sd: float, alpha: float) -> float:
    """P(|L̂| / sd > z_{1−α/2}) averaged over lift draws (S,)."""
    z, x = norm.ppf(1 - alpha / 2), np.asarray(lift) / sd
    return float((norm.cdf(x - z) + norm.cdf(-x - z)).mean())


def right_sign(lift: np.ndarray, sd: float, alpha: float) -> float:
    """P(significant and of the true lift's sign) averaged over lift draws (S,)."""
    z = norm.ppf(1 - alpha / 2)
    return float(norm.cdf(np.abs(np.asarray(lift)) / sd - z).mean())


def rule_out(lift: np.ndarray, sd: float, alpha: float, spend: float, roas: float) -> float:
    """P(the upper level-α bound of the incremental ROAS L̂ / `spend` is below `roas`)."""
    z, scale = norm.ppf(1 - alpha), abs(spend) / sd
    return float(norm.cdf((roas - np.asarray(lift) / spend) * scale - z).mean())


def sd_reduction(
    lift: np.ndarray, quantity: np.ndarray, sd: float, outcomes: int = 256, seed: int = 0
) -> float:
    """Expected relative fall of the sd of `quantity` (S,) once a test with lift draws `lift`
    (S,) and noise `sd` is read out (see the module docstring)."""
    lift, quantity = np.asarray(lift, float), np.asarray(quantity, float)
    before = quantity.std()
    if before == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    seen = lift[rng.integers(0, len(lift), outcomes)] + sd * rng.standard_normal(outcomes)
    log_w = -0.5 * ((seen[:, None] - lift[None, :]) / sd) ** 2  # (M, S)
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    mean = w @ quantity
    after = np.sqrt(np.maximum(w @ quantity**2 - mean**2, 0.0))
    return float(1.0 - after.mean() / before)
