"""The optimizer's response is the model's: under a world's true parameters it reproduces
the world's own contributions (its answer key), under a fit's draws it equals
`Fit.components` and `media_effect` on the same window, and a plan is credited only with what
it adds, carry-over included."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import mmmlab
from mmmlab.decisions.response import Response, contributions
from mmmlab.decisions.window import future_window, plan_horizon
from mmmlab.models.mmm import geo_effects, media_effect
from mmmlab.models.scaling import prepare
from mmmlab.synth.presets import shipped_world
from mmmlab.synth.world import simulate_world

pytestmark = pytest.mark.xdist_group("fit")
N = 20


def _replayed(response: Response, spend: np.ndarray) -> np.ndarray:
    """Contributions (S, N + l_max - 1, G, C) with `spend` (N, G, C) from the start."""
    return np.asarray(contributions(jnp.asarray(spend), response.curves, response.structure))


@pytest.mark.parametrize("world", ["example", "growing_business"])
def test_the_true_response_replays_the_worlds_own_contributions(world):
    """The last N periods of a world, replanned with the spend it had: the contributions the
    world drew (logistic and Hill curves, national and two geos) come back to 1e-9."""
    if world == "example":
        data, truth = mmmlab.example_dataset()
        config = mmmlab.ModelConfig()
    else:
        spec = shipped_world(world)
        data, truth = simulate_world(spec, seed=1)
        config = spec.model_config_of()
    start = str(data.dates[-N].date())
    response = Response.from_truth(truth, data, config, N, start)
    replayed = _replayed(response, data.spend[-N:])[0, :N]
    scale = np.abs(truth.contributions).max()
    np.testing.assert_allclose(replayed, truth.contributions[-N:], atol=1e-9 * scale)


@pytest.fixture(scope="module", params=["national, NUTS", "3 geos, MAP"])
def fit(request):
    if request.param.startswith("national"):
        data, _ = mmmlab.example_dataset()
        return mmmlab.fit(data, seed=0, num_warmup=200, num_samples=100, num_chains=2)
    data, _ = mmmlab.example_dataset(n_geos=3)
    return mmmlab.fit(data, seed=0, method="map")


def test_a_fits_response_is_its_components_and_media_effect_over_the_window(fit):
    horizon = plan_horizon(fit.train, fit.config.l_max, N, str(fit.train.dates[-N].date()))
    response = Response.from_fit(fit, horizon)
    spend = fit.train.spend[-N:] * 1.3
    mine = _replayed(response, spend)
    window = future_window(fit.train, horizon, spend)
    components = fit.components(window).media  # float32 media path: agree to ~1e-6
    np.testing.assert_allclose(mine, components, rtol=0, atol=2e-6 * np.abs(components).max())
    # and exactly what media_effect gives for the same lags in float64, draw by draw
    lags = prepare(window, fit.config, fit.scaling, jnp.float64).media_lags
    reference = prepare(fit.train, fit.config, fit.scaling, jnp.float64).media_lags
    post = fit.flat_posterior()
    for d in {0, fit.num_draws // 3, fit.num_draws - 1}:
        params = {k: jnp.asarray(v[d]) for k, v in post.items()}
        effect = geo_effects(params, fit.train.n_geos) * fit.scaling.y_scale[:, None]
        expected = media_effect(lags, params, effect, fit.structure, reference)
        np.testing.assert_allclose(mine[d], np.asarray(expected), rtol=1e-12)


def test_a_plan_is_credited_with_what_it_adds_and_its_carry_over(fit):
    horizon = plan_horizon(fit.train, fit.config.l_max, 4)
    response = Response.from_fit(fit, horizon)
    zero = np.zeros((4, fit.train.n_geos, 4))
    np.testing.assert_allclose(response.by_channel(zero), 0.0, atol=1e-9)
    only_tv = zero.copy()
    only_tv[:, :, 0] = 10_000.0
    gain = response.by_channel(only_tv)
    assert (gain[:, 0] > 0).all()
    assert np.abs(gain[:, 1:]).max() <= 1e-12 * gain[:, 0].max()  # channels add up apart
    parts = _replayed(response, only_tv) - _replayed(response, zero)
    assert (parts[:, 4:, :, 0] > 0).all()  # the spend carries over past the 4 planned weeks
    np.testing.assert_allclose(parts.sum(axis=(1, 2)), gain, atol=1e-12 * gain.max())
