"""What the optimizer maximises over the posterior draws of a plan's incremental response.

Each objective is an L-estimator: a weighted sum of the sorted draws, ``sum_i w_i r_(i)``.
- ``mean``: equal weights, the expected incremental response.
- ``quantile:Q``: the Harrell-Davis estimate of the Q quantile, Beta(Q(S+1), (1-Q)(S+1))
  weights spread over the order statistics near rank QS. A single order statistic jumps from
  draw to draw as the plan moves; these weights change little where two draws swap ranks, so
  the objective is close to smooth and its gradient (through the sort) is informative.
- ``cvar:Q``: the mean of the lowest Q share of the draws (conditional value at risk, the
  expected response in the worst Q of the posterior), with a fractional weight on the draw at
  the boundary. Where every draw's response is concave in spend this is concave too (a
  minimum of averages), and the sort's gradient is a supergradient.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.stats import beta

from mmmlab.decisions.inputs import PlanError

KINDS = ("mean", "quantile", "cvar")


class Objective(NamedTuple):
    """kind : 'mean' | 'quantile' | 'cvar'; level : Q in (0, 1) (None for the mean)."""

    kind: str
    level: float | None = None

    @property
    def label(self) -> str:
        return self.kind if self.level is None else f"{self.kind}:{self.level:g}"

    def weights(self, num_draws: int) -> np.ndarray:
        """(S,) weights on the draws sorted from lowest to highest; they sum to 1."""
        S = num_draws
        if self.kind == "mean" or S == 1:
            return np.full(S, 1.0 / S)
        q = float(self.level)
        edges = np.arange(S + 1) / S
        if self.kind == "quantile":
            return np.diff(beta.cdf(edges, q * (S + 1), (1.0 - q) * (S + 1)))
        mass = np.clip(q * S - np.arange(S), 0.0, 1.0)  # cvar: the lowest q·S draws
        return mass / mass.sum()


def parse_objective(text: str) -> Objective:
    """'mean', 'quantile:Q' or 'cvar:Q' with Q in (0, 1); raises PlanError naming
    --objective."""
    kind, _, level = str(text).strip().partition(":")
    if kind not in KINDS or (kind == "mean") != (level == ""):
        raise PlanError(
            f"--objective {text!r}: give mean, quantile:Q or cvar:Q with Q in (0, 1), e.g. "
            "cvar:0.1 (the mean of the worst 10% of draws)"
        )
    if kind == "mean":
        return Objective("mean")
    try:
        q = float(level)
    except ValueError:
        q = float("nan")
    if not 0.0 < q < 1.0:
        raise PlanError(f"--objective {text!r}: the level Q must be a number in (0, 1)")
    return Objective(kind, q)
