"""Simulation-based calibration of the model with a lift-test term (the real NUTS sampler):
each simulation draws the tests' readouts from the lift term and refits on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import mmmlab  # noqa: F401  (JAX settings)
from mmmlab.cli import app
from mmmlab.data.lift_tests import LiftExperiment
from mmmlab.inference.calibration import run_sbc
from mmmlab.models import ModelConfig
from mmmlab.synth import example_dataset
from mmmlab.synth.lift import true_lifts
from test_sbc import CONFIG, SMALL  # tests/ is on sys.path (pytest rootdir)

pytestmark = pytest.mark.xdist_group("fit")
# As tests/test_sbc.py (30 refits of a year of weekly data, 18 parameters tested together,
# Bonferroni at 1%), with 300 warmup iterations: at 200, one of the 30 refits left a chain
# stuck (R-hat 1.24) on the logistic_lam of a channel whose effect a test pins down.
# The tests' lift_se is 10% of the example's true lifts, so a refit that read the wrong
# readouts (the file's, not the simulated ones) would be pulled off its prior draw.
LONGER = {**SMALL, "num_warmup": 300}


def lift_tests(dataset, truth) -> list[LiftExperiment]:
    d, spend = dataset.dates, dataset.spend
    dark = -spend[20:26, :, 1].sum()
    tests = [
        LiftExperiment("search", d[20], d[25], dark, 0, 1, spread="proportional"),
        LiftExperiment("tv", d[30], d[33], 0.5 * spend[30:34, :, 0].sum(), 0, 1),
    ]
    lifts = true_lifts(tests, dataset, truth, ModelConfig())
    return [
        LiftExperiment(**{**t.to_json(), "lift": v, "lift_se": 0.1 * abs(v)})
        for t, v in zip(tests, lifts, strict=True)
    ]


def test_ranks_are_uniform_with_lift_tests_in_the_likelihood():
    dataset, truth = example_dataset(n_weeks=52)
    result = run_sbc(dataset, CONFIG, lift_tests=lift_tests(dataset, truth), **LONGER)
    summary = result.summary
    assert not summary["rejected_bonferroni_1pct"].any(), "\n" + summary.to_string()
    assert len(summary) == 18 and "lift" not in " ".join(result.ranks)  # data, not parameters
    assert result.diagnostics["max_rhat"].max() < 1.2, "\n" + result.diagnostics.to_string()
    # The lift term is informative: the effects' posteriors are narrower than without it.
    plain = run_sbc(dataset, CONFIG, **{**LONGER, "num_simulations": 8})
    for name in ("effect[search]", "effect[tv]"):
        with_tests = result.posterior_draws[name][:8].std(axis=1)
        without = plain.posterior_draws[name].std(axis=1)
        assert np.median(with_tests / without) < 0.8, name


def test_sbc_command_takes_a_lift_test_file(tmp_path):
    dataset, truth = example_dataset()
    path = tmp_path / "lifts.csv"
    rows = pd.DataFrame([t.to_json() for t in lift_tests(dataset, truth)])
    rows.drop(columns="where").to_csv(path, index=False)
    args = ["sbc", "--n", "2", "--warmup", "100", "--samples", "100", "--draws", "19"]
    args += ["--bins", "4", "--lift-tests", str(path), "--no-progress"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "sbc")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sbc" / "ranks.csv").is_file()
    path.write_text(path.read_text().replace("search,", "radio,", 1))
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "sbc2")])
    assert result.exit_code == 2
    assert "lifts.csv, line 2: unknown channel 'radio'" in " ".join(result.output.split())
