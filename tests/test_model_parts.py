"""The parts of the additive MMM that fitting, prediction and simulation share: the
observation model, the geo spread of channel effects and the sum of the additive parts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import mmmlab  # noqa: F401  (JAX settings)
from mmmlab.models.likelihood import draw_noise, observation
from mmmlab.models.mmm import geo_effects, mean_of
from mmmlab.synth import WorldSpec, simulate
from mmmlab.synth.presets import PRESETS


def test_observation_is_normal_or_student_t_around_the_mean():
    rng = np.random.default_rng(0)
    y, mu = rng.normal(size=(30, 3)), rng.normal(size=(30, 3))
    sigma, nu = np.array([0.5, 1.0, 2.0]), 3.5
    normal = np.asarray(observation("normal", mu, sigma).log_prob(y))
    np.testing.assert_allclose(normal, stats.norm.logpdf(y, mu, sigma), rtol=1e-12)
    student = np.asarray(observation("student_t", mu, sigma, nu).log_prob(y))
    np.testing.assert_allclose(student, stats.t.logpdf(y, nu, mu, sigma), rtol=1e-12)
    with pytest.raises(ValueError, match="likelihood"):
        observation("poisson", mu, sigma)


@pytest.mark.parametrize("likelihood, nu", [("normal", None), ("student_t", 5.0)])
def test_drawn_noise_follows_the_observation_model(likelihood, nu):
    sigma = np.array([0.5, 2.0])
    noise = draw_noise(likelihood, np.random.default_rng(1), sigma, (20_000, 2), nu)
    family = stats.norm() if nu is None else stats.t(nu)
    for g in range(2):
        assert stats.kstest(noise[:, g] / sigma[g], family.cdf).pvalue > 0.01
    again = draw_noise(likelihood, np.random.default_rng(1), sigma, (20_000, 2), nu)
    np.testing.assert_array_equal(noise, again)


def test_a_student_t_world_draws_student_t_noise():
    world = PRESETS["small_business"]().model_dump()
    world |= {"n_periods": 2000, "start": "1985-01-06", "likelihood": "student_t", "nu": 3.0}
    _, truth = simulate(WorldSpec.model_validate(world), 0)
    z = truth.noise[:, 0] / truth.params["sigma"][0]  # both in target units
    assert stats.kstest(z, stats.t(3.0).cdf).pvalue > 0.01
    assert stats.kstest(z, stats.norm.cdf).pvalue < 0.01


def test_geo_effects_agree_in_numpy_and_jax_and_over_draws():
    rng = np.random.default_rng(2)
    S, C, G = 5, 3, 4
    draws = {
        "effect": rng.gamma(2.0, 0.1, (S, C)),
        "effect_geo_sd": rng.gamma(2.0, 0.1, (S, C)),
        "effect_geo_z": rng.normal(size=(S, C, G)),
    }
    batched = geo_effects(draws, G)
    assert isinstance(batched, np.ndarray) and batched.shape == (S, G, C)
    for s in range(S):
        one = {k: v[s] for k, v in draws.items()}
        expected = one["effect"] * np.exp(one["effect_geo_sd"] * one["effect_geo_z"].T)
        np.testing.assert_allclose(batched[s], expected, rtol=1e-15)
        in_jax = geo_effects({k: jnp.asarray(v) for k, v in one.items()}, G)
        assert isinstance(in_jax, jax.Array)
        np.testing.assert_allclose(np.asarray(in_jax), expected, rtol=1e-14)
    national = geo_effects({"effect": draws["effect"]}, 1)
    np.testing.assert_array_equal(national, draws["effect"][:, None, :])


def test_mean_of_sums_every_part_in_order_and_the_media_over_channels():
    rng = np.random.default_rng(3)
    parts = {k: rng.normal(size=(6, 2)) for k in ("baseline", "trend", "confounder")}
    parts["media"] = rng.normal(size=(6, 2, 3))
    total = parts["baseline"] + parts["trend"] + parts["confounder"] + parts["media"].sum(-1)
    np.testing.assert_array_equal(mean_of(parts), total)
