"""A run of 1000 or more draws that has not converged keeps sampling (`extra_samples`) while
its ESS could reach the target, with mmmlab's real NUTS programs: a Normal converges at once,
a smoothed Normal a little later, a funnel is far from it and stops."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

import mmmlab  # noqa: F401  (JAX settings)
from mmmlab.inference.diagnostics import converged_draws, worth_extending
from mmmlab.inference.nuts import CHUNK, PROBE, extension, run_nuts
from mmmlab.inference.settings import SBC_SETTINGS, SamplerSettings


def normal(scale):
    numpyro.sample("x", dist.Normal(0.0, scale).expand([3]))


def funnel(scale):
    v = numpyro.sample("v", dist.Normal(0.0, 3.0 * scale))
    numpyro.sample("x", dist.Normal(0.0, jnp.exp(v / 2)).expand([4]))


def run(model, converged_on=None, **options):
    settings = SamplerSettings(num_warmup=200, num_samples=1000, **options)
    args = (jnp.asarray(1.0),)
    return run_nuts(
        jax.random.PRNGKey(0), model.__name__, model, args, settings, converged_on=converged_on
    )


def smoothed(z):
    """x[0] averaged over 5 consecutive draws: bulk ESS about a fifth of the draws', a little
    short of the target after 2 x 1000 draws of a Normal."""
    x = np.asarray(z["x"][..., 0])
    return {"x0": np.stack([np.convolve(c, np.ones(5) / 5, mode="valid") for c in x])}


def test_a_run_a_little_short_samples_on_until_it_converges():
    short = run(normal, extra_samples=1000, converged_on=smoothed)
    draws = short.z["x"].shape[1]
    assert 1000 < draws < 2000, draws  # it added draws, and stopped once converged
    assert converged_draws(smoothed(short.z))
    assert not converged_draws(smoothed({"x": short.z["x"][:, : draws - 100]}))
    exact = run(normal, extra_samples=0)
    # The added draws continue the same chains: the first 1000 are the run without them.
    assert jnp.array_equal(exact.z["x"], short.z["x"][:, :1000])


def test_a_run_far_from_converging_stops_after_its_probe():
    """A funnel's ESS after 1000 draws (~90) grows too slowly over the `PROBE` draws it adds
    to reach 400 within the rest of its 1000: the run ends there, unconverged."""
    stuck = run(funnel, extra_samples=1000)
    assert stuck.z["v"].shape == (2, 1000 + PROBE)
    assert not converged_draws(stuck.z)


def test_the_pace_is_measured_or_proportional():
    since = (1000, 100.0)
    assert not worth_extending(100.0, 1000, 1000, since)  # 200 at the cap: short of 400
    assert worth_extending(100.0, 1000, 3000, since)  # 400 at the cap
    # 100 -> 200 over 200 draws: a measured pace of 0.5 per draw reaches 400 in 400 draws
    assert worth_extending(200.0, 1200, 400, since)
    assert not worth_extending(200.0, 1200, 300, since)


def test_a_converged_run_samples_exactly_num_samples():
    fine = run(normal, extra_samples=300)
    assert converged_draws(fine.z) and fine.z["x"].shape == (2, 1000, 3)


def test_short_runs_and_sbc_refits_never_extend():
    assert extension(SamplerSettings(num_samples=999)) == 0
    assert extension(SamplerSettings(num_samples=1000)) == 1000
    assert extension(SBC_SETTINGS.model_copy(update={"num_samples": 2000})) == 0
    assert CHUNK == 100
