"""`mmmlab scenario` end to end on a saved fit: the files it writes and bad plans files
stopped with a named error (exit 2) before any work."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

import mmmlab
from mmmlab.cli import app

pytestmark = pytest.mark.xdist_group("fit")
runner = CliRunner()
PLANS = """\
horizon: 13
baseline: current
plans:
  more_tv: {scale: {tv: 1.3}}
  steady:
    spend: {tv: 30000, search: [20000, 20000, 20000, 20000, 20000, 20000, 20000,
                                20000, 20000, 20000, 20000, 20000, 20000]}
"""


@pytest.fixture(scope="module")
def fit_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("saved")
    dataset, _ = mmmlab.example_dataset()
    mmmlab.fit(dataset, seed=0, method="map").save(out)
    return out


def _scenario(fit_dir, plans, out):
    return runner.invoke(app, ["scenario", str(fit_dir), str(plans), "--out", str(out)])


def test_scenario_writes_periods_totals_summary_and_figure(fit_dir, tmp_path):
    plans = tmp_path / "plans.yaml"
    plans.write_text(PLANS)
    out = tmp_path / "out"
    result = _scenario(fit_dir, plans, out)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["scenario.png", "scenarios.csv", "summary.json", "totals.csv"]
    periods = pd.read_csv(out / "scenarios.csv")
    assert list(periods["plan"].unique()) == ["current", "more_tv", "steady"]
    assert len(periods) == 3 * 13
    totals = pd.read_csv(out / "totals.csv", index_col="plan")
    assert totals.loc["more_tv", "prob_better"] == 1.0  # more tv, more response
    summary = json.loads((out / "summary.json").read_text())
    assert summary["baseline"] == "current" and summary["horizon"]["periods"] == 13
    assert summary["plans"][0]["prob_better"] is None  # the baseline: strict JSON null


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("horizon: 13\nplans: {a: {spend: {tv: [1, 2, 3]}}}\n", "plan 'a', channel 'tv': 3"),
        ("horizon: 13\nplans: {a: {scale: {radio: 2}}}\n", "unknown channel(s) ['radio']"),
        ("horizon: 13\nplans: {a: {scale: {tv: 2}}}\nextra: 1\n", "extra: Extra inputs"),
        ("plans: [\n", "not valid YAML"),
    ],
)
def test_bad_plans_files_are_named_with_the_file(fit_dir, tmp_path, text, message):
    plans = tmp_path / "plans.yaml"
    plans.write_text(text)
    out = tmp_path / "out"
    result = _scenario(fit_dir, plans, out)
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert str(plans) in flat and message in flat
    assert not out.exists()
