"""Gaussian copula controls (`endogenous`): the scores, the columns a fit adds and keeps for
later windows, bad channel names, and a real fit of the confounded world whose search ROAS
interval moves back over the truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

import mmmlab
from mmmlab.analysis.recovery import fit_recovery
from mmmlab.decisions import scenario
from mmmlab.models import ModelConfig
from mmmlab.models.copula import copula_scores, with_copula_controls
from mmmlab.synth import simulate

pytestmark = pytest.mark.xdist_group("fit")


def test_scores_are_mid_rank_normal_scores():
    ref = np.array([[3.0], [1.0], [2.0], [2.0], [0.0]])
    got = copula_scores(ref, ref)[:, 0]
    # ranks 5, 2, 3.5, 3.5, 1 of 5 -> Phi^-1(rank / 6); the tied pair shares one score
    np.testing.assert_allclose(got, norm.ppf(np.array([5, 2, 3.5, 3.5, 1]) / 6))
    # a later window: values outside the reference get the extreme scores, never infinite
    later = copula_scores(ref, np.array([[-1.0], [9.0], [2.0]]))[:, 0]
    np.testing.assert_allclose(later, norm.ppf(np.array([0.5, 5.5, 3.5]) / 6))


def test_each_geo_is_ranked_on_its_own():
    rng = np.random.default_rng(0)
    ref = rng.lognormal(size=(50, 3)) * np.array([1.0, 100.0, 1e4])
    got = copula_scores(ref, ref)
    for g in range(3):
        assert np.array_equal(np.argsort(got[:, g]), np.argsort(ref[:, g]))
        np.testing.assert_allclose(np.sort(got[:, g]), norm.ppf(np.arange(1, 51) / 51))


def test_columns_are_added_once_and_later_windows_use_the_training_spend():
    dataset, _ = simulate("confounded", 0)
    parts = dataset.split(0.75)
    train, later = parts.train, parts.test
    with_c = with_copula_controls(train, ["search"])
    assert with_c.control_names == (*train.control_names, "copula_search")
    assert with_copula_controls(with_c, ["search"]) is with_c
    c = train.channels.index("search")
    window = with_copula_controls(later, ["search"], reference=train)
    np.testing.assert_allclose(
        window.controls[..., -1], copula_scores(train.spend[:, :, c], later.spend[:, :, c])
    )
    with pytest.raises(ValueError, match=r"endogenous: unknown channel\(s\) \['serch'\]"):
        with_copula_controls(train, ["serch"])


@pytest.fixture(scope="module")
def fits():
    """The confounded world (seed 1): search's budget follows an unobserved demand shock."""
    dataset, truth = simulate("confounded", 1)
    out = {}
    for name, channels in (("plain", []), ("copula", ["search"])):
        config = ModelConfig(saturation="hill", noise="ar1", endogenous=channels)
        out[name] = mmmlab.fit(dataset, config, seed=1, num_warmup=500, num_samples=500)
    return out, truth


def test_a_copula_control_brings_the_confounded_roas_back_over_the_truth(fits):
    out, truth = fits
    roas = {
        k: fit_recovery(f, truth)["roas"].set_index("channel").loc["search"] for k, f in out.items()
    }
    assert roas["plain"].lo90 > roas["plain"].truth  # confidently above the truth (1.5)
    assert roas["copula"].cover90
    assert abs(roas["copula"]["mean"] - roas["copula"].truth) < abs(
        roas["plain"]["mean"] - roas["plain"].truth
    )
    assert out["copula"].diagnostics.max_rhat < 1.05


def test_a_copula_fit_predicts_windows_and_plans_without_the_column(fits):
    out, _ = fits
    fit = out["copula"]
    assert fit.train.control_names[-1] == "copula_search"
    raw, _ = simulate("confounded", 1)  # the user's data: no copula column
    assert "copula_search" not in raw.control_names
    np.testing.assert_allclose(fit.components(raw).mean, fit.components().mean)
    # a plan's future window holds the copula control at its training mean, whatever the spend
    result = scenario(fit, {"horizon": 4, "plans": {"more": {"scale": {"search": 2.0}}}})
    assert np.isfinite(result.whole["more"]).all()
