"""How NUTS starts and warms up: with multi-start initialisation every chain begins at the
best of several optimised starts, and the other optima are kept so competing modes are
reported, not hidden; warmup trees stop at their own depth cap."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

import mmmlab  # noqa: F401  (JAX settings)
from mmmlab.backends.hill_mixture import competing_modes
from mmmlab.inference.nuts import run_nuts
from mmmlab.inference.settings import SamplerSettings


def bimodal(y=None):
    """Two separated modes: 0.8 of the mass at -3, 0.2 at +3 (log density gap 1.39)."""
    mix = dist.MixtureSameFamily(
        dist.Categorical(probs=np.array([0.8, 0.2])), dist.Normal(np.array([-3.0, 3.0]), 0.4)
    )
    numpyro.sample("x", mix)


def _run(num_starts: int, seed: int):
    settings = SamplerSettings(
        num_warmup=200, num_samples=200, num_chains=4, init_radius=5.0, num_starts=num_starts
    )
    return run_nuts(jax.random.PRNGKey(seed), "bimodal", bimodal, (), settings)


def test_best_of_starts_puts_every_chain_in_the_highest_mode_and_keeps_the_others():
    run = _run(num_starts=16, seed=0)
    x = run.z["x"]
    assert x.shape == (4, 200)
    assert np.all(x < 0), "every chain samples the higher mode at -3"
    assert abs(float(np.mean(x)) + 3.0) < 0.1
    potentials, points = run.starts
    assert potentials.shape == (16,) and points.shape == (16, 1)
    # Both modes were found by some start, 1.39 nats apart: the other one is reported.
    assert np.any(points[:, 0] > 2) and np.any(points[:, 0] < -2)
    share = competing_modes(potentials, points, x.std(axis=1).mean(keepdims=True))
    assert 0.0 < share < 1.0
    assert share == np.mean(points[:, 0] > 2)


def test_per_chain_starts_can_land_in_different_modes():
    """The default (one optimisation per chain) is what multi-start fixes: from wide starts,
    chains end up in both modes for some seed."""
    runs = [_run(num_starts=1, seed=s) for s in range(4)]
    split = [r.z["x"].mean(axis=1) for r in runs]
    assert any((m < 0).any() and (m > 0).any() for m in split)
    assert runs[0].starts is None


def test_competing_modes_counts_distant_optima_of_similar_height():
    potentials = np.array([10.0, 10.5, 12.0, 20.0, 10.0, np.nan])
    summaries = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 5.0], [9.0, 9.0], [0.2, 0.1], [0, 0]])
    scale = np.array([1.0, 2.0])
    # best is index 0; index 1 (0.5 nats, 3 sd away) and 2 (2 nats, 2.5 sd) compete; 3 is
    # 10 nats worse; 4 is the same mode (0.2 sd); 5 failed.
    assert competing_modes(potentials, summaries, scale) == 2 / 6
    # Wider posterior: the same optima are within two sds, so nothing competes.
    assert competing_modes(potentials, summaries, scale * 3) == 0.0
    assert competing_modes(potentials[:1], summaries[:1], scale) == 0.0


def funnel(y=None):
    """Neal's funnel in 3 dimensions: long trajectories until the metric adapts."""
    log_scale = numpyro.sample("log_scale", dist.Normal(0.0, 1.5))
    numpyro.sample("x", dist.Normal(0.0, jnp.exp(log_scale)).expand([2]))


def test_warmup_trees_stop_at_the_warmup_depth_and_sampling_trees_may_grow():
    def run(warmup_depth: int):
        settings = SamplerSettings(
            num_warmup=100, num_samples=100, num_chains=2, warmup_tree_depth=warmup_depth
        )
        return run_nuts(jax.random.PRNGKey(0), "funnel", funnel, (), settings)

    capped = run(1)
    assert capped.warmup_steps <= 2 * 100 * 1  # depth 1: one leapfrog step per iteration
    assert capped.stats.num_steps.max() > 1  # sampling uses the full depth
    free = run(10)
    assert free.warmup_steps > capped.warmup_steps
