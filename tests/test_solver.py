"""The constrained ascent on problems with known optima: a concave return whose marginal is
all but unbounded at zero spend (a Hill curve with slope < 1) must not stall there."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mmmlab.decisions.solver import ascend, project

POWER = 0.3


def power_returns(weights: np.ndarray):
    """f(x) = sum_i w_i x_i^0.3: the optimum on the simplex is x_i ∝ w_i^(1/0.7), and the
    derivative at x_i = 0 is about 6e10 w_i (the 1e-16 keeps it finite)."""
    w = jnp.asarray(weights)
    return jax.jit(jax.value_and_grad(lambda x: (w[None] * (x + 1e-16) ** POWER).sum()))


@pytest.mark.parametrize("zeros", [[3], [0, 5], [1, 2, 4]])
def test_channels_at_zero_with_a_steep_marginal_are_brought_in(zeros):
    weights = np.linspace(0.5, 1.5, 8)
    start = np.full((1, 8), 1.0)
    start[0, zeros] = 0.0
    start /= start.sum()
    low, high = jnp.zeros(8), jnp.ones(8)
    run = ascend(power_returns(weights), lambda u: project(u, low, high, 1.0), jnp.asarray(start))
    optimum = weights ** (1 / (1 - POWER))
    optimum /= optimum.sum()
    np.testing.assert_allclose(run.x[0], optimum, atol=1e-5)  # was 0.11-0.16 off: stalled at 1
    assert run.x.sum() == pytest.approx(1.0, abs=1e-12)
    marginal = np.asarray(power_returns(weights)(jnp.asarray(run.x))[1])
    assert (marginal.max() - marginal.min()) / marginal.mean() < 1e-4
