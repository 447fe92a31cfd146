"""`mmmlab optimize` end to end on a fit written by `mmmlab fit`: the files it writes, the
budget to the cent in plan.csv, strict JSON, and bad input stopped with a named error (exit
2) before any work."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mmmlab.cli import app

pytestmark = pytest.mark.xdist_group("fit")
runner = CliRunner()


@pytest.fixture(scope="module")
def fit_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("fit")
    result = runner.invoke(
        app, ["fit", "--example", "--method", "map", "--no-progress", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def _text(output: str) -> str:
    return " ".join(output.replace("│", " ").split())


def _strict(path):
    def refuse(name: str):
        raise AssertionError(f"bare {name} in {path}")

    return json.loads(path.read_text(), parse_constant=refuse)


def _optimize(fit_dir, out, *args: str):
    command = ["optimize", str(fit_dir), "--budget", "1000000.01", "--horizon", "13"]
    return runner.invoke(app, [*command, "--out", str(out), "--no-progress", *args])


def test_optimize_writes_the_plan_its_summary_and_figure(fit_dir, tmp_path):
    bounds = tmp_path / "bounds.yaml"
    bounds.write_text("tv: {upper: 1.2x}\nsocial: {fixed: current}\n")
    out = tmp_path / "plan"
    result = _optimize(fit_dir, out, "--bounds", str(bounds), "--objective", "cvar:0.2")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["optimize.png", "plan.csv", "summary.json"]
    plan = pd.read_csv(out / "plan.csv", index_col="channel")
    assert list(plan.index) == ["tv", "search", "social", "display"]
    assert int(np.rint(plan["recommended_spend"] * 100).sum()) == 100_000_001
    assert plan.loc["social", "bound"] == "fixed"
    assert plan.loc["tv", "recommended_spend"] <= plan.loc["tv", "current_spend"] * 1.2 + 0.01
    summary = _strict(out / "summary.json")
    assert summary["budget"] == 1000000.01 and summary["objective"] == "cvar:0.2"
    assert summary["horizon"]["periods"] == 13 and summary["horizon"]["carry_over_periods"] == 7
    assert summary["uplift"]["lo"] is None  # a point fit (MAP) has no interval
    assert "uplift over the current mix" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget", "-5"], "--budget -5.0: the budget must be a finite amount, 0 or more"),
        (["--horizon", "0"], "--horizon 0: give a whole number of periods"),
        (["--objective", "risky"], "--objective 'risky': give mean, quantile:Q or cvar:Q"),
        (["--start", "2019-01-06"], "--start 2019-01-06: not a period of the data"),
    ],
)
def test_bad_options_are_named(fit_dir, tmp_path, args, message):
    out = tmp_path / "out"
    command = ["optimize", str(fit_dir), "--budget", "1000", "--horizon", "13", "--out", str(out)]
    result = runner.invoke(app, [*command, *args])
    assert result.exit_code == 2, result.output
    assert message in _text(result.output)
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("tvv: {upper: 10}\n", "unknown channel(s) ['tvv']; the fit's channels are"),
        ("tv: {lower: 6e5}\nsearch: {lower: 6e5}\n", "the lower bounds and fixed channels need"),
        ("tv: {upper: lots}\n", "tv.upper: 'lots' is neither a spend"),
        ("tv: [1, 2\n", "not valid YAML"),
    ],
)
def test_bad_bounds_files_are_named_with_the_file(fit_dir, tmp_path, content, message):
    bounds = tmp_path / "bounds.yaml"
    bounds.write_text(content)
    result = _optimize(fit_dir, tmp_path / "out", "--bounds", str(bounds))
    assert result.exit_code == 2, result.output
    assert f"--bounds {bounds}" in _text(result.output)
    assert message in _text(result.output)


def test_a_folder_without_a_fit_is_named(tmp_path):
    result = _optimize(tmp_path, tmp_path / "out")
    assert result.exit_code == 2
    assert f"FIT_DIR {tmp_path}: no saved fit here" in _text(result.output)
