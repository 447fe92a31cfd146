"""The designer's safeguards on scenario worlds with an answer key, its noise correction on a
world with AR(1) residuals, and geo designs on a panel."""

from __future__ import annotations

import numpy as np
import pytest

import mmmlab
from mmmlab.decisions.response import Response
from mmmlab.design import design
from mmmlab.design.assurance import assurance
from mmmlab.design.calibration import noise_windows, rejection_rate, world_noise
from mmmlab.design.lift import changed_plan, lift_paths
from mmmlab.design.noise import lift_noise
from mmmlab.synth.presets import shipped_world
from mmmlab.synth.scenarios import scenario_base

pytestmark = pytest.mark.xdist_group("fit")


def _fit(name: str, **settings):
    dataset, truth = mmmlab.simulate(name, seed=0)
    fit = mmmlab.fit(dataset, seed=0, num_warmup=200, num_samples=150, num_chains=2, **settings)
    return dataset, truth, fit


def test_zero_effect_channel_gets_null_confirmation_designs():
    _, truth, fit = _fit("zero_effect")
    assert truth.facts["display_true_roas"] == 0
    rec = design(fit, durations="4,8")
    nulls = rec.summary()["null_confirmation"]
    assert list(nulls) == ["display"]  # the null channel, and only it
    rows = rec.table[rec.table.channel == "display"]
    assert rows.null_channel.all() and rows.rule_out.between(0, 1).all()
    assert rec.table[rec.table.channel != "display"].rule_out.isna().all()
    assert all("null-confirmation" in r for r in rows.rationale)


def test_collinear_warning_names_the_pair():
    _, truth, fit = _fit("collinear")
    assert truth.facts["spend_corr_search_social"] > 0.9
    rec = design(fit, durations="4")
    warnings = rec.identification.warnings
    assert any("with social" in w for w in warnings["search"])
    assert any("with search" in w for w in warnings["social"])
    assert not any("correlates" in w for w in warnings["tv"] + warnings["display"])
    search = rec.table[rec.table.channel == "search"]
    assert all("with social" in r for r in search.rationale)


def test_confounded_sceptical_sensitivity_shows_the_drop():
    """search's posterior is inflated by the confounder: its assurance overstates the truth's
    power, and the sceptical assurance (lifts shrunk by half) shows how much rests on that
    belief; tv, unconfounded, is close to its truth."""
    dataset, truth, fit = _fit("confounded")
    rec = design(fit, channels=["search", "tv"], spend_changes="-50%,+50%,+100%")
    true = Response.from_truth(truth, dataset, scenario_base().model_config_of(), 8)
    plans = [changed_plan(true, c)[0] for c in rec.candidates]
    lifts = lift_paths(true, rec.candidates, plans)[:, 0]  # (K, T'): one draw, the truth
    t = rec.table.assign(
        true_power=[
            assurance(lifts[k, : r.measured_periods].sum(keepdims=True), r.noise_sd, 0.05)
            for k, r in enumerate(rec.table.itertuples())
        ]
    )
    search, tv = t[t.channel == "search"], t[t.channel == "tv"]
    drop = (search.assurance - search.assurance_sceptical).mean()
    assert drop > 0.2
    assert (search.assurance - search.true_power).mean() > 0.2  # the posterior overstates
    assert (
        abs(search.assurance_sceptical - search.true_power).mean()
        < abs(search.assurance - search.true_power).mean()
    )
    assert abs(tv.assurance - tv.true_power).mean() < 0.1
    assert any("rests on the posterior's effect size" in r for r in search.rationale)


def test_ar1_noise_correction_keeps_the_level():
    """A world with AR(1) residuals (ρ = 0.6) and no intervention: the stated test with the
    corrected noise rejects 5% ± 2 points of 2000+ windows of the world's own noise; with
    the independent-residual noise clearly more."""
    spec = shipped_world("small_business").model_copy(update={"noise_ar1": 0.6})
    residuals = world_noise(spec, range(1000, 1020), at=0).ravel()  # 2080 periods
    fresh = world_noise(spec, range(1, 301), at=0)  # 300 worlds never looked at
    for periods in (9, 13):
        noise = lift_noise(residuals, periods, "ar1")
        assert noise.rho == pytest.approx(0.6, abs=0.05)
        windows = noise_windows(fresh, periods)
        assert len(windows) >= 2000
        assert rejection_rate(0.0, windows, noise.ar1, 0.05) == pytest.approx(0.05, abs=0.02)
        assert rejection_rate(0.0, windows, noise.iid, 0.05) > 0.15


def test_geo_designs_treat_a_balanced_half_and_measure_it():
    geos = ["north", "south", "east", "west"]
    spec = shipped_world("small_business").model_copy(update={"geos": geos})
    dataset, _ = mmmlab.simulate(spec, seed=0)
    fit = mmmlab.fit(dataset, seed=0, num_warmup=150, num_samples=100, num_chains=2)
    rec = design(fit, channels=["social_media"], spend_changes="-100%", durations="4")
    assert set(rec.table.kind) == {"national", "geo"}
    geo = rec.table[rec.table.kind == "geo"].iloc[0]
    national = rec.table[rec.table.kind == "national"].iloc[0]
    assert len(rec.split.treated) == 2 and geo.candidate.endswith("geo(2)")
    # the treated half balances the pre-period best: no other half-split tracks closer
    residuals = fit.train.target - fit.components().mean.mean(axis=0)
    assert rec.split.series.std() == pytest.approx(
        min(
            _split_sd(residuals, fit.train.target, t)
            for t in ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
        )
    )
    # the lift of a geo design is the treated geo's share of the national one
    assert 0 < geo.lift_mean / national.lift_mean < 1
    assert geo.noise_sd == rec.noise[("geo", geo.measured_periods)].used
    assert geo.noise_sd != national.noise_sd


def _split_sd(residuals: np.ndarray, target: np.ndarray, treated: tuple[int, ...]) -> float:
    mask = np.isin(np.arange(residuals.shape[1]), treated)
    w = target[:, mask].sum() / target[:, ~mask].sum()
    return float((residuals[:, mask].sum(axis=1) - w * residuals[:, ~mask].sum(axis=1)).std())


def test_world_noise_ar1_setting():
    """`noise_ar1` makes a world's noise AR(1) with the same sd; 0 draws the same bytes."""
    from mmmlab.synth.world import WorldSpec, simulate_world

    spec = shipped_world("small_business")
    base, _ = simulate_world(spec, 3)
    same, _ = simulate_world(spec.model_copy(update={"noise_ar1": 0.0}), 3)
    np.testing.assert_array_equal(base.target, same.target)
    long = spec.model_copy(update={"n_periods": 2000})
    _, white = simulate_world(long, 3)
    _, red = simulate_world(long.model_copy(update={"noise_ar1": 0.6}), 3)
    x = red.noise[:, 0]
    assert np.corrcoef(x[1:], x[:-1])[0, 1] == pytest.approx(0.6, abs=0.04)
    assert x.std() == pytest.approx(white.noise.std(), rel=0.1)
    with pytest.raises(ValueError, match="noise_ar1"):
        WorldSpec.model_validate(spec.model_dump() | {"noise_ar1": 1.0})
