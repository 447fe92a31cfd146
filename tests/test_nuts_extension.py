"""A run of 1000 or more draws that has not converged keeps sampling (`extra_samples`), with
mmmlab's real NUTS programs: a funnel never converges, a Normal does at once."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

import mmmlab  # noqa: F401  (JAX settings)
from mmmlab.inference.diagnostics import converged_draws
from mmmlab.inference.nuts import CHUNK, extension, run_nuts
from mmmlab.inference.settings import SBC_SETTINGS, SamplerSettings


def normal(scale):
    numpyro.sample("x", dist.Normal(0.0, scale).expand([3]))


def funnel(scale):
    v = numpyro.sample("v", dist.Normal(0.0, 3.0 * scale))
    numpyro.sample("x", dist.Normal(0.0, jnp.exp(v / 2)).expand([4]))


def run(model, **options):
    settings = SamplerSettings(num_warmup=200, num_samples=1000, **options)
    return run_nuts(jax.random.PRNGKey(0), model.__name__, model, (jnp.asarray(1.0),), settings)


def test_an_unconverged_run_adds_draws_up_to_its_cap():
    stuck = run(funnel, extra_samples=300)
    assert stuck.stats.num_steps.shape == (2, 1300), stuck.stats.num_steps.shape
    assert stuck.z["v"].shape == (2, 1300)
    assert not converged_draws(stuck.z)  # it stopped at the cap, not because it converged
    exact = run(funnel, extra_samples=0)
    assert exact.z["v"].shape == (2, 1000)
    # The added draws continue the same chains: the first 1000 are the run without them.
    assert jnp.array_equal(exact.z["v"], stuck.z["v"][:, :1000])


def test_a_converged_run_samples_exactly_num_samples():
    fine = run(normal, extra_samples=300)
    assert converged_draws(fine.z) and fine.z["x"].shape == (2, 1000, 3)


def test_short_runs_and_sbc_refits_never_extend():
    assert extension(SamplerSettings(num_samples=999)) == 0
    assert extension(SamplerSettings(num_samples=1000)) == 1000
    assert extension(SBC_SETTINGS.model_copy(update={"num_samples": 2000})) == 0
    assert CHUNK == 100


def test_the_extension_decides_on_the_quantities_it_is_given():
    """`converged_on` replaces the raw draws in the verdict: a Normal's draws converge at
    once, but a quantity that differs by chain never does, so that run samples to its cap."""
    import numpy as np

    def apart(z):
        chains = z["x"].shape[0]
        return {"x0": z["x"][..., 0] + 100.0 * np.arange(chains)[:, None]}

    settings = SamplerSettings(num_warmup=200, num_samples=1000, extra_samples=300)
    split = run_nuts(
        jax.random.PRNGKey(0), "normal", normal, (jnp.asarray(1.0),), settings, converged_on=apart
    )
    assert split.z["x"].shape == (2, 1300, 3)
    assert converged_draws(split.z)  # the draws themselves had converged
