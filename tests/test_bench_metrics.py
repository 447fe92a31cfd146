"""Per-cell metric functions against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mmmlab.metrics.loo import loo, loo_difference
from mmmlab.metrics.predictive import crps, interval_coverage, rmse
from mmmlab.metrics.robyn import decomp_rssd


def test_crps_matches_the_closed_form_for_a_normal_and_a_hand_example():
    draws = stats.norm.ppf((np.arange(20000) + 0.5) / 20000)  # a very fine normal sample
    exact = 2 * stats.norm.pdf(0.3) + 0.3 * (2 * stats.norm.cdf(0.3) - 1) - 1 / np.sqrt(np.pi)
    assert crps(np.array(0.3), draws) == pytest.approx(exact, abs=1e-3)
    # draws {0, 2}, y = 1: E|X - y| = 1, E|X - X'| / 2 = (0 + 2 + 2 + 0) / 4 / 2 = 0.5
    assert crps(np.array(1.0), np.array([0.0, 2.0])) == pytest.approx(0.5)


def test_interval_coverage_and_rmse_by_hand():
    draws = np.tile(np.arange(101.0)[:, None], (1, 4))  # 5%..95% interval = [5, 95]
    assert interval_coverage(np.array([0.0, 5.0, 50.0, 96.0]), draws) == 0.5
    assert rmse(np.array([1.0, 2.0]), np.array([2.0, 4.0])) == pytest.approx(np.sqrt(2.5))


def test_decomp_rssd_with_robyns_zero_effect_penalty():
    # shares: effect (0.5, 0.5, 0), spend (0.25, 0.25, 0.5)
    effect, spend = np.array([5.0, 5.0, 0.0]), np.array([1.0, 1.0, 2.0])
    plain = np.sqrt(0.25**2 + 0.25**2 + 0.5**2)
    assert decomp_rssd(effect, spend, zero_penalty=False) == pytest.approx(plain)
    assert decomp_rssd(effect, spend) == pytest.approx(plain * (1 + 1 / 3))
    assert np.isnan(decomp_rssd(np.zeros(3), spend))


def test_loo_of_a_well_specified_model_and_the_paired_difference():
    rng = np.random.default_rng(0)
    y = rng.normal(size=50)
    mu = rng.normal(y.mean(), 1 / np.sqrt(50), size=(2000, 1))
    good = stats.norm.logpdf(y[None, :], mu, 1.0)
    bad = stats.norm.logpdf(y[None, :], mu + 1.0, 1.0)
    a, b = loo(good, num_chains=2), loo(bad, num_chains=2)
    assert a["elpd_loo"] > b["elpd_loo"] and a["pareto_k_bad"] == 0
    assert a["p_loo"] == pytest.approx(1.0, abs=0.5)  # one effective parameter
    delta, se = loo_difference(a["pointwise"], b["pointwise"])
    assert delta == pytest.approx(a["elpd_loo"] - b["elpd_loo"]) and delta > 2 * se
