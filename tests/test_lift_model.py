"""The lift term of the model: one definition of a test's lift for the answer key, the fit
and its report; and a lift test pulls a fit towards what it measured."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
from numpyro.handlers import seed, trace

import mmmlab  # noqa: F401  (JAX settings)
from mmmlab.data.lift_tests import LiftExperiment
from mmmlab.inference import fit
from mmmlab.inference.components import evaluate_lifts
from mmmlab.models import ModelConfig
from mmmlab.models.mmm import bind
from mmmlab.synth import example_dataset, simulate
from mmmlab.synth.lift import true_lifts
from mmmlab.synth.scenarios import scenario_base

pytestmark = pytest.mark.xdist_group("fit")
WORLD = scenario_base().model_config_of()  # the confounded world's own config (Hill, l_max 8)


@pytest.fixture(scope="module")
def world():
    return simulate("confounded", 0)


def designs(dataset) -> list[LiftExperiment]:
    d, spend = dataset.dates, dataset.spend
    return [
        LiftExperiment(
            "search", d[60], d[67], -spend[60:68, :, 1].sum(), 0, 1, spread="proportional"
        ),
        LiftExperiment("tv", d[100], d[103], 0.5 * spend[100:104, :, 0].sum(), 0, 1),
        LiftExperiment("social", d[20], d[29], 5000.0, 0, 1, measure_end=d[31]),
    ]


def test_a_go_dark_of_the_whole_window_loses_the_channel_s_whole_contribution(world):
    """The answer key's lift is the world's own response: switching search off in every
    period removes exactly its true contribution."""
    dataset, truth = world
    d, spend = dataset.dates, dataset.spend[..., 1]
    whole = LiftExperiment(
        "search", d[0], d[-1], -spend.sum(), 0, 1, measure_end=d[-1], spread="proportional"
    )
    (lift,) = true_lifts([whole], dataset, truth, WORLD)
    assert lift == pytest.approx(-truth.contributions[..., 1].sum(), rel=1e-12)


def test_a_world_whose_response_is_not_the_model_s_has_no_true_lift(world):
    dataset, truth = world
    with pytest.raises(ValueError, match=r"no true \['logistic_lam'\]"):
        true_lifts(designs(dataset), dataset, truth, ModelConfig())  # logistic, not Hill
    with pytest.raises(ValueError, match="not the model's response under this config"):
        true_lifts(designs(dataset), dataset, truth, WORLD.model_copy(update={"l_max": 4}))
    drifting, drifting_truth = simulate("drifting_effect", 0)
    with pytest.raises(ValueError, match="not the model's response"):
        true_lifts(designs(drifting), drifting, drifting_truth, WORLD)
    with pytest.raises(ValueError, match="another target than this truth implies"):
        true_lifts(designs(drifting), drifting, truth, WORLD)


def test_the_fitted_model_predicts_the_true_lift_under_the_true_parameters(world):
    """One definition: the model's lift term (float32 media, the fit's own scaling) given the
    world's parameters gives the answer key's lift (float64, the world's scaling)."""
    dataset, truth = world
    tests = designs(dataset)
    bound = bind(dataset, WORLD, lift_tests=tests)
    sites = trace(seed(bound.model, jax.random.PRNGKey(0))).get_trace(bound.data, bound.y)
    params = {k: np.asarray(v["value"])[None] for k, v in sites.items() if k not in ("y", "lift")}
    for site, idx in bound.structure.media_sites:
        params[site] = np.asarray(truth.params[site])[list(idx)][None]
    params["effect"] = truth.params["effect"] / bound.scaling.y_scale[:, None]  # (1, C)
    predicted = evaluate_lifts(bound.structure, params, bound.data)[0]
    np.testing.assert_allclose(predicted, true_lifts(tests, dataset, truth, WORLD), rtol=2e-5)


def test_lift_site_is_observed_when_fitting_and_drawn_when_simulating(world):
    dataset, _ = world
    bound = bind(dataset, WORLD, lift_tests=designs(dataset))
    key = jax.random.PRNGKey(0)
    fitting = trace(seed(bound.model, key)).get_trace(bound.data, bound.y)
    assert fitting["lift"]["is_observed"]
    np.testing.assert_array_equal(fitting["lift"]["value"], bound.data.lifts.lift)
    simulating = trace(seed(bound.model, key)).get_trace(bound.data)
    assert not simulating["lift"]["is_observed"] and simulating["lift"]["value"].shape == (3,)
    plain = bind(dataset, WORLD)
    assert plain.data.lifts is None
    assert "lift" not in trace(seed(plain.model, key)).get_trace(plain.data, plain.y)


@pytest.fixture(scope="module")
def example():
    return example_dataset()[0]


def map_roas_and_lift(dataset, test: LiftExperiment) -> tuple[float, float]:
    result = fit(dataset, seed=0, method="map", lift_tests=[test])
    roas = result.roas().loc[test.channel, "roas_mean"]
    return float(roas), float(result.lift_draws()[0, 0])


def test_a_lift_test_pulls_the_channel_towards_the_measured_lift(example):
    """With a vague test (se 1e9) the MAP fit predicts lift p0; a precise test measuring
    2 p0 (or p0 / 2) moves the prediction most of the way there, and the channel's ROAS
    up (down) with it."""
    d, spend = example.dates, example.spend[:, 0, 1]
    dark = LiftExperiment(
        "search", d[60], d[67], -spend[60:68].sum(), 0, 1e9, spread="proportional"
    )
    roas0, p0 = map_roas_and_lift(example, dark)
    assert p0 < 0  # a go-dark loses sales
    for factor in (2.0, 0.5):
        measured = replace(dark, lift=factor * p0, lift_se=0.03 * abs(p0))
        roas, p = map_roas_and_lift(example, measured)
        assert abs(p - factor * p0) < 0.1 * abs(p0 - factor * p0), (factor, p0, p)
        assert np.sign(roas - roas0) == np.sign(factor - 1), (factor, roas0, roas)
        assert abs(roas - roas0) > 0.3 * roas0, (factor, roas0, roas)


def test_a_national_test_in_a_panel_is_the_sum_of_its_geos(tmp_path):
    """Each geo responds to its own spend: a national go-dark loses what the go-darks of its
    geos would, and a test in one geo predicts that geo's response only."""
    panel, _ = example_dataset(n_geos=3, n_weeks=52)
    d, spend = panel.dates, panel.spend[..., 1]
    national = LiftExperiment(
        "search", d[20], d[23], -spend[20:24].sum(), 0, 1, spread="proportional"
    )
    per_geo = [
        replace(national, geo=geo, spend_change=-spend[20:24, g].sum())
        for g, geo in enumerate(panel.geos)
    ]
    result = fit(panel, seed=0, method="map", lift_tests=[national])
    both = replace(result, lift_tests=(national, *per_geo)).lift_draws()[0]
    assert both[0] == pytest.approx(result.lift_draws()[0, 0], rel=1e-12)
    assert both[0] == pytest.approx(both[1:].sum(), rel=1e-6)
    assert (np.sign(both) == -1).all()


def test_the_walk_through_s_snippet_writes_the_tests_it_shows(tmp_path, monkeypatch):
    """docs/lift_tests.md: its Python block runs as written and writes the table it prints."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "lift_tests.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "to_csv" in b]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "confounded").mkdir(parents=True)
    exec(compile(block, "docs/lift_tests.md", "exec"), {})  # noqa: S102
    written = pd.read_csv(tmp_path / "runs" / "confounded" / "lifts.csv")
    shown = re.search(r"\| search \| (\S+) \| (\S+) \| (\S+) \| (\S+) \| (\S+) \|", text)
    start, end, *numbers = shown.groups()
    row = written.iloc[0]
    assert (row.start, row.end) == (start, end)
    values = [float(n.replace("−", "-").replace(",", "")) for n in numbers]
    np.testing.assert_allclose([row.spend_change, row.lift, row.lift_se], values, atol=1)
