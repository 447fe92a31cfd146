"""The report's draws reduced geo block by geo block (`analysis.draws`) are those of the full
components: bands, totals and the expected target agree with `Fit.components` and
`Fit.media` to rounding, however the geos are split into blocks."""

from __future__ import annotations

import numpy as np
import pytest

import mmmlab
from mmmlab.analysis.draws import media_totals, report_draws
from mmmlab.analysis.roas import contributions_frame, contributions_table
from mmmlab.inference.components import geo_axes, geo_blocks
from mmmlab.metrics.roas import MARGIN, roas_draws, roas_from_totals
from mmmlab.models import ModelConfig
from mmmlab.synth import simulate

pytestmark = pytest.mark.xdist_group("fit")


@pytest.fixture(scope="module")
def panel_fit():
    dataset, _ = simulate("medium_business", 0)  # 8 geos, 8 channels
    return mmmlab.fit(dataset, ModelConfig(noise="ar1"), seed=0, method="svi", num_samples=40)


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
    np.testing.assert_allclose(draws.contribution, comp.media.sum(axis=(1, 2)), rtol=1e-9)
    full = contributions_frame(fit, components=comp)
    blocked = contributions_table(fit.train, draws.bands)
    cols = ["date", "geo", "component", "kind"]
    assert full[cols].equals(blocked[cols])
    np.testing.assert_allclose(
        blocked[["mean", "lo", "hi"]].to_numpy(), full[["mean", "lo", "hi"]].to_numpy(), rtol=1e-9
    )


def test_totals_and_roas_equal_those_of_the_full_media(panel_fit):
    fit = panel_fit
    for m in (0.0, 1.0, 1.0 + MARGIN, 2.0):
        np.testing.assert_allclose(
            media_totals(fit, media_scale=m), fit.media(media_scale=m).sum(axis=(1, 2)), rtol=1e-9
        )
    comp = fit.components()
    spend = fit.train.spend
    old = roas_draws(comp.media, fit.media(media_scale=1.0 + MARGIN), spend)
    new = roas_from_totals(
        report_draws(fit).contribution, media_totals(fit, media_scale=1.0 + MARGIN), spend
    )
    for k in old:
        np.testing.assert_allclose(new[k], old[k], rtol=1e-7)


def test_predictions_from_the_reduced_draws_are_the_fits(panel_fit):
    fit = panel_fit
    np.testing.assert_allclose(
        fit.predict(components=report_draws(fit).components()), fit.predict(), rtol=1e-12
    )
