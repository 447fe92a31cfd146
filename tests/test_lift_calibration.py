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
    world = scenario_base().model_config_of()
    config = ModelConfig(saturation="hill", noise="ar1")
    covered = {False: 0, True: 0}
    for seed in range(4):
        dataset, truth = simulate("confounded", seed)
        rng = np.random.default_rng([seed, 7])
        designs = team_designs(dataset, rng, "search", "tv", world.l_max)
        tests = measured_lifts(designs, dataset, truth, world, 0.1, rng)
        errors = {}
        for calibrated in (False, True):
            result = fit(dataset, config, seed=seed, lift_tests=tests if calibrated else ())
            roas = fit_recovery(result, truth)["roas"].set_index("channel").loc["search"]
            covered[calibrated] += bool(roas.cover90)
            errors[calibrated] = abs(roas["mean"] - roas.truth)
        assert errors[True] < 0.5 * errors[False], (seed, errors)
    assert covered[True] >= 3 and covered[False] <= 1, covered
