"""AR(1) noise in time (`ModelConfig(noise="ar1")`): the density, its draws, and the real
sampler recovering the autocorrelation of a world that has it and of one that has none."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal

import mmmlab
from mmmlab.inference.calibration import run_sbc
from mmmlab.models import ModelConfig
from mmmlab.models.likelihood import (
    AR1,
    ar1,
    observation,
    pointwise_log_likelihood,
    target_distribution,
)
from mmmlab.synth import example_dataset, simulate
from mmmlab.synth.presets import shipped_world
from test_sbc import SMALL  # tests/ is on sys.path (pytest rootdir)

T, G = 12, 2
RNG = np.random.default_rng(0)
MU, Y = RNG.normal(size=(T, G)), RNG.normal(size=(T, G))
SIGMA = np.array([0.5, 1.5])


def test_the_density_is_the_gaussian_with_ar1_covariance():
    rho = 0.7
    lags = np.abs(np.arange(T)[:, None] - np.arange(T)[None, :])
    expected = sum(
        multivariate_normal(MU[:, g], SIGMA[g] ** 2 * rho**lags).logpdf(Y[:, g]) for g in range(G)
    )
    density = AR1("normal", jnp.asarray(MU), jnp.asarray(SIGMA), rho)
    assert float(density.log_prob(jnp.asarray(Y))) == pytest.approx(expected, rel=1e-10)
    points = pointwise_log_likelihood(density, jnp.asarray(Y))
    assert points.shape == (T, G) and float(points.sum()) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("likelihood, nu", [("normal", None), ("student_t", 4.0)])
def test_at_zero_autocorrelation_it_is_the_independent_model(likelihood, nu):
    iid = target_distribution(likelihood, jnp.asarray(MU), jnp.asarray(SIGMA), nu)
    ar = target_distribution(likelihood, jnp.asarray(MU), jnp.asarray(SIGMA), nu, rho=0.0)
    assert float(ar.log_prob(Y)) == pytest.approx(float(iid.log_prob(Y)), rel=1e-12)
    each = observation(likelihood, MU, SIGMA, nu).log_prob(Y)
    np.testing.assert_allclose(pointwise_log_likelihood(iid, Y), each, rtol=1e-12)


def test_draws_keep_the_marginal_sd_and_the_autocorrelation():
    rho = jnp.array([0.8, -0.3])  # a batch of two
    density = AR1("normal", jnp.zeros((2, T, G)), jnp.asarray(SIGMA), rho)
    draws = np.asarray(density.sample(jax.random.PRNGKey(1), (20_000,)))  # (N, 2, T, G)
    z = draws / SIGMA
    np.testing.assert_allclose(z.std(axis=(0, 2)), 1.0, atol=0.02)
    lag1 = (z[:, :, 1:] * z[:, :, :-1]).mean(axis=(0, 2, 3))
    np.testing.assert_allclose(lag1, [0.8, -0.3], atol=0.02)
    # NumPy's filter, with one autocorrelation per draw, agrees in distribution.
    r = np.array([0.8, -0.3])
    series = ar1(RNG.standard_normal((2, 20_000, G)), r[:, None], axis=1)  # rho per draw
    np.testing.assert_allclose(series.std(axis=1), 1.0, atol=0.03)
    lag1 = (series[:, 1:] * series[:, :-1]).mean(axis=(1, 2))
    np.testing.assert_allclose(lag1, r, atol=0.03)


def test_sbc_ranks_are_uniform_with_ar1_noise():
    dataset = example_dataset(n_weeks=52)[0]
    config = ModelConfig(yearly_seasonality=1, noise="ar1")
    result = run_sbc(dataset, config, **SMALL)
    summary = result.summary
    assert "noise_rho" in set(summary["parameter"]), summary["parameter"].tolist()
    assert not summary["rejected_bonferroni_1pct"].any(), "\n" + summary.to_string()


@pytest.mark.parametrize("world_rho", [0.0, 0.6])
def test_a_fit_recovers_the_worlds_autocorrelation(world_rho, tmp_path):
    spec = shipped_world("small_business")
    spec = spec.model_copy(update={"noise_ar1": world_rho})
    dataset, _ = simulate(spec, 0)
    config = spec.model_config_of().model_copy(update={"noise": "ar1"})
    fit = mmmlab.fit(dataset, config, seed=0, num_warmup=300, num_samples=300)
    rho = fit.flat_posterior()["noise_rho"]
    lo, hi = np.quantile(rho, [0.05, 0.95])
    assert lo < world_rho < hi and hi - lo < 0.5, (world_rho, lo, hi)
    # Predictions carry the autocorrelation; the log-likelihood is one value per observation.
    residual = fit.predict(seed=1) - fit.components().mean
    lag1 = np.mean(
        [np.corrcoef(r[1:, 0], r[:-1, 0])[0, 1] for r in residual[:: max(1, len(residual) // 50)]]
    )
    assert abs(lag1 - rho.mean()) < 0.15, (lag1, rho.mean())
    assert fit.log_likelihood().shape == (fit.num_draws, *dataset.target.shape)
