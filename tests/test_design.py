"""The experiment designer on a small real fit: lifts are the model's own response for every
adstock and saturation, the noise figures are right, the table is ranked by its two
dimensions, golden numbers hold, bad input gets named errors, and the command writes its
files."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import mmmlab
from mmmlab.cli import app
from mmmlab.decisions.response import Response
from mmmlab.decisions.window import future_window, plan_horizon
from mmmlab.design import DesignError, design, write_recommendations
from mmmlab.design.candidates import Candidate
from mmmlab.design.identification import prior_fit
from mmmlab.design.inputs import parse_changes
from mmmlab.design.lift import changed_plan, lift_paths
from mmmlab.design.noise import ar1_sum_sd, holdout_sums, lift_noise
from mmmlab.design.scoring import pareto_layers
from mmmlab.models.likelihood import ar1

pytestmark = pytest.mark.xdist_group("fit")


@pytest.fixture(scope="module")
def fit():
    dataset, _ = mmmlab.simulate("small_business", seed=0)
    return mmmlab.fit(dataset, seed=0, num_warmup=200, num_samples=100, num_chains=2)


@pytest.fixture(scope="module")
def rec(fit):
    return design(fit)


PAIRS = [  # every adstock and every saturation mmmlab has, each at least once
    ("geometric", "hill"),
    ("delayed", "logistic"),
    ("weibull_cdf", "michaelis_menten"),
    ("weibull_pdf", "tanh"),
]


@pytest.mark.parametrize(("adstock", "saturation"), PAIRS)
def test_lift_is_the_models_own_response_for_every_transform(fit, adstock, saturation):
    """A test's lift per draw and period equals the fit's own components (prepare +
    evaluate_draws, another code path) over the future window with the test's spend minus
    without, for draws of that config's prior."""
    config = fit.config.model_copy(update={"adstock": adstock, "saturation": saturation})
    other = prior_fit(replace(fit, config=config), draws=8, seed=1)
    horizon = plan_horizon(other.train, config.l_max, 6)
    response = Response.from_fit(other, horizon)
    cand = Candidate("social_media", parse_changes("-50%")[0], 4, "national", (0,))
    plan, delta = changed_plan(response, cand)
    assert delta == pytest.approx(-0.5 * horizon.current[:4, 0, 1].sum())
    lift = lift_paths(response, [cand], [plan])[0]  # (S, T')
    with_test = other.components(future_window(other.train, horizon, plan)).media[..., 0, 1]
    without = other.components(future_window(other.train, horizon, horizon.current))
    expected = with_test - without.media[..., 0, 1]
    np.testing.assert_allclose(lift, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())
    assert np.abs(lift[:, 4:]).max() > 0  # carry-over after the test is counted


