"""The report's "Accuracy and reliability" tables match values worked out by hand.

A stored run of two worlds (w1, w2) × single_hill (the reference) and mixture_k2 × seeds 0-4,
written through the store and read back from it. w2/mixture_k2/seed=4 failed; w1/mixture_k2/
seed=4 and w2/single_hill/seed=4 did not converge. Every expected number is worked out in the
comments from `TEST_RMSE` and `ELPD`. A last test fits a tiny real grid and checks the tables
against its stored metrics.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mmmlab.bench.report import accuracy
from mmmlab.bench.results.store import CellRow, Store
from mmmlab.cli import app

REF, MIX = "single_hill", "mixture_k2"
TEST_RMSE = {
    ("w1", REF): [2.0, 4.0, 6.0, 8.0, 10.0],
    ("w1", MIX): [1.0, 3.0, 5.0, 7.0, 30.0],
    ("w2", REF): [10.0, 12.0, 14.0, 16.0, 100.0],
    ("w2", MIX): [9.0, 11.0, 13.0, 40.0, None],
}
ELPD = {
    ("w1", REF): [-100.0, -102.0, -104.0, -106.0, -108.0],
    ("w1", MIX): [-90.0, -92.0, -94.0, -96.0, -5000.0],
    ("w2", REF): [-200.0, -202.0, -204.0, -206.0, -3000.0],
    ("w2", MIX): [-190.0, -192.0, -194.0, -196.0, None],
}
NOT_CONVERGED = {("w1", MIX, 4), ("w2", REF, 4)}
SPEC = "name: hill-small\nreference_model: single_hill\n"


def _store(run_dir) -> None:
    """Write the run of the module docstring: metrics per cell, delta_loo against REF."""
    with Store.open(run_dir, SPEC, name="hill-small") as store:
        names = {}
        for (world, model), values in TEST_RMSE.items():
            for seed in range(len(values)):
                names[world, model, seed] = f"{world}/{model}/seed={seed}"
        store.add_cells(
            CellRow(n, w, m, "", s, i) for i, ((w, m, s), n) in enumerate(names.items())
        )
        for (world, model, seed), name in names.items():
            store.mark_running(name)
            if TEST_RMSE[world, model][seed] is None:
                store.record_failed(name, "ValueError: boom")
                continue
            rows = [
                ("test_rmse", "", TEST_RMSE[world, model][seed]),
                ("train_rmse", "", TEST_RMSE[world, model][seed] / 2),
                ("elpd_loo", "", ELPD[world, model][seed]),
                ("effective_k", "", 1.0 if model == REF else 2.0),
                ("converged", "", float((world, model, seed) not in NOT_CONVERGED)),
                ("max_rhat", "", 1.0 + seed / 100),
            ]
            if model != REF:
                rows.append(("delta_loo", "", ELPD[world, model][seed] - ELPD[world, REF][seed]))
            store.record_done(name, rows, seconds=1.0)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("accuracy") / "run"
    _store(path)
    return path


@pytest.fixture(scope="module")
def metrics(run_dir) -> pd.DataFrame:
    with Store.open(run_dir, readonly=True) as store:
        return store.metrics_frame()


def _rows(frame: pd.DataFrame, *keys: str) -> pd.DataFrame:
    return frame.set_index(list(keys))


def test_means_by_dataset_over_all_and_converged_runs(metrics):
    means = _rows(accuracy.dataset_means(metrics), "dataset", "model")
    # The published order; test_coverage_90 is not stored here, so it has no column.
    assert list(means.columns) == [
        "n_runs",
        "elpd_loo",
        "test_rmse",
        "train_rmse",
        "effective_k",
        "delta_loo",
    ]
    # w1/mixture_k2: (1 + 3 + 5 + 7 + 30) / 5; elpd (-372 - 5000) / 5; delta (4 · 10 - 4892) / 5
    assert means.loc[("w1", MIX), "test_rmse"] == pytest.approx(46 / 5)
    assert means.loc[("w1", MIX), "elpd_loo"] == pytest.approx(-5372 / 5)
    # w2/mixture_k2 failed on seed 4: four runs, (9 + 11 + 13 + 40) / 4
    assert means.loc[("w2", MIX), "n_runs"] == 4
    assert means.loc[("w2", MIX), "test_rmse"] == pytest.approx(73 / 4)
    assert means.loc[("w2", REF), "elpd_loo"] == pytest.approx(-3812 / 5)
    assert means.loc[("w1", MIX), "n_runs"] == 5
    converged = _rows(accuracy.dataset_means(metrics, converged_only=True), "dataset", "model")
    # Without the unconverged seed 4: w1/mixture_k2 (1 + 3 + 5 + 7) / 4, w2/single_hill 52 / 4
    assert converged.loc[("w1", MIX), "n_runs"] == 4
    assert converged.loc[("w1", MIX), "test_rmse"] == pytest.approx(4.0)
    assert converged.loc[("w2", REF), "test_rmse"] == pytest.approx(13.0)
    assert converged.loc[("w2", REF), "elpd_loo"] == pytest.approx(-203.0)
    assert converged.loc[("w1", REF), "test_rmse"] == means.loc[("w1", REF), "test_rmse"]


def test_delta_loo_means_skip_the_reference(metrics):
    table = accuracy.dataset_means(metrics, converged_only=True)
    table = table.set_index(["dataset", "model"])
    # The store holds no delta_loo for the reference; w1/mixture_k2 converged: 10 each.
    assert math.isnan(table.loc[("w1", REF), "delta_loo"])
    assert table.loc[("w1", MIX), "delta_loo"] == pytest.approx(10.0)
    mean_all = accuracy.dataset_means(metrics).set_index(["dataset", "model"])
    assert mean_all.loc[("w1", MIX), "delta_loo"] == pytest.approx((40 - 4892) / 5)


def test_test_rmse_by_convergence_status(metrics):
    got = _rows(accuracy.by_convergence(metrics), "model", "convergence")
    assert list(got.index) == [
        (MIX, "converged"),
        (MIX, "not converged"),
        (REF, "converged"),
        (REF, "not converged"),
        ("all", "converged"),
        ("all", "not converged"),
    ]
    # mixture_k2 converged: 1 3 5 7 9 11 13 40; p90 at position 0.9 · 7 = 6.3: 13 + 0.3 · 27
    assert tuple(got.loc[(MIX, "converged")]) == pytest.approx((8, 89 / 8, 8, 21.1, 40))
    assert tuple(got.loc[(MIX, "not converged")]) == pytest.approx((1, 30, 30, 30, 30))
    # single_hill converged: 2 4 6 8 10 10 12 14 16; p90 at 7.2: 14 + 0.2 · 2
    assert tuple(got.loc[(REF, "converged")]) == pytest.approx((9, 82 / 9, 10, 14.4, 16))
    # all converged: 17 runs summing to 171, 9th is 9; p90 at 14.4 between 14 and 16
    assert tuple(got.loc[("all", "converged")]) == pytest.approx((17, 171 / 17, 9, 14.8, 40))
    # not converged: 30 and 100
    assert tuple(got.loc[("all", "not converged")]) == pytest.approx((2, 65, 65, 93, 100))


def test_change_against_the_reference_by_hand(metrics):
    got = accuracy.change_against(metrics, REF, "test_rmse")
    assert list(got["dataset"]) == ["all", "all", "w1", "w1", "w2", "w2"]
    assert list(got["model"]) == [REF, MIX] * 3
    got = got.set_index(["dataset", "model"])
    # Pooled single_hill: 2 4 6 8 10 10 12 14 16 100: median 10, trimmed (drop 2 and 100)
    # 80 / 8 = 10, mean 18.2. Pooled mixture_k2: 1 3 5 7 9 11 13 30 40: median 9, nine values
    # trim none, so trimmed mean = mean = 119 / 9.
    ref, mix = got.loc[("all", REF)], got.loc[("all", MIX)]
    assert (ref["n"], ref["median"], ref["trimmed mean"], ref["mean"]) == (10, 10, 10, 18.2)
    assert (ref["median %"], ref["mean %"]) == (0, 0)
    assert mix["median %"] == pytest.approx(100 * (9 - 10) / 10)
    assert mix["trimmed mean %"] == pytest.approx(100 * (119 / 9 - 10) / 10)
    assert mix["mean %"] == pytest.approx(100 * (119 / 9 - 18.2) / 18.2)
    # w2: single_hill median 14, mean 30.4; mixture_k2 9 11 13 40: median 12, mean 18.25
    w2 = got.loc[("w2", MIX)]
    assert w2["median %"] == pytest.approx(100 * (12 - 14) / 14)
    assert w2["mean %"] == pytest.approx(100 * (18.25 - 30.4) / 30.4)
    loo = accuracy.change_against(metrics, REF, "elpd_loo").set_index(["dataset", "model"])
    # Pooled elpd medians: single_hill (-108 - 200) / 2 = -154, mixture_k2 -190. A move to a
    # lower elpd is a negative change: 100 · (-190 + 154) / 154.
    assert loo.loc[("all", MIX), "median %"] == pytest.approx(100 * (-36) / 154)
    assert accuracy.change_against(metrics, "nobody", "test_rmse").empty


def test_worst_run_per_model(metrics):
    got = accuracy.worst_by_model(metrics).set_index("model")
    # Each metric names its own run: mixture_k2's largest test RMSE (40) is not its lowest elpd.
    assert got.loc[MIX].tolist() == [
        9,
        40.0,
        "w2/mixture_k2/seed=3",
        -5000.0,
        "w1/mixture_k2/seed=4",
    ]
    assert got.loc[REF].tolist() == [
        10,
        100.0,
        "w2/single_hill/seed=4",
        -3000.0,
        "w2/single_hill/seed=4",
    ]


def test_reference_comes_from_the_spec():
    assert accuracy.reference_in_spec(SPEC) == REF
    for text in (None, "", "name: x\n", "- a list\n", "key: [unclosed\n"):
        assert accuracy.reference_in_spec(text) is None, text


def _section(markdown: str) -> str:
    return markdown.split("## Accuracy and reliability", 1)[1].split("\n## ", 1)[0]


def test_bench_report_holds_the_tables(run_dir):
    result = CliRunner().invoke(app, ["bench", "report", str(run_dir)])
    assert result.exit_code == 0, result.output
    text = _section((run_dir / "report.md").read_text(encoding="utf-8"))
    headings = re.findall(r"^### (.+)$", text, flags=re.MULTILINE)
    assert headings == [
        "Means by dataset, all runs",
        "Means by dataset, converged runs",
        "test_rmse by convergence status",
        f"test_rmse against {REF}",
        f"elpd_loo against {REF}",
        "Worst run per model",
    ]
    assert "| w1 | mixture_k2 | 5 | -1074 | 9.2 | 4.6 | 2 | -970.4 |" in text
    assert "| all | mixture_k2 | 9 | 9 | -10 | 13.22 | 32.22 | 13.22 | -27.35 |" in text
    assert "| mixture_k2 | 9 | 40 | w2/mixture_k2/seed=3 | -5000 | w1/mixture_k2/seed=4 |" in text
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert '<section id="accuracy-and-reliability">' in page
    worst = (run_dir / "report.md").read_text(encoding="utf-8").split("## Worst runs by R-hat")[1]
    assert "| cell | dataset | model | seed | value | elpd_loo | test_rmse |" in worst


@pytest.mark.xdist_group("bench")
def test_a_real_hill_mixture_grid(tmp_path):
    spec = {
        "name": "hill-tiny",
        "datasets": [{"preset": "hill_single"}],
        "models": [
            {"name": REF, "backend": "hill_mixture", "params": {"kind": REF}},
            {"name": MIX, "backend": "hill_mixture", "params": {"kind": MIX}},
        ],
        "seeds": 1,
        "split": {"train": 0.75},
        "inference": {"num_warmup": 100, "num_samples": 100, "num_starts": 2},
        "convergence": {"rhat": 1.05, "ess_bulk": 50},
        "metrics": ["predictive", "loo", "convergence"],
        "reference_model": REF,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["bench", "run", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with Store.open(out, readonly=True) as store:
        table = store.metric_table().set_index("cell")
        metrics = store.metrics_frame()
    assert (table["status"] == "done").all()
    means = accuracy.dataset_means(metrics).set_index("model")
    for model in (REF, MIX):
        mine = table[table["model"] == model]
        for metric in ("test_rmse", "elpd_loo", "test_coverage_90", "effective_k"):
            assert means.loc[model, metric] == pytest.approx(mine[metric].mean()), metric
    assert np.isfinite(means.loc[MIX, "delta_loo"]) and np.isnan(means.loc[REF, "delta_loo"])
    median = table.groupby("model")["test_rmse"].median()
    change = accuracy.change_against(metrics, REF).set_index(["dataset", "model"])
    expected = 100 * (median[MIX] - median[REF]) / abs(median[REF])
    assert change.loc[("all", MIX), "median %"] == pytest.approx(expected)
    worst = accuracy.worst_by_model(metrics).set_index("model")
    assert worst.loc[MIX, "run (elpd_loo)"] == table[table["model"] == MIX]["elpd_loo"].idxmin()
    statuses = accuracy.by_convergence(metrics)
    assert statuses.loc[statuses["model"] == "all", "n"].sum() == 2
    assert "## Accuracy and reliability" in (out / "report.md").read_text(encoding="utf-8")
