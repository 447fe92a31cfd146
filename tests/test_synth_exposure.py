"""Exposure in simulated worlds: what the spend bought, reported beside a spend-driven truth."""

from __future__ import annotations

import numpy as np
import pytest

import mmmlab  # noqa: F401  (JAX settings)
from mmmlab.data import ColumnMap, read_dataset
from mmmlab.synth import ChannelSpec, WorldSpec, simulate, write_simulation
from mmmlab.synth.presets import PRESETS


def _with_exposure(world: WorldSpec) -> WorldSpec:
    return WorldSpec.model_validate(world.model_dump() | {"exposure": True})


def test_exposure_is_absent_by_default(tmp_path):
    dataset, _ = simulate("growing_business", 0)
    assert dataset.exposure is None and dataset.media is dataset.spend
    paths = write_simulation(*simulate("small_business", 0), tmp_path)
    assert "exposure" not in paths["columns"].read_text()


def test_exposure_world_reports_what_spend_bought_and_keeps_the_truth(tmp_path):
    world = PRESETS["growing_business"]()
    plain, truth = simulate(world, 2)
    dataset, bought = simulate(_with_exposure(world), 2)
    T, G, C = dataset.spend.shape
    assert dataset.exposure.shape == (T, G, C)
    np.testing.assert_array_equal(dataset.spend, plain.spend)
    np.testing.assert_array_equal(dataset.target, plain.target)
    assert bought.to_json() == truth.to_json(), "the response stays driven by spend"
    for c, channel in enumerate(world.channels):
        spend, exposure = dataset.spend[..., c], dataset.exposure[..., c]
        if channel.cpm is None:
            np.testing.assert_array_equal(exposure, spend)
            continue
        on = spend[:, 0] > 0
        cpm = 1000 * spend[on] / exposure[on]  # (T_on, G): one national price per period
        np.testing.assert_allclose(cpm, cpm[:, :1] * np.ones(G), rtol=1e-12)
        assert 0.6 * channel.cpm < cpm.mean() < 1.6 * channel.cpm
    train, _, test = dataset.split(0.75)
    np.testing.assert_array_equal(test.history_exposure, train.exposure)
    assert test.history_exposure.shape == test.history_spend.shape
    paths = write_simulation(dataset, bought, tmp_path)
    back = read_dataset(paths["data"], ColumnMap.from_yaml(paths["columns"]))
    np.testing.assert_allclose(back.exposure, dataset.exposure, rtol=1e-9)


@pytest.mark.parametrize("cpm_cv", [0.1, 0.4])
def test_cpm_has_the_requested_variability(cpm_cv):
    world = WorldSpec(
        name="priced",
        n_periods=2000,
        start="1990-01-07",
        base_sales=1000.0,
        exposure=True,
        channels=[
            ChannelSpec(
                name="tv",
                pattern="linear_trend",
                base=100,
                roas=1.0,
                adstock_params={"alpha": 0.3},
                saturation_params={"half_saturation": 1.0, "slope": 1.0},
                cpm=20.0,
                cpm_cv=cpm_cv,
            )
        ],
    )
    dataset, _ = simulate(world, 0)
    cpm = 1000 * dataset.spend[:, 0, 0] / dataset.exposure[:, 0, 0]
    assert cpm.mean() == pytest.approx(20.0, rel=0.05)
    assert cpm.std() / cpm.mean() == pytest.approx(cpm_cv, rel=0.15)
    lag1 = np.corrcoef(np.log(cpm[1:]), np.log(cpm[:-1]))[0, 1]
    assert lag1 == pytest.approx(0.7, abs=0.06), "prices drift: AR(1) with 0.7 per week"


def test_daily_exposure_and_preset_cpms():
    dataset, _ = simulate(_with_exposure(PRESETS["small_business"]()), 0, frequency="daily")
    assert dataset.exposure.shape == dataset.spend.shape == (728, 1, 4)
    priced = {c.name: c.cpm for p in PRESETS.values() for c in p().channels}
    assert priced["email"] is None, "an owned list: no bought audience"
    assert all(priced[ch] > 0 for ch in priced if ch != "email")
    assert priced["search_ads"] > 100 * priced["social_media"], "search is bought by clicks"
