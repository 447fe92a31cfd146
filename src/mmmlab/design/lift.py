"""Predicted lift of candidate tests per posterior draw, through the model's own response.

One `decisions.response.Response` over a horizon of the longest duration N: its current
plan (N, G, C) is the spend of the N periods before the horizon's start. A test of D <= N
periods changes its channel's spend in its first D periods and in its treated geos; its lift
per period is `decisions.response.contributions` with the change minus without, for the test
channel over the treated geos: the adstock ramp within the test and the carry-over after
it, through every adstock and saturation the fit has (the function the optimizer uses).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from mmmlab.decisions.response import Response, contributions
from mmmlab.design.candidates import Candidate
from mmmlab.inference.programs import PROGRAMS


def changed_plan(response: Response, cand: Candidate) -> tuple[np.ndarray, float] | None:
    """The plan (N, G, C) with the candidate's change and its total spend change, or None
    when a relative change has no current spend to scale."""
    current = response.horizon.current
    c = response.channels.index(cand.channel)
    plan = current.copy()
    geos = list(cand.treated)
    window = current[: cand.duration, geos, c]  # (D, G_t)
    if cand.change.relative:
        if window.sum() <= 0:
            return None
        plan[: cand.duration, geos, c] = window * (1.0 + cand.change.value)
    else:
        total = window.sum()
        share = window / total if total > 0 else np.full(window.shape, 1.0 / window.size)
        new = window + cand.change.value * share
        if (new < 0).any():
            return None
        plan[: cand.duration, geos, c] = new
    return plan, float(plan.sum() - current.sum())


def lift_paths(
    response: Response,
    candidates: Sequence[Candidate],
    plans: Sequence[np.ndarray],
    tick: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Lift per draw and period (K, S, T') of each candidate (its `plans`, (N, G, C) each)
    on its channel over its treated geos, target units; T' = N + l_max - 1."""
    s, curves = response.structure, response.curves
    run, _ = PROGRAMS.get(
        ("design.contributions", s.key), lambda: jax.jit(lambda p, cv: contributions(p, cv, s))
    )
    base = np.asarray(run(jnp.asarray(response.horizon.current, dtype=float), curves))
    out = np.zeros((len(candidates), response.num_draws, base.shape[1]))
    for k, (cand, plan) in enumerate(zip(candidates, plans, strict=True)):
        c = response.channels.index(cand.channel)
        geos = list(cand.treated)
        with_test = np.asarray(run(jnp.asarray(plan, dtype=float), curves))
        out[k] = (with_test[..., geos, c] - base[..., geos, c]).sum(axis=-1)
        if tick is not None:
            tick(k + 1, len(candidates))
    return out
