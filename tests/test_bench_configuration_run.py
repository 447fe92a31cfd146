"""A configuration benchmark end to end: ridge and Bayesian backends, an adstock dimension,
lift tests from the truth, Robyn's metrics, and the report's configuration section."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from mmmlab.bench.grid.spec import SpecError, parse_spec
from mmmlab.bench.results.store import Store
from mmmlab.bench.run.runner import run_benchmark
from mmmlab.cli import app

pytestmark = pytest.mark.xdist_group("bench_configurations")

SPEC = {
    "name": "config_tiny",
    "datasets": [{"preset": "small_business", "lift_tests": "from_truth"}],
    "models": [
        {"name": "ridge", "backend": "ridge", "params": {"iterations": 150, "trials": 2}},
        {"name": "bayes", "backend": "mmmlab", "params": {"saturation": "hill"}},
    ],
    "variants": {"dimensions": {"adstock": ["geometric", "weibull_pdf"]}},
    "seeds": 1,
    "split": {"train": 0.7, "validation": 0.2},
    "inference": {"num_warmup": 150, "num_samples": 150, "num_chains": 2},
    "metrics": ["predictive", "robyn", "channels", "convergence", "cost", "recovery"],
}


def test_both_backends_run_every_variant_and_the_report_shows_the_analysis(tmp_path):
    out = tmp_path / "run"
    result = run_benchmark(parse_spec(SPEC), yaml.safe_dump(SPEC), out, workers=1)
    assert result.counts["done"] == 4, result.counts
    with Store.open(out, readonly=True) as store:
        metrics = store.metrics_frame()
        pareto = [store.artifact_dir(n) / "pareto.csv" for n in store.cells_frame()["name"]]
    cell_level = metrics[metrics["key"] == ""].pivot_table(
        index=["model", "variant"], columns="metric", values="value"
    )
    for metric in (
        "nrmse_train",
        "nrmse_validation",
        "nrmse_test",
        "decomp_rssd",
        "adjusted_r2_train",
        "r2_test",
        "mape_lift",
    ):
        assert cell_level[metric].notna().all(), metric
    assert (cell_level["lift_tests_unscored"] == 0).all()  # total scope: every backend scores
    # Adjusted R² is below R² on the training window (p > 0 regressors).
    assert (cell_level["adjusted_r2_train"] < cell_level["r2_train"]).all()
    assert sum(p.exists() for p in pareto) == 2  # the ridge cells keep their candidates
    # Ridge has no chains: its convergence is not assessed (NaN), the Bayesian cells' is.
    converged = cell_level["converged"]
    assert converged.loc["ridge"].isna().all() and converged.loc["bayes"].notna().all()
    report = CliRunner().invoke(app, ["bench", "report", str(out)])
    assert report.exit_code == 0, report.output
    text = (out / "report.md").read_text()
    for heading in (
        "## Configurations",
        "Best variant per goal",
        "R² by split",
        "NRMSE vs DECOMP.RSSD",
        "Pareto front: small_business/ridge",
    ):
        assert heading in text, heading


def test_lift_tests_in_a_spec_are_checked_when_it_is_read():
    bad = SPEC | {
        "datasets": [
            {"preset": "small_business", "lift_tests": [{"channel": "tv", "start": "2021-01-03"}]}
        ]
    }
    with pytest.raises(SpecError, match="missing key"):
        parse_spec(bad)
