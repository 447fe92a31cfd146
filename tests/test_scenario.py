"""Scenario plans on a small real fit: each plan's predicted target per period and in total,
its difference to the baseline with P(better), the same response the optimizer uses, bad
plans named before any work, and the figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from mmmlab.decisions import PlanError, scenario
from mmmlab.decisions.plots import scenario_figure
from mmmlab.decisions.response import Response
from mmmlab.decisions.window import plan_horizon

pytestmark = pytest.mark.xdist_group("fit")
N = 13


@pytest.fixture(scope="module")
def fit(small_example_fit):
    return small_example_fit


@pytest.fixture(scope="module")
def result(fit):
    plans = {
        "horizon": N,
        "plans": {
            "more": {"scale": dict.fromkeys(fit.channels, 1.5)},
            "less": {"scale": dict.fromkeys(fit.channels, 0.5)},
            "steady": {"spend": {"tv": 30_000.0, "search": [20_000.0] * N}},
        },
    }
    return scenario(fit, plans)


def test_every_plan_is_predicted_per_period_and_in_total(fit, result):
    S = fit.num_draws
    assert result.names == ("current", "more", "less", "steady")
    assert result.baseline == "current"
    assert len(result.dates) == N and result.dates[0] > fit.train.dates[-1]
    for name in result.names:
        assert result.target[name].shape == (S, N, 1)
        assert result.whole[name].shape == (S,)
    periods, totals = result.periods_table(), result.totals_table()
    assert len(periods) == 4 * N
    assert list(totals.index) == list(result.names)
    # current repeats the last 13 weeks as spent; scale and spend plans change what they name
    np.testing.assert_allclose(result.spend["current"], fit.train.spend[-N:])
    np.testing.assert_allclose(result.spend["more"], 1.5 * fit.train.spend[-N:])
    steady = result.spend["steady"][:, 0]
    assert (steady[:, 0] == 30_000.0).all() and (steady[:, 1] == 20_000.0).all()
    np.testing.assert_allclose(steady[:, 2:], fit.train.spend[-N:, 0, 2:])  # kept as spent
    first = periods[periods["plan"] == "more"].iloc[0]
    assert first["target_lo"] < first["target_mean"] < first["target_hi"]


def test_p_better_is_one_for_more_of_every_channel_and_zero_for_less(result):
    assert result.prob_better("more") == 1.0  # every draw: more spend, more response
    assert result.prob_better("less") == 0.0
    np.testing.assert_array_equal(result.difference("current"), 0.0)
    totals = result.totals_table()
    assert totals.loc["more", "difference_lo"] > 0 > totals.loc["less", "difference_hi"]
    assert np.isnan(totals.loc["current", "prob_better"])


def test_a_scenarios_difference_is_the_optimizers_response_difference(fit, result):
    """Plans differ only in media, so the difference of their predicted targets (horizon
    and carry-over) is the difference of the optimizer's incremental responses."""
    horizon = plan_horizon(fit.train, fit.config.l_max, N)
    response = Response.from_fit(fit, horizon)
    gain = response.by_channel(result.spend["steady"]).sum(axis=1)
    gain -= response.by_channel(result.spend["current"]).sum(axis=1)
    scale = np.abs(result.whole["current"]).max()
    np.testing.assert_allclose(result.difference("steady"), gain, atol=1e-6 * scale)


@pytest.mark.parametrize(
    ("plans", "message"),
    [
        (
            {"horizon": N, "plans": {"a": {"spend": {"tv": [1.0] * 10}}}},
            "plan 'a', channel 'tv': 10 periods of spend, but the horizon has 13",
        ),
        (
            {"plans": {"a": {"spend": {"tv": [1.0] * N}}, "b": {"spend": {"search": [1.0] * 12}}}},
            "plan 'b', channel 'search': 12 periods of spend, but the horizon has 13",
        ),
        ({"horizon": N, "plans": {"a": {"scale": {"tvv": 2.0}}}}, r"channel\(s\) \['tvv'\]"),
        ({"horizon": N, "baseline": "b", "plans": {"a": {"scale": {}}}}, "baseline 'b' is not"),
        ({"plans": {"a": {"scale": {"tv": 2.0}}}}, "say how many periods .* `horizon: N`"),
        ({"horizon": N, "plans": {"a": {"scale": {"tv": -1.0}}}}, "scale.tv: values must be 0"),
        ({"horizon": N, "plans": {"a": {"scale": {}, "spend": {}}}}, "either scale"),
        ({"horizon": N, "plans": {}}, "plans: .*at least 1 item"),
        ({"horizon": N, "plan": {}}, "plan: Extra inputs are not permitted"),
        ({"horizon": N, "start": "2020-01-05", "plans": {"a": {"scale": {}}}}, "not a period"),
        ({"horizon": 200, "plans": {"a": {"scale": {}}}}, "--horizon 200: only 156 observed"),
    ],
)
def test_bad_plans_are_named_before_any_work(fit, plans, message):
    with pytest.raises(PlanError, match=message):
        scenario(fit, plans)


def test_the_figure_draws_each_plans_target_and_its_difference(result):
    fig = scenario_figure(result)
    left, right = fig.axes
    lines = left.get_lines()
    assert [line.get_label() for line in lines] == list(result.names)
    for line, name in zip(lines, result.names, strict=True):
        np.testing.assert_allclose(line.get_ydata(), result.target[name].sum(axis=2).mean(axis=0))
    others = [n for n in result.names if n != result.baseline]
    assert [t.get_text() for t in right.get_yticklabels()] == others
    dots = [line for line in right.get_lines() if line.get_marker() == "o"]
    for dot, name in zip(dots, others, strict=True):
        assert dot.get_xdata()[0] == pytest.approx(result.difference(name).mean())
    labels = [t.get_text() for t in right.texts]
    assert labels == [f"P(better) {result.prob_better(n):.2f}" for n in others]
    plt.close(fig)
