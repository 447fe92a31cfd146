"""Heavier checks at the default sampler settings (`make test-slow`)."""

from __future__ import annotations

import numpy as np
import pytest

import mmmlab

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("slow")]


def test_no_stuck_chains_over_ten_seeds():
    dataset, truth = mmmlab.example_dataset()
    for seed in range(10):
        d = mmmlab.fit(dataset, seed=seed).diagnostics
        assert d.max_rhat < 1.05 and d.divergences == 0, (seed, d)


def test_twenty_geo_fit_converges_and_recovers_roas():
    dataset, truth = mmmlab.example_dataset(n_geos=20)
    result = mmmlab.fit(dataset, seed=0)
    d = result.diagnostics
    assert d.max_rhat < 1.01 and d.divergences == 0, d
    table = result.roas()
    covered = (table["roas_lo"].values <= truth.roas) & (truth.roas <= table["roas_hi"].values)
    assert covered.sum() >= 3, (table, truth.roas)


def test_robyn_public_file_converges_at_default_settings():
    dataset = mmmlab.datasets.load("robyn_simulated")
    d = mmmlab.fit(dataset, seed=0).diagnostics
    # Seeds 0 and 2 of 0-3 show one divergence in 2000 draws (also at target_accept 0.9):
    # a known soft spot on this file, reported rather than hidden; more than one is a regression.
    assert d.max_rhat < 1.01 and d.divergences <= 1, d
    assert np.isfinite(d.ess_per_s)
