"""`mmmlab fit --lift-tests` and `fit(..., lift_tests=)` end to end: the report's table, the
saved fit, and bad rows refused before any work."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import mmmlab
from mmmlab.analysis.lift import lift_table
from mmmlab.cli import app
from mmmlab.data import DatasetError
from mmmlab.data.lift_tests import LiftExperiment, read_lift_tests
from mmmlab.synth.lift import true_lifts

pytestmark = pytest.mark.xdist_group("fit")
QUICK = ["--warmup", "300", "--samples", "300", "--no-progress"]
runner = CliRunner()


@pytest.fixture(scope="module")
def example():
    return mmmlab.example_dataset()


def lift_file(tmp_path, example, wrong: float = 0.0):
    """Two tests on the example: a search go-dark read out at its true lift, and a tv +50%
    flight measured at its true lift plus `wrong` (in lift_se units)."""
    dataset, truth = example
    d, spend = dataset.dates, dataset.spend
    tests = [
        LiftExperiment(
            "search", d[60], d[67], -spend[60:68, :, 1].sum(), 0, 1, spread="proportional"
        ),
        LiftExperiment("tv", d[100], d[105], 0.5 * spend[100:106, :, 0].sum(), 0, 1),
    ]
    lifts = true_lifts(tests, dataset, truth, mmmlab.ModelConfig())
    se = 0.1 * np.abs(lifts)
    frame = pd.DataFrame([t.to_json() for t in tests]).drop(columns="where")
    frame["lift"], frame["lift_se"] = lifts + np.array([0.0, wrong]) * se, se
    path = tmp_path / "lifts.csv"
    frame.to_csv(path, index=False)
    return path


def test_fit_with_lift_tests_reports_each_test_and_saves_them(tmp_path, example):
    out = tmp_path / "out"
    path = lift_file(tmp_path, example, wrong=-30.0)  # tv's readout far below the truth
    result = runner.invoke(
        app, ["fit", "--example", "--lift-tests", str(path), "--out", str(out), *QUICK]
    )
    assert result.exit_code == 0, result.output
    assert "measured vs the calibrated fit" in " ".join(result.output.split())
    table = pd.read_csv(out / "lift_tests.csv")
    assert list(table["test"]) == [f"{path}, line 2", f"{path}, line 3"]
    assert list(table["channel"]) == ["search", "tv"]
    assert (table["predicted_lo"] < table["predicted_mean"]).all()
    assert (table["predicted_mean"] < table["predicted_hi"]).all()
    search, tv = table.itertuples()
    assert abs(search.z) < 2 and not search.disagree  # the true readout agrees
    assert tv.z > 2 and tv.disagree  # the wrong one is flagged: the fit predicts more
    assert search.measure_end == "2023-06-04"  # end 2023-04-16 + 7 weeks of carry-over
    summary = json.loads((out / "summary.json").read_text())
    assert [row["test"] for row in summary["lift_tests"]] == list(table["test"])
    assert any("tv): measured" in w and "disagree" in w for w in summary["warnings"])
    saved = mmmlab.load(out / "fit")
    assert saved.lift_tests == read_lift_tests(path)
    assert [t.where for t in saved.lift_tests] == list(table["test"])
    np.testing.assert_allclose(lift_table(saved)["predicted_mean"], table["predicted_mean"])


def test_a_bad_lift_test_row_stops_the_fit_before_any_work(tmp_path, example):
    path = lift_file(tmp_path, example)
    path.write_text(path.read_text().replace("search,", "radio,", 1))
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["fit", "--example", "--lift-tests", str(path), "--out", str(out), *QUICK]
    )
    assert result.exit_code == 2, result.output
    assert "lifts.csv, line 2: unknown channel 'radio'" in " ".join(result.output.split())
    assert not out.exists()


def test_fit_refuses_a_test_outside_the_training_window(example):
    dataset, _ = example
    train = dataset.split(train=0.5).train
    late = LiftExperiment("tv", dataset.dates[120], dataset.dates[123], 100.0, 300.0, 50.0)
    with pytest.raises(DatasetError, match=r"lift_tests\[0\]: start .* lies outside the data"):
        mmmlab.fit(train, method="map", lift_tests=[late])


def test_a_point_fit_reports_z_against_the_lift_se_alone(tmp_path, example):
    dataset, _ = example
    tests = read_lift_tests(lift_file(tmp_path, example))
    result = mmmlab.fit(dataset, method="map", lift_tests=tests)
    table = lift_table(result)
    assert table[["predicted_lo", "predicted_hi"]].isna().all().all()
    z = (table["predicted_mean"] - table["lift"]) / table["lift_se"]
    np.testing.assert_allclose(table["z"], z)


def test_fits_saved_without_lift_tests_load_as_before(tmp_path, example):
    dataset, _ = example
    result = mmmlab.fit(dataset, method="map")
    result.save(tmp_path / "fit")
    assert "lift_tests" not in json.loads((tmp_path / "fit" / "fit.json").read_text())
    again = mmmlab.load(tmp_path / "fit")
    assert again.lift_tests == () and again.lift_draws().shape == (1, 0)
    assert lift_table(again).empty