def test_ar1_sum_sd_is_exact_and_tends_to_the_long_window_formula():
    rng = np.random.default_rng(0)
    series = ar1(rng.standard_normal((200_000, 1)), 0.6)[:, 0] * 3.0
    sums = series[: 200_000 // 5 * 5].reshape(-1, 5).sum(axis=1)
    assert ar1_sum_sd(3.0, 0.6, 5) == pytest.approx(sums.std(), rel=0.02)
    limit = 3.0 * np.sqrt(5000 * 1.6 / 0.4)
    assert ar1_sum_sd(3.0, 0.6, 5000) == pytest.approx(limit, rel=0.01)
    assert ar1_sum_sd(3.0, 0.6, 5) < 3.0 * np.sqrt(5 * 1.6 / 0.4)  # the limit overstates
    noise = lift_noise(series[:5000], 5)
    assert noise.rho == pytest.approx(0.6, abs=0.03)
    assert noise.used == max(noise.ar1, noise.placebo) and noise.iid < noise.ar1


def test_holdout_placebo_leaves_each_window_out():
    """Each placebo lift is the window's target minus the posterior mean reweighted by
    1 / p(y_window | θ), computed here window by window."""
    rng = np.random.default_rng(1)
    mean = rng.normal(10.0, 1.0, (50, 30, 2))
    loglik = rng.normal(-1.0, 0.5, (50, 30, 2))
    target = rng.normal(10.0, 1.0, (30, 2))
    combo = np.array([1.0, -0.5])
    got = holdout_sums(mean, loglik, target, combo, 4)
    assert got.shape == (27,)
    for a in (0, 13, 26):
        w = np.exp(-loglik[:, a : a + 4].sum(axis=(1, 2)))
        w /= w.sum()
        expected = (target[a : a + 4] @ combo).sum() - w @ (mean[:, a : a + 4] @ combo).sum(1)
        assert got[a] == pytest.approx(expected)
    assert lift_noise(target @ combo, 4, "placebo", got).used == pytest.approx(got.std(ddof=1))


def test_pareto_layers():
    gain = np.array([0.9, 0.5, 0.5, 0.2, 0.95])
    cost = np.array([10.0, 2.0, 3.0, 2.0, 30.0])
    assert pareto_layers(gain, cost).tolist() == [1, 1, 2, 2, 1]


def test_table_is_ranked_by_front_then_assurance_and_front_is_non_dominated(rec):
    t = rec.table
    assert list(t["rank"]) == list(range(1, len(t) + 1))
    assert (np.diff(t.layer) >= 0).all()
    front = t[t.pareto]
    for row in front.itertuples():
        better = (t.assurance >= row.assurance) & (t.cost <= row.cost)
        strictly = (t.assurance > row.assurance) | (t.cost < row.cost)
        assert not (better & strictly).any()
    assert (t.noise_sd >= t.noise_ar1 - 1e-9).all() and (t.noise_sd >= t.noise_placebo - 1e-9).all()
    assert (t.right_sign <= t.assurance + 1e-12).all()
    go_dark = t[t.spend_change == "-100%"]
    assert (go_dark.spend_at_risk == 0).all() and (go_dark.lift_mean < 0).all()
    # channels × changes × durations; a relative change of a channel off air is skipped
    assert len(rec.candidates) == len(t) == 4 * 4 * 4 - len(rec.settings["skipped"])
    assert {s.split()[0] for s in rec.settings["skipped"]} == {"local_ads", "email"}


def test_information_score_ranks_by_the_expected_fall_of_the_roas_sd(fit, rec):
    info = design(fit, score="information")
    t = info.table
    assert (np.diff(t.layer) >= 0).all() and info.settings["score"] == "information"
    for row in t[t.pareto].itertuples():
        better = (t.sd_reduction >= row.sd_reduction) & (t.cost <= row.cost)
        assert not (better & ((t.sd_reduction > row.sd_reduction) | (t.cost < row.cost))).any()
    # the same candidates and figures, ranked another way
    pd.testing.assert_frame_equal(
        t.drop(columns=["rank", "layer", "pareto"]).sort_values("candidate").reset_index(drop=True),
        rec.table.drop(columns=["rank", "layer", "pareto"])
        .sort_values("candidate")
        .reset_index(drop=True),
    )


def test_golden_numbers_of_a_small_fixed_fit(rec):
    """The public numbers of one fixed fit (small_business seed 0, NUTS seed 0, 2 × 100)."""
    top = rec.table.iloc[0]
    assert top.candidate == GOLDEN["candidate"]
    for key in ("lift_mean", "noise_sd", "assurance", "sd_reduction", "cost"):
        assert top[key] == pytest.approx(GOLDEN[key], rel=1e-4), key
    assert rec.table.pareto.sum() == GOLDEN["front"]


GOLDEN = {  # measured again after the sampler's init compiled without fusion emitters: new draws
    "candidate": "social_media -100% 8p",
    "lift_mean": -2612.1562259954567,
    "noise_sd": 1001.0093405586211,
    "assurance": 0.6066489048907472,
    "sd_reduction": 0.5039451129924637,
    "cost": 2612.1562259954567,
    "front": 11,
}


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"channels": ["radio"]}, ["--channels", "radio", "search_ads"]),
        ({"durations": "2,40"}, ["--durations 40", "longer than the data allow", "up to 27"]),
        ({"max_cost": -5.0}, ["--max-cost", "cannot be negative"]),
        ({"spend_changes": "-150%"}, ["--spend-changes", "-150%", "100%"]),
        ({"spend_changes": "+half"}, ["--spend-changes", "'+half'"]),
        ({"alpha": 1.5}, ["--alpha 1.5"]),
        ({"noise": "white"}, ["--noise", "'white'"]),
        ({"score": "power"}, ["--score", "'power'", "information"]),
        ({"max_cost": 1.0}, ["--max-cost", "no candidate costs that little"]),
    ],
)
def test_bad_input_gets_a_named_error(fit, kwargs, names):
    with pytest.raises(DesignError) as err:
        design(fit, **kwargs)
    for name in names:
        assert name in str(err.value)


def test_files_and_command(fit, rec, tmp_path):
    files = write_recommendations(rec, tmp_path / "api")
    table = pd.read_csv(files["recommendations"])
    assert list(table.candidate) == list(rec.table.candidate)
    summary = json.loads(files["summary"].read_text())
    assert summary["pareto_front"] == list(rec.table[rec.table.pareto].candidate)
    assert summary["noise"][0]["rho"] >= 0 and summary["top"][0]["rank"] == 1
    page = files["report"].read_text()
    assert page.count("data:image/png;base64,") == 5 and rec.table.candidate[0] in page

    fit.save(tmp_path / "fit")
    runner = CliRunner()
    out = tmp_path / "cli"
    args = ["design", str(tmp_path / "fit"), "--out", str(out), "--no-progress"]
    chosen = ["--channels", "search_ads,email", "--durations", "2,4", "--spend-changes"]
    result = runner.invoke(app, [*args, *chosen, "-50%,+2000"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "recommendations.csv")
    assert set(table.duration) == {2, 4} and len(table) == 2 * 2 + 2  # email: no -50% (off air)
    extra = table[table.spend_change == "+2000"]
    assert set(extra.channel) == {"search_ads", "email"}
    np.testing.assert_allclose(extra.spend_delta, 2000.0)
    assert "Lift tests from 2023-01-01" in result.output and "report.html" in result.output
    bad = runner.invoke(app, [*args, "--max-cost", "-1"])
    assert bad.exit_code == 2 and "--max-cost" in bad.output
    unknown = runner.invoke(app, [*args, "--channels", "tv"])
    assert unknown.exit_code == 2 and "unknown channel(s) ['tv']" in unknown.output


def test_mmmlab_design_is_the_designer(fit):
    """`mmmlab.design(fit, ...)` (the lazily imported package, callable) is `design`."""
    import mmmlab.design.noise  # noqa: F401  (a submodule imported first changes nothing)

    assert callable(mmmlab.design) and "design" in mmmlab.__all__
    ours = mmmlab.design(fit, channels=["search_ads"], durations="2")
    theirs = design(fit, channels=["search_ads"], durations="2")
    pd.testing.assert_frame_equal(ours.table, theirs.table)
