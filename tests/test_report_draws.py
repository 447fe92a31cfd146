"""The report's draws reduced geo block by geo block (`analysis.draws`) are those of the full
components: bands and the expected target agree with `Fit.components` to rounding, however
the geos are split into blocks. Totals at spend multipliers (one adstock per draw, the
saturation summed in float64 on the device) agree with `Fit.media` to float32 rounding and
are closer than it to the same model evaluated with float64 media."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import mmmlab
from mmmlab.analysis.draws import report_draws, scaled_totals
from mmmlab.analysis.response import response_curves
from mmmlab.analysis.roas import contributions_frame, contributions_table
from mmmlab.inference.components import chunk_size, evaluate_media, geo_axes, geo_blocks
from mmmlab.metrics.roas import MARGIN, draw_interval, roas_draws, roas_from_totals
from mmmlab.models import ModelConfig
from mmmlab.models.scaling import prepare
from mmmlab.synth import simulate

pytestmark = pytest.mark.xdist_group("fit")

FLOAT32 = 1e-6  # the media are float32 (`models.scaling.MEDIA_DTYPE`): sums differ by ~1e-7
# Two transform groups (channels with their own adstock or saturation): the block program
# evaluates each group apart and puts the channels back in order.
MIXED = ModelConfig(
    saturation="hill",
    channels={"video": {"adstock": "delayed"}, "search_ads_brand": {"saturation": "logistic"}},
)


@pytest.fixture(scope="module")
def panel_fit():
    dataset, _ = simulate("medium_business", 0)  # 8 geos, 8 channels
    return mmmlab.fit(dataset, ModelConfig(noise="ar1"), seed=0, method="svi", num_samples=40)


@pytest.fixture(scope="module")
def mixed_fit():
    dataset, _ = simulate("medium_business", 0)
    return mmmlab.fit(dataset, MIXED, seed=0, method="svi", num_samples=20)


def test_geo_axes_name_the_sites_with_a_geo_axis(panel_fit):
    data = panel_fit._window(panel_fit.train, 1.0)
    assert geo_axes(panel_fit.structure, data) == {
        "intercept": -1,
        "sigma": -1,
        "effect_geo_z": -1,
    }


@pytest.mark.parametrize("per_block", [2, 3, 8])
def test_blocks_give_the_components_of_every_geo(panel_fit, per_block):
    fit = panel_fit
    n, t, c = fit.num_draws, fit.train.n_time, fit.train.n_channels
    comp = fit.components()
    blocks = list(
        geo_blocks(
            fit.structure, fit.flat_posterior(), fit._window(fit.train, 1.0), n * t * c * per_block
        )
    )
    assert np.concatenate([idx for idx, _ in blocks]).tolist() == list(range(fit.train.n_geos))
    assert len(blocks) == {2: 4, 3: 3, 8: 1}[per_block]
    draws = report_draws(fit, block_elements=n * t * c * per_block)
    np.testing.assert_allclose(draws.mean, comp.mean, rtol=1e-9)
    np.testing.assert_allclose(draws.contribution, comp.media.sum(axis=(1, 2)), rtol=FLOAT32)
    full = contributions_frame(fit, components=comp)
    blocked = contributions_table(fit.train, draws.bands)
    cols = ["date", "geo", "component", "kind"]
    assert full[cols].equals(blocked[cols])
    np.testing.assert_allclose(
        blocked[["mean", "lo", "hi"]].to_numpy(), full[["mean", "lo", "hi"]].to_numpy(), rtol=1e-9
    )
    # The curves of the report's pass are `scaled_totals` at its multipliers, whatever the blocks.
    curves = scaled_totals(fit, draws.multipliers)
    np.testing.assert_allclose(draws.curves, curves, rtol=1e-12)


@pytest.mark.parametrize("per_block", [2, 8])
def test_totals_at_multipliers_are_those_of_the_full_media(panel_fit, mixed_fit, per_block):
    scales = [0.0, 0.5, 1.0, 1.0 + MARGIN, 1.7, 2.0]
    for fit in (panel_fit, mixed_fit):
        n, t, c = fit.num_draws, fit.train.n_time, fit.train.n_channels
        totals = scaled_totals(fit, scales, block_elements=n * t * c * per_block)
        for i, m in enumerate(scales):
            full = fit.media(media_scale=m).sum(axis=(1, 2))
            np.testing.assert_allclose(totals[:, i], full, rtol=FLOAT32, atol=0.0)


def test_mixed_transforms_give_the_components(mixed_fit):
    fit = mixed_fit
    comp = fit.components()
    draws = report_draws(fit, multipliers=[0.5], block_elements=fit.num_draws * 400)
    np.testing.assert_allclose(draws.mean, comp.mean, rtol=1e-9)
    full = contributions_frame(fit, components=comp)[["mean", "lo", "hi"]].to_numpy()
    blocked = contributions_table(fit.train, draws.bands)[["mean", "lo", "hi"]].to_numpy()
    np.testing.assert_allclose(blocked, full, rtol=1e-9)
    half = fit.media(media_scale=0.5).sum(axis=(1, 2))
    np.testing.assert_allclose(draws.curves[:, 0], half, rtol=FLOAT32)


def test_draws_in_chunks_give_the_components():
    """More draws than one program takes (`chunk_size`): chunks joined, the last one wrapping."""
    dataset, _ = simulate("medium_business", 0)
    fit = mmmlab.fit(dataset, seed=0, method="svi", num_samples=1800)
    assert chunk_size(fit.num_draws, fit._window(fit.train, 1.0)) < fit.num_draws
    comp = fit.components()
    draws = report_draws(fit, multipliers=[2.0])
    np.testing.assert_allclose(draws.mean, comp.mean, rtol=1e-9)
    np.testing.assert_allclose(draws.contribution, comp.media.sum(axis=(1, 2)), rtol=FLOAT32)
    full = contributions_frame(fit, components=comp)[["mean", "lo", "hi"]].to_numpy()
    blocked = contributions_table(fit.train, draws.bands)[["mean", "lo", "hi"]].to_numpy()
    np.testing.assert_allclose(blocked, full, rtol=1e-9)
    double = fit.media(media_scale=2.0).sum(axis=(1, 2))
    np.testing.assert_allclose(draws.curves[:, 0], double, rtol=FLOAT32)


def _media64(fit, m: float) -> np.ndarray:
    """(S, T, G, C) the media with every spend times m, computed in float64 throughout."""
    data = prepare(fit.train, fit.config, fit.scaling, media_dtype=jnp.float64)
    data = data._replace(media_lags=data.media_lags * m, reference_lags=data.media_lags)
    return evaluate_media(fit.structure, fit.flat_posterior(), data) * fit.scaling.y_scale[:, None]


def test_roas_and_mroas_are_those_of_the_full_media_and_nearer_float64(panel_fit):
    fit = panel_fit
    spend = fit.train.spend
    exact = roas_draws(_media64(fit, 1.0), _media64(fit, 1.0 + MARGIN), spend)
    before = roas_draws(fit.components().media, fit.media(media_scale=1.0 + MARGIN), spend)
    draws = report_draws(fit)
    now = roas_from_totals(draws.contribution, draws.bumped, spend)
    for k in ("contribution", "roas"):
        np.testing.assert_allclose(now[k], before[k], rtol=FLOAT32)
        np.testing.assert_allclose(now[k], exact[k], rtol=FLOAT32)
    # mROAS is a difference over a 1% spend change: float32 noise ~1e-4 of it either way.
    error = [np.max(np.abs(v["mroas"] / exact["mroas"] - 1)) for v in (now, before)]
    assert error[0] <= error[1] and error[0] < 1e-3, error


def test_response_curves_are_those_of_the_full_media(panel_fit):
    fit = panel_fit
    grid = np.array([0.0, 0.5, 1.0, 2.0])
    table = response_curves(fit, multipliers=grid)
    assert list(table.columns) == ["channel", "multiplier", "spend", "mean", "lo", "hi"]
    spend = fit.train.spend.sum(axis=(0, 1))
    for m in grid:
        total = fit.media(media_scale=m).sum(axis=(1, 2))
        lo, hi = draw_interval(total)
        rows = table[table["multiplier"] == m]
        assert rows["channel"].tolist() == list(fit.channels)
        np.testing.assert_allclose(rows["spend"], m * spend, rtol=1e-12)
        got = rows[["mean", "lo", "hi"]].to_numpy()
        want = np.stack([total.mean(axis=0), lo, hi], axis=1)
        np.testing.assert_allclose(got, want, rtol=FLOAT32, atol=1e-9 * np.abs(want).max())


def test_predictions_from_the_reduced_draws_are_the_fits(panel_fit):
    fit = panel_fit
    want = fit.predict()  # float64 rounding of the mean's sums (some predictions cross 0)
    got = fit.predict(components=report_draws(fit).components())
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
