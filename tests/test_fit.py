"""The Bayesian MMM fitted with the real NUTS sampler on small simulated data."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer import Predictive

import mmmlab  # noqa: F401  (JAX settings)
from compile_events import compile_events  # tests/ is on sys.path (pytest rootdir)
from mmmlab.inference import components as evaluation
from mmmlab.inference import fit, load_fit
from mmmlab.inference.laplace import HESSIAN_FULL_BATCH, gradient_jacobian
from mmmlab.models import ModelConfig, Prior
from mmmlab.models.mmm import bind, saturated_media
from mmmlab.synth import example_dataset

pytestmark = pytest.mark.xdist_group("fit")
SMALL = {"num_warmup": 400, "num_samples": 400}


@pytest.fixture(scope="module")
def example():
    return example_dataset()


@pytest.fixture(scope="module")
def example_fit(example):
    dataset, _ = example
    return fit(dataset, seed=3, **SMALL)


def test_fit_converges_on_example(example_fit):
    d = example_fit.diagnostics
    assert d.max_rhat < 1.02, d
    assert d.min_ess_bulk > 100, d
    assert d.min_ess_bulk < d.median_ess_bulk < 4 * d.num_chains * d.num_draws, d
    assert d.divergences <= 5, d
    assert d.num_chains == 2 and d.num_draws == SMALL["num_samples"]
    assert example_fit.posterior["effect"].shape == (2, 400, 4)


def test_roas_intervals_cover_truth_for_most_channels(example, example_fit):
    _, truth = example
    table = example_fit.roas()
    covered = (table["roas_lo"].values <= truth.roas) & (truth.roas <= table["roas_hi"].values)
    assert covered.sum() >= 3, (table[["roas_lo", "roas_hi"]], truth.roas)
    contrib = example_fit.components().media.mean(axis=0).sum(axis=(0, 1))
    true_contrib = truth.contributions.sum(axis=(0, 1))
    assert np.allclose(contrib.sum(), true_contrib.sum(), rtol=0.25)


def test_same_seed_same_posterior_and_no_recompile(example, example_fit):
    dataset, _ = example
    with compile_events() as events:
        again = fit(dataset, seed=3, **SMALL)
    assert events == {}, f"a second fit of the same shape traced or compiled: {events}"
    assert again.diagnostics.compile_s == 0.0
    for site, draws in example_fit.posterior.items():
        np.testing.assert_array_equal(draws, again.posterior[site])


def test_new_data_of_same_shape_reuses_the_compiled_sampler(example_fit):
    other, _ = example_dataset(seed_value=11)
    with compile_events() as events:
        result = fit(other, seed=0, **SMALL)
    assert events == {}, f"new data of the same shape traced or compiled: {events}"
    assert result.diagnostics.compile_s == 0.0
    assert not np.array_equal(result.posterior["effect"], example_fit.posterior["effect"])


def test_the_compile_counter_sees_a_new_shape_compile(example_fit):
    """The counter of the two tests above is live: other settings compile a new sampler."""
    dataset, _ = example_dataset(n_weeks=60)
    with compile_events() as events:
        fit(dataset, seed=0, num_warmup=20, num_samples=20)
    assert events["traced"] > 0 and events["compiled"] > 0, events


def test_the_report_compiles_nothing_after_sampling(tmp_path):
    """The fit compiles the report's programs while its sampler compiles (a shape no other
    test fits, so nothing was compiled before this fit)."""
    from mmmlab.analysis.outputs import write_outputs

    dataset, _ = example_dataset(n_weeks=57)
    result = fit(dataset, seed=0, num_warmup=30, num_samples=30)
    with compile_events() as events:
        write_outputs(result, tmp_path)
    assert events == {}, f"the report traced or compiled after sampling: {events}"


def test_later_window_keeps_adstock_history(example, example_fit):
    dataset, _ = example
    train, _, test = dataset.split(train=0.8)
    full = example_fit.components(dataset)
    window = example_fit.components(test)
    n = test.n_time
    # The media path runs in float32 (`MEDIA_DTYPE`): windows of different length may sum the
    # lags in another order. A lost history would be off by whole percents in the first rows.
    np.testing.assert_allclose(window.media, full.media[:, -n:], rtol=1e-6)
    np.testing.assert_allclose(window.parts["trend"], full.parts["trend"][:, -n:], rtol=1e-10)
    predictive = example_fit.predict(test)
    assert predictive.shape == (800, n, 1)
    assert train.n_time + n == dataset.n_time


def test_additive_parts_sum_to_the_mean(example_fit):
    comp = example_fit.components()
    total = sum(comp.parts.values()) + comp.media.sum(axis=-1)
    np.testing.assert_allclose(total, comp.mean, rtol=1e-10)


def test_save_load_round_trip(tmp_path, example_fit):
    example_fit.save(tmp_path / "fit")
    loaded = load_fit(tmp_path / "fit")
    assert loaded.config == example_fit.config
    assert loaded.diagnostics == example_fit.diagnostics
    assert loaded.train.fingerprint == example_fit.train.fingerprint
    for site, draws in example_fit.posterior.items():
        np.testing.assert_array_equal(loaded.posterior[site], draws)
    np.testing.assert_array_equal(loaded.roas().values, example_fit.roas().values)
    # a fit saved before `Scaling.spend_share` existed still loads and predicts the same
    meta = json.loads((tmp_path / "fit" / "fit.json").read_text())
    del meta["scaling"]["spend_share"]
    meta["format_version"] = 1  # written before the checksums too
    del meta["checksum"], meta["checksums"]
    (tmp_path / "fit" / "fit.json").write_text(json.dumps(meta))
    older = load_fit(tmp_path / "fit")
    assert older.scaling.spend_share is None
    np.testing.assert_array_equal(older.roas().values, example_fit.roas().values)


def test_map_and_svi_give_point_fits(example):
    dataset, truth = example
    point = fit(dataset, seed=0, method="map")
    assert point.posterior["effect"].shape == (1, 1, 4)
    assert np.all(np.isfinite(point.roas()["roas_mean"]))
    approx = fit(dataset, seed=0, method="svi", num_samples=200)
    assert approx.posterior["effect"].shape == (1, 200, 4)
    assert approx.diagnostics.method == "svi"


def test_geo_panel_fit_pools_channel_effects():
    dataset, truth = example_dataset(n_geos=3, n_weeks=104)
    result = fit(dataset, seed=0, num_warmup=300, num_samples=300)
    assert result.posterior["effect_geo_z"].shape == (2, 300, 4, 3)
    assert result.posterior["sigma"].shape == (2, 300, 3)
    assert result.diagnostics.max_rhat < 1.05
    comp = result.components()
    assert comp.media.shape == (600, 104, 3, 4)


def test_prior_override_changes_the_posterior(example):
    dataset, _ = example
    tight = ModelConfig(priors={"effect.tv": Prior(dist="half_normal", scale=0.001)})
    result = fit(dataset, tight, seed=0, method="map")
    assert result.posterior["effect"][0, 0, 0] < 0.01


def test_a_roas_prior_is_the_effect_prior_rescaled_by_spend_share(example):
    dataset, _ = example
    config = ModelConfig(priors={"roas": Prior(dist="lognormal", loc=0.2, scale=0.9)})
    bound = bind(dataset, config)
    draws = Predictive(bound.model, num_samples=4000)(jax.random.PRNGKey(0), bound.data)
    share = dataset.spend.sum(axis=(0, 1)) / np.abs(dataset.target).sum()
    np.testing.assert_allclose(bound.data.spend_share, share)
    roas = np.asarray(draws["effect"]) / share  # (4000, C)
    np.testing.assert_allclose(np.median(roas, axis=0), np.exp(0.2), rtol=0.1)
    np.testing.assert_allclose(np.log(roas).std(axis=0), 0.9, rtol=0.1)
    # a tight prior on one channel's ROAS is what the fitted model reports for it
    tight = ModelConfig(priors={"roas.tv": Prior(dist="lognormal", loc=np.log(0.3), scale=0.01)})
    table = fit(dataset, tight, seed=0, method="map").roas()
    assert table.loc["tv", "roas_mean"] == pytest.approx(0.3, rel=0.05), table
    assert not table.drop("tv")["roas_mean"].between(0.28, 0.32).all()


def test_roas_priors_reject_effect_priors_beside_them_and_unspent_channels(example):
    dataset, _ = example
    normal = Prior(dist="lognormal")
    with pytest.raises(ValueError, match=r"\['effect.tv'\] and a 'roas' prior"):
        ModelConfig(priors={"roas": normal, "effect.tv": Prior(dist="half_normal")})
    with pytest.raises(ValueError, match="priors.roas.tv: a ROAS prior must be positive"):
        ModelConfig(priors={"roas.tv": Prior(dist="normal")})
    spend = dataset.spend.copy()
    spend[..., 0] = 0.0
    unspent = dataclasses.replace(dataset, spend=spend, exposure=dataset.media)
    with pytest.raises(ValueError, match=r"\['tv'\] have no spend in the training window"):
        bind(unspent, ModelConfig(priors={"roas": normal}))


def test_config_rejects_unknown_keys_and_sites():
    with pytest.raises(ValueError, match="extra"):
        ModelConfig.model_validate({"adstok": "geometric"})
    with pytest.raises(ValueError, match="unknown site"):
        ModelConfig(priors={"bta": Prior(dist="normal")})


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(trend="piecewise", likelihood="student_t"),
        ModelConfig(adstock="delayed", saturation="hill", normalize_adstock=False),
        ModelConfig(
            channels={
                "tv": {"adstock": "weibull_pdf", "saturation": "michaelis_menten"},
                "search": {"adstock": "weibull_cdf", "saturation": "tanh"},
            },
            trend="none",
            yearly_seasonality=0,
        ),
    ],
    ids=["piecewise-student_t", "delayed-hill", "mixed-per-channel"],
)
def test_every_component_fits_and_predicts(example, config):
    dataset, _ = example
    train, _, test = dataset.split(train=0.8)
    result = fit(train, config, seed=0, method="map")
    table = result.roas()
    assert np.all(np.isfinite(table[["roas_mean", "mroas_mean"]].values))
    assert result.predict(test).shape == (1, test.n_time, 1)
    comp = result.components()
    assert np.all(np.isfinite(comp.mean))


def test_daily_data_get_weekly_seasonality():
    import pandas as pd

    from mmmlab.data import Dataset
    from mmmlab.models.scaling import Scaling, prepare

    rng = np.random.default_rng(0)
    n = 120
    dates = pd.date_range("2024-01-01", periods=n, freq="D")
    spend = rng.gamma(2.0, 50.0, size=(n, 1, 2))
    weekday = np.sin(2 * np.pi * np.arange(n) / 7.0)
    target = 1000 + 5 * spend.sum(axis=2) + 80 * weekday[:, None] + rng.normal(0, 10, (n, 1))
    daily = Dataset(dates=dates, geos=["national"], channels=["a", "b"], spend=spend, target=target)
    assert daily.frequency == "daily"
    config = ModelConfig(yearly_seasonality=2, weekly_seasonality=3, l_max=14)
    data = prepare(daily, config, Scaling.fit(daily, config))
    assert data.fourier.shape == (n, 2 * 2 + 2 * 3)
    weekly_only = ModelConfig(yearly_seasonality=0, weekly_seasonality=3, l_max=14)
    result = fit(daily, weekly_only, seed=0, method="map")
    weekly = result.components().parts["seasonality"].mean(axis=0)[:, 0]
    assert np.corrcoef(weekly, weekday)[0, 1] > 0.8


def test_components_in_chunks_of_draws_equal_all_at_once(example_fit, monkeypatch):
    whole = example_fit.components()
    n = whole.media.shape[0]
    per_draw = np.prod(whole.media.shape[1:])
    monkeypatch.setattr(evaluation, "EVAL_CHUNK_ELEMENTS", int(per_draw * (n // 3 + 1)))
    chunked = example_fit.components()  # three chunks, the last one wrapping round
    # float32 media path: another batch of draws may sum the lags in another order
    np.testing.assert_allclose(chunked.media, whole.media, rtol=1e-6)
    np.testing.assert_allclose(chunked.mean, whole.mean, rtol=1e-6)
    for name, part in whole.parts.items():
        np.testing.assert_allclose(chunked.parts[name], part, rtol=1e-12)


def test_a_large_hessian_goes_in_batches_and_matches_the_exact_one():
    d = HESSIAN_FULL_BATCH  # 2·D directions: past the full batch
    a = np.random.default_rng(0).normal(size=(d, d))
    exact = a @ a.T + np.eye(d)

    def f(x):
        return 0.5 * x @ jnp.asarray(exact) @ x + jnp.sum(jnp.cos(x))

    x = jnp.linspace(-1.0, 1.0, d)
    found = gradient_jacobian(jax.grad(f), x)
    np.testing.assert_allclose(found, exact - np.diag(np.cos(np.asarray(x))), atol=1e-4)


def test_media_path_runs_in_float32_and_matches_float64(example):
    """The adstock and saturation run in float32 for speed; their output is float64 and
    within float32 rounding of the float64 path the simulators use."""
    dataset, _ = example
    config = ModelConfig(saturation="hill")
    fast, exact = bind(dataset, config), bind(dataset, config, media_dtype=jnp.float64)
    assert fast.data.media_lags.dtype == jnp.float32
    assert exact.data.media_lags.dtype == jnp.float64
    C = dataset.n_channels
    params = {
        "geometric_alpha": jnp.linspace(0.1, 0.7, C),
        "hill_half_saturation": jnp.linspace(0.5, 1.5, C),
        "hill_slope": jnp.linspace(0.8, 2.5, C),
    }
    shaped = saturated_media(fast.data.media_lags, params, fast.structure)
    reference = saturated_media(exact.data.media_lags, params, exact.structure)
    assert shaped.dtype == jnp.float64
    np.testing.assert_allclose(shaped, reference, rtol=1e-5, atol=1e-6)
    assert float(jnp.max(jnp.abs(shaped - reference))) > 0  # the fast path really is float32
