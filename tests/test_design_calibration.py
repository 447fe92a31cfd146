"""Slow: the experiment designer is calibrated on a world with AR(1) residuals (ρ = 0.6).

Experiments use the world's own noise (`Truth.noise` of 400 seeds never fitted), a posterior
draw as the truth; figures in docs/design.md (benchmarks/design_calibration.py prints them).
"""

from __future__ import annotations

import numpy as np
import pytest

import mmmlab
from mmmlab.design import design
from mmmlab.design.calibration import detection_rate, noise_windows, rejection_rate, world_noise
from mmmlab.synth.presets import shipped_world

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fit")]
SPEC = shipped_world("small_business").model_copy(update={"noise_ar1": 0.6})


@pytest.fixture(scope="module")
def world():
    dataset, _ = mmmlab.simulate(SPEC, seed=0)
    fit = mmmlab.fit(dataset, seed=0, num_warmup=500, num_samples=500, num_chains=2)
    fresh = world_noise(SPEC, range(1, 401), at=0)
    process = world_noise(SPEC, range(1000, 1020), at=0).reshape(-1, 1)
    return fit, fresh, process


@pytest.mark.parametrize("noise_from", ["world residual process", "fit alone"])
def test_assurance_matches_the_detection_rate_within_3_points(world, noise_from):
    fit, fresh, process = world
    if noise_from == "fit alone":
        rec = design(fit, geo_designs=False)
    else:
        rec = design(fit, residuals=process, noise="ar1", geo_designs=False)
    t = rec.table
    rows = dict.fromkeys(int(np.argmin(np.abs(t.assurance - a))) for a in (0.1, 0.3, 0.5, 0.8))
    assert len(rows) >= 3 and t.assurance[list(rows)].max() - t.assurance[list(rows)].min() > 0.3
    for row in rows:
        windows = noise_windows(fresh, int(t.measured_periods[row]))
        assert len(windows) >= 2000
        rate, expected = detection_rate(rec, row, windows, seed=row)
        assert rate == pytest.approx(expected, abs=0.03), t.candidate[row]


def test_the_default_noise_of_the_fit_alone_keeps_the_level(world):
    """With no intervention, the default noise (max of the AR(1) sd of the in-sample
    residuals and the leave-window-out placebo) keeps the 5% level within 2 points for
    windows up to 11 periods, and below 8% up to 15; the in-sample residuals' own AR(1)
    sd does not."""
    fit, fresh, _ = world
    rec = design(fit, geo_designs=False, durations="2,4,6,8")
    for w in (9, 11, 13, 15):
        windows = noise_windows(fresh, w)
        noise = rec.noise["national", w]
        used = rejection_rate(0.0, windows, noise.used, 0.05)
        assert used == pytest.approx(0.05, abs=0.02) if w <= 11 else used < 0.08
        assert rejection_rate(0.0, windows, noise.ar1, 0.05) > 0.12
        assert rejection_rate(0.0, windows, noise.iid, 0.05) > 0.25
