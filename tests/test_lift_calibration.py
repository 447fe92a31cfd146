"""Lift tests bring the confounded channel's ROAS back to the truth (a smaller version of
benchmarks/lift_calibration.py, whose figures are in docs/lift_tests.md)."""

from __future__ import annotations

import numpy as np
import pytest

import mmmlab  # noqa: F401  (JAX settings)
from mmmlab.analysis.recovery import fit_recovery
from mmmlab.inference import fit
from mmmlab.models import ModelConfig
from mmmlab.synth import simulate
from mmmlab.synth.lift import measured_lifts, team_designs
from mmmlab.synth.scenarios import scenario_base

pytestmark = pytest.mark.xdist_group("fit")


@pytest.mark.slow
def test_two_lift_tests_fix_the_confounded_channel_s_roas():
    """Four seeds of the confounded world, NUTS 2 × (1000 + 1000), AR(1) noise: without tests
    search's 90% interval misses its true ROAS in most seeds (30 seeds: 2 of 30 covered);
    with an 8-week go-dark of search and a +50% tv flight (lift_se 10%) it covers it in most
    (30 seeds: 24), and the error falls by more than half in every seed."""
    rows = _calibration(ModelConfig(saturation="hill", noise="ar1"))
    for seed, row in enumerate(rows):
        assert row[True].abs_error < 0.5 * row[False].abs_error, (seed, row)
    covered = {k: sum(bool(r[k].cover90) for r in rows) for k in (False, True)}
    assert covered[True] >= 3 and covered[False] <= 1, covered


@pytest.mark.slow
def test_a_copula_control_makes_the_confounded_roas_honest_and_tests_sharpen_it():
    """The same four seeds with search's Gaussian copula control (`endogenous`): its interval
    covers the truth without tests in most seeds (30 seeds: 27 of 30) and with them in all
    four (30 seeds: 29), and the tests narrow it in every seed."""
    rows = _calibration(ModelConfig(saturation="hill", noise="ar1", endogenous=["search"]))
    for seed, row in enumerate(rows):
        width = {k: row[k].hi90 - row[k].lo90 for k in (False, True)}
        assert width[True] < 0.6 * width[False], (seed, width)
    covered = {k: sum(bool(r[k].cover90) for r in rows) for k in (False, True)}
    assert covered[True] == 4 and covered[False] >= 3, covered


def _calibration(config: ModelConfig) -> list[dict]:
    """Per seed 0-3: search's ROAS recovery row without (False) and with (True) the tests."""
    world = scenario_base().model_config_of()
    rows = []
    for seed in range(4):
        dataset, truth = simulate("confounded", seed)
        rng = np.random.default_rng([seed, 7])
        designs = team_designs(dataset, rng, "search", "tv", world.l_max)
        tests = measured_lifts(designs, dataset, truth, world, 0.1, rng)
        row = {}
        for calibrated in (False, True):
            result = fit(dataset, config, seed=seed, lift_tests=tests if calibrated else ())
            roas = fit_recovery(result, truth)["roas"].set_index("channel").loc["search"]
            row[calibrated] = roas
        rows.append(row)
    return rows
