"""The budget optimizer on a small real fit: the plan spends the budget to the cent, holds its
bounds and fixed channels, finds the optimum a brute-force grid finds, equalises marginal
returns off the bounds, and bad input stops with an error that names it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import mmmlab
from mmmlab.decisions import PlanError, optimize
from mmmlab.decisions.objective import Objective
from mmmlab.decisions.plots import plan_figure

pytestmark = pytest.mark.xdist_group("fit")
HORIZON = 13


@pytest.fixture(scope="module")
def fit(small_example_fit):
    return small_example_fit


@pytest.fixture(scope="module")
def current_total(fit):
    return float(fit.train.spend[-HORIZON:].sum())


def _cents(values) -> int:
    return int(np.rint(np.asarray(values) * 100).sum())


def test_plan_spends_the_budget_to_the_cent_and_holds_bounds_and_fixed_channels(fit):
    budget = 987_654.32
    bounds = {
        "tv": {"fixed": "current"},
        "search": {"upper": "1.1x"},
        "social": {"lower": 150_000.0, "upper": 200_000.0},
    }
    plan = optimize(fit, budget, HORIZON, bounds=bounds)
    spend = dict(zip(plan.channels, plan.recommended[0], strict=True))
    assert _cents(plan.recommended) == 98_765_432  # every cent of the budget, no more
    assert np.all(np.round(plan.recommended, 2) == plan.recommended)  # whole cents
    current = dict(zip(plan.channels, plan.current[0], strict=True))
    assert spend["tv"] == pytest.approx(round(current["tv"], 2), abs=0.005)  # held
    assert spend["search"] <= np.floor(110 * current["search"]) / 100
    assert 150_000.0 <= spend["social"] <= 200_000.0
    assert plan.bound[0] == "fixed"
    # the current mix is the last 13 weeks' spend, scaled to this budget
    assert plan.current.sum() == pytest.approx(budget)
    observed = fit.train.spend[-HORIZON:].sum(axis=(0, 1))
    np.testing.assert_allclose(plan.current[0], observed * budget / observed.sum())


def test_optimum_matches_a_brute_force_grid_over_three_channels(fit, current_total):
    """tv held fixed, the rest of the budget over search, social and display: every split
    on a grid of 1/60 of it, evaluated through the same response, is no better."""
    plan = optimize(fit, current_total, HORIZON, bounds={"tv": {"fixed": "current"}})
    tv = plan.recommended[0, 0]
    free = current_total - tv
    steps = 60
    best, best_value = None, -np.inf
    periods = plan.horizon.periods
    for i in range(steps + 1):
        for j in range(steps + 1 - i):
            cells = np.array([tv, i, j, steps - i - j], dtype=float)
            cells[1:] *= free / steps
            spend = np.broadcast_to(cells / periods, (periods, 1, 4))
            value = _response(fit, plan, spend)
            if value > best_value:
                best, best_value = cells, value
    found = _response(fit, plan, np.broadcast_to(plan.recommended / periods, (periods, 1, 4)))
    assert found >= best_value - 1e-9 * abs(best_value)  # no grid point is better
    assert np.abs(plan.recommended[0, 1:] - best[1:]).max() <= free / steps  # within a cell


def _response(fit, plan, spend) -> float:
    from mmmlab.decisions.response import Response

    if not hasattr(fit, "_decisions_response"):
        object.__setattr__(fit, "_decisions_response", Response.from_fit(fit, plan.horizon))
    return float(fit._decisions_response.by_channel(spend).sum(axis=1).mean())


def test_marginal_returns_are_equal_off_the_bounds_and_ordered_at_them(fit, current_total):
    bounds = {"tv": {"upper": "0.8x"}, "display": {"lower": "1.5x"}}
    plan = optimize(fit, current_total, HORIZON, bounds=bounds)
    assert plan.stop == "converged"
    assert plan.bound == ["upper", "", "", "lower"]
    assert plan.marginal_spread < 1e-5  # search and social: KKT, equal marginal returns
    interior = plan.marginal[0, 1:3].mean()
    assert plan.marginal[0, 0] >= interior  # held below where it would go
    assert plan.marginal[0, 3] <= interior  # held above
    # the mean objective's marginal return is the mean of the draws' mROAS
    np.testing.assert_allclose(plan.mroas.mean(axis=0), plan.marginal[0], rtol=1e-9)


def test_a_plan_over_fewer_draws_reads_them_evenly_spaced(fit, current_total):
    plan = optimize(fit, current_total, HORIZON, draws=40)
    assert plan.cells_current.shape == (40, 1, 4) and plan.mroas.shape == (40, 4)
    every = optimize(fit, current_total, HORIZON)
    assert plan.value_current != every.value_current  # another set of draws
    assert np.abs(plan.recommended - every.recommended).max() < 0.1 * current_total


def test_the_plan_is_never_worse_than_the_current_mix_for_its_objective(fit, current_total):
    for objective in ("mean", "quantile:0.1", "cvar:0.2"):
        plan = optimize(fit, current_total, HORIZON, objective=objective)
        assert plan.value_recommended >= plan.value_current - 1e-9 * abs(plan.value_current)
        assert 0.0 <= plan.prob_better <= 1.0
        assert plan.uplift.shape == (fit.num_draws,)


def test_a_risk_averse_plan_has_the_better_lower_tail(fit, current_total):
    mean = optimize(fit, current_total, HORIZON)
    cvar = optimize(fit, current_total, HORIZON, objective="cvar:0.1")
    weights = Objective("cvar", 0.1).weights(fit.num_draws)
    tail_of_mean_plan = np.sort(mean.response_recommended.sum(axis=1)) @ weights
    assert cvar.value_recommended >= tail_of_mean_plan - 1e-9 * abs(tail_of_mean_plan)
    assert mean.response_recommended.sum(axis=1).mean() >= cvar.response_recommended.sum(
        axis=1
    ).mean() * (1 - 1e-9)


def test_geo_level_plans_choose_every_geo_and_channel_within_the_bounds():
    dataset, _ = mmmlab.example_dataset(n_geos=3)
    fit = mmmlab.fit(dataset, seed=0, method="map")
    budget = float(dataset.spend[-HORIZON:].sum()) + 0.37
    plan = optimize(fit, budget, HORIZON, bounds={"tv": {"upper": "0.9x"}}, geo_level=True)
    assert plan.recommended.shape == (3, 4)
    assert _cents(plan.recommended) == int(round(budget * 100))
    assert (plan.recommended >= 0).all()
    assert plan.recommended[:, 0].sum() <= np.floor(90 * plan.current[:, 0].sum()) / 100
    national = optimize(fit, budget, HORIZON, bounds={"tv": {"upper": "0.9x"}})
    assert plan.value_recommended >= national.value_recommended * (1 - 1e-9)  # more freedom
    # A curve runs through the larger of the two plans (point 20 of 31); a geo-level
    # curve spreads spend across geos as the recommended plan does, so it meets the current
    # plan only where that has the same geo mix.
    for each in (plan, national):
        current, recommended = each.current.sum(0), each.recommended.sum(0)
        np.testing.assert_allclose(each.curve_spend[20], np.maximum(current, recommended))
        means = [each.response_current.mean(0), each.response_recommended.mean(0)]
        for c in range(4):
            if each.geo_level and current[c] > recommended[c]:
                continue
            through = means[0][c] if current[c] > recommended[c] else means[1][c]
            assert each.curve_response[0][20, c] == pytest.approx(through, rel=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budget": -5.0}, "--budget -5.0: the budget must be a finite amount, 0 or more"),
        ({"bounds": {"tvv": {"upper": 1.0}}}, r"unknown channel\(s\) \['tvv'\]"),
        ({"bounds": {"tv": {"lower": 9e9}}}, "lower bound 9,000,000,000.00 is above its upper"),
        (
            {"bounds": {"tv": {"lower": 6e5}, "search": {"lower": 6e5}}},
            "the lower bounds and fixed channels need 1,200,000.00 .*more than the budget",
        ),
        ({"bounds": {"*": {"upper": "0.5x"}}}, "the upper bounds and fixed channels allow at most"),
        ({"bounds": {"tv": {"upper": "1.5 times"}}}, r"tv\.upper: .*multiple of the current"),
        ({"bounds": {"tv": {"fixed": 1.0, "upper": 2.0}}}, "either fixed, or lower and/or upper"),
        ({"objective": "cvar:1.5"}, "--objective 'cvar:1.5'"),
        ({"objective": "median"}, "--objective 'median': give mean, quantile:Q or cvar:Q"),
        ({"horizon": 500}, "--horizon 500: only 156 observed period"),
        ({"horizon": 0}, "--horizon 0: give a whole number of periods"),
        ({"start": "2023-02-30"}, "--start '2023-02-30': not a date"),
        ({"start": "2031-01-05"}, "--start 2031-01-05: not a period of the data"),
        ({"draws": 0}, "--draws 0: give a whole number of draws"),
    ],
)
def test_bad_input_is_named_before_any_work(fit, current_total, kwargs, message):
    args = {"budget": 1_000_000.0, "horizon": HORIZON} | kwargs
    with pytest.raises(PlanError, match=message):
        optimize(fit, **args)


def test_the_figure_draws_both_plans_and_each_channels_curve_with_both_points(fit, current_total):
    plan = optimize(fit, current_total, HORIZON)
    fig = plan_figure(plan)
    bars, *panels = fig.axes
    heights = [p.get_height() for p in bars.patches]
    np.testing.assert_allclose(heights[:4], plan.current[0])
    np.testing.assert_allclose(heights[4:], plan.recommended[0])
    assert [ax.get_title() for ax in panels] == list(plan.channels)
    for c, ax in enumerate(panels):
        curve, now, best = ax.get_lines()
        np.testing.assert_allclose(curve.get_xdata(), plan.curve_spend[:, c])
        np.testing.assert_allclose(curve.get_ydata(), plan.curve_response[0][:, c])
        assert curve.get_ydata()[0] == pytest.approx(0.0, abs=1e-6)  # no spend, no response
        assert now.get_xdata()[0] == pytest.approx(plan.current[0, c])
        assert now.get_ydata()[0] == pytest.approx(plan.response_current[:, c].mean())
        assert best.get_xdata()[0] == pytest.approx(plan.recommended[0, c])
        assert best.get_ydata()[0] == pytest.approx(plan.response_recommended[:, c].mean())
    plt.close(fig)


def test_a_zero_budget_plans_nothing(fit):
    plan = optimize(fit, 0.0, HORIZON)
    assert (plan.recommended == 0).all() and (plan.current == 0).all()
    np.testing.assert_allclose(plan.uplift, 0.0, atol=1e-6)
