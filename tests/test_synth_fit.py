"""Every simulated world fits with the core model, and the fit recovers the answer key."""

from __future__ import annotations

import numpy as np
import pytest

import mmmlab  # noqa: F401  (JAX settings)
from mmmlab.analysis.recovery import fit_recovery, recovery_summary
from mmmlab.inference import fit
from mmmlab.synth import SIMULATORS, simulate

pytestmark = pytest.mark.xdist_group("fit")
QUICK = {"num_warmup": 500, "num_samples": 500}


def _roas_coverage(seeds: list[int], **settings) -> tuple[int, int, list[dict]]:
    covered, total, heads = 0, 0, []
    for seed in seeds:
        dataset, truth = simulate("small_business", seed)
        result = fit(dataset, seed=seed, **settings)
        assert result.diagnostics.max_rhat < 1.05, result.diagnostics
        tables = fit_recovery(result, truth)
        heads.append(recovery_summary(tables))
        covered += int(tables["roas"]["cover90"].sum())
        total += len(tables["roas"])
    return covered, total, heads


def test_small_business_roas_inside_90pct_intervals_for_most_channels():
    covered, total, heads = _roas_coverage([0, 1, 2], **QUICK)
    assert covered >= total - 2, heads


WORLDS_BY_SHAPE = ["growing_business", "medium_business", "hill_single", "confounded"]


@pytest.mark.parametrize("name", WORLDS_BY_SHAPE)
def test_worlds_fit_with_the_core_model_by_map(name):
    dataset, truth = simulate(name, 0)
    result = fit(dataset, method="map", num_samples=50)
    tables = fit_recovery(result, truth)
    total = tables["contributions"].query("geo == 'all'")
    assert np.isfinite(total["srmse"]).all()
    assert np.all(np.isfinite(result.roas()["roas_mean"]))
    # The mean fit follows the data (R² of the posterior mean on the training window).
    mean = result.components().mean.mean(axis=0)
    r2 = (
        1
        - ((dataset.target - mean) ** 2).sum()
        / ((dataset.target - dataset.target.mean(0)) ** 2).sum()
    )
    assert r2 > 0.5, r2


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in SIMULATORS if n != "large_business"])
def test_every_world_fits_with_nuts(name):
    dataset, truth = simulate(name, 0)
    result = fit(dataset, seed=0)
    assert np.isfinite(result.diagnostics.max_rhat)
    head = recovery_summary(fit_recovery(result, truth))
    assert head["roas_channels"] == dataset.n_channels


@pytest.mark.slow
def test_large_business_fits_by_map():
    dataset, truth = simulate("large_business", 0)
    result = fit(dataset, method="map", num_samples=20)
    head = recovery_summary(fit_recovery(result, truth))
    assert head["roas_channels"] == 30


@pytest.mark.slow
def test_small_business_roas_coverage_over_eight_seeds():
    covered, total, heads = _roas_coverage(list(range(8)))
    assert covered >= 0.85 * total, (covered, total, heads)
