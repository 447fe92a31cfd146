"""Benchmark summaries match values computed by hand on a small fixed table.

The table: datasets A and B, models m1 and m2, seeds 0-2 (12 cells), base variant only.
B/m2/seed=2 failed (its stray test_rmse of 999 must be ignored), A/m2/seed=2 has a NaN
test_rmse, B/m1/seed=2 did not converge. Every expected number below is worked out in the
comments from the values in ``TEST_RMSE``, ``ELPD`` and ``RHAT``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mmmlab.bench.report import summary
from mmmlab.bench.report.tables import CELL_COLUMNS, ID_COLUMNS, METRIC_COLUMNS, wide

NAN = float("nan")
# (dataset, model) -> values for seeds 0, 1, 2; None marks the failed cell.
TEST_RMSE = {
    ("A", "m1"): [1.0, 2.0, 3.0],
    ("A", "m2"): [4.0, 5.0, NAN],
    ("B", "m1"): [10.0, 20.0, 30.0],
    ("B", "m2"): [6.0, 100.0, None],
}
ELPD = {
    ("A", "m1"): [-100.0, -110.0, -120.0],
    ("A", "m2"): [-90.0, -95.0, -3000.0],
    ("B", "m1"): [-200.0, -210.0, -5000.0],
    ("B", "m2"): [-150.0, -260.0, None],
}
RHAT = {
    ("A", "m1"): [1.00, 1.01, 1.02],
    ("A", "m2"): [1.00, 1.00, 1.05],
    ("B", "m1"): [1.01, 1.00, 1.35],
    ("B", "m2"): [1.00, 1.03, None],
}
FAILED = ("B", "m2", 2)
NOT_CONVERGED = ("B", "m1", 2)


def _name(dataset: str, model: str, seed: int) -> str:
    return f"{dataset}/{model}/seed={seed}"


def fixed_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (cells, metrics) pair described in the module docstring."""
    cells, rows = [], []
    for (dataset, model), values in TEST_RMSE.items():
        for seed in range(3):
            name = _name(dataset, model, seed)
            failed = (dataset, model, seed) == FAILED
            status = "failed" if failed else "done"
            error = (
                "Traceback (most recent call last):\n  ...\nValueError: boom" if failed else None
            )
            cells.append((name, dataset, model, "", seed, status, 10.0 * (seed + 1), error))
            ident = (name, dataset, model, "", seed, status)
            if failed:
                rows.append((*ident, "test_rmse", "", 999.0))
                continue
            converged = 0.0 if (dataset, model, seed) == NOT_CONVERGED else 1.0
            rows += [
                (*ident, "test_rmse", "", values[seed]),
                (*ident, "elpd_loo", "", ELPD[dataset, model][seed]),
                (*ident, "max_rhat", "", RHAT[dataset, model][seed]),
                (*ident, "converged", "", converged),
                (*ident, "roas", "tv", 2.0 + seed),
                (*ident, "roas_true", "tv", 2.5),
            ]
    return (
        pd.DataFrame(cells, columns=CELL_COLUMNS),
        pd.DataFrame(rows, columns=METRIC_COLUMNS),
    )


@pytest.fixture
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    return fixed_tables()


def test_wide_has_one_row_per_cell_and_only_cell_level_metrics(tables):
    _, metrics = tables
    table = wide(metrics)
    assert len(table) == 12
    assert list(table.columns) == [
        *ID_COLUMNS,
        "converged",
        "elpd_loo",
        "max_rhat",
        "test_rmse",
    ]
    row = table.set_index("cell").loc["B/m1/seed=2"]
    assert (row["converged"], row["test_rmse"], row["elpd_loo"]) == (0.0, 30.0, -5000.0)
    assert math.isnan(table.set_index("cell").loc["B/m2/seed=2", "converged"])


def test_convergence_rate_by_model(tables):
    _, metrics = tables
    got = summary.convergence_rate(metrics)
    # m1: 6 done, B/m1/seed=2 not converged; m2: 5 done (one failed), all converged.
    expected = pd.DataFrame(
        {
            "model": ["m1", "m2"],
            "n_done": [6, 5],
            "n_assessed": [6, 5],
            "n_converged": [5, 5],
            "rate": [5 / 6, 1.0],  # no divergences recorded: no column for them
        }
    )
    pd.testing.assert_frame_equal(got, expected)


def test_convergence_rate_counts_converged_cells_that_diverged(tables):
    """A cell can pass R-hat and ESS yet have divergent transitions: the convergence table
    says how many of the converged cells did."""
    _, metrics = tables
    diverged = {"A/m1/seed=0": 12.0, "B/m1/seed=2": 3.0}  # converged; not converged
    extra = metrics[metrics["metric"] == "converged"].assign(metric="divergences")
    extra["value"] = [diverged.get(c, 0.0) for c in extra["cell"]]
    got = summary.convergence_rate(pd.concat([metrics, extra], ignore_index=True))
    assert got.set_index("model")["n_converged_divergent"].to_dict() == {"m1": 1, "m2": 0}


def test_describe_overall_matches_hand_computation(tables):
    _, metrics = tables
    got = summary.describe(metrics, "test_rmse", by=()).iloc[0]
    # Ten values once the failed cell and the NaN are dropped, sorted:
    # 1 2 3 4 5 6 10 20 30 100, sum 181.
    assert got["n"] == 10 and got["n_missing"] == 1
    assert got["mean"] == pytest.approx(18.1)
    # Converged runs drop the 30 of B/m1/seed=2: 151 / 9.
    assert got["mean_converged"] == pytest.approx(151 / 9)
    assert got["median"] == pytest.approx((5 + 6) / 2)
    assert got["p50"] == pytest.approx(5.5)
    # 10% trimmed from each tail of ten values drops 1 and 100: (181 - 101) / 8.
    assert got["trimmed_mean"] == pytest.approx(80 / 8)
    # Sum of squares 11491; minus n * mean^2 = 3276.1 gives 8214.9 over n - 1 = 9.
    assert got["sd"] == pytest.approx(math.sqrt(8214.9 / 9))
    # Linear quantiles at position q * (n - 1) between the 9th (30) and 10th (100) values.
    assert got["p90"] == pytest.approx(30 + 0.1 * 70)
    assert got["p95"] == pytest.approx(30 + 0.55 * 70)
    assert got["p99"] == pytest.approx(30 + 0.91 * 70)
    assert (got["max"], got["min"]) == (100.0, 1.0)


def test_describe_by_model_and_converged_only(tables):
    _, metrics = tables
    got = summary.describe(metrics, "test_rmse").set_index("model")
    # m1: 1 2 3 10 20 30, mean 66 / 6 = 11; trimming int(0.1 * 6) = 0 values leaves the mean.
    assert got.loc["m1", "n"] == 6
    assert got.loc["m1", "mean"] == pytest.approx(11.0)
    assert got.loc["m1", "trimmed_mean"] == pytest.approx(11.0)
    assert got.loc["m1", "median"] == pytest.approx(6.5)
    assert got.loc["m1", "mean_converged"] == pytest.approx(36 / 5)
    assert got.loc["m1", "p90"] == pytest.approx(20 + 0.5 * 10)
    # m2: 4 5 6 100 (the NaN is missing, the failed 999 ignored).
    assert (got.loc["m2", "n"], got.loc["m2", "n_missing"]) == (4, 1)
    assert got.loc["m2", "mean"] == pytest.approx(115 / 4)
    assert got.loc["m2", "mean_converged"] == pytest.approx(115 / 4)
    assert got.loc["m2", "p90"] == pytest.approx(6 + 0.7 * 94)
    assert got.loc["m2", "max"] == 100.0
    only = summary.describe(metrics, "test_rmse", converged_only=True).set_index("model")
    assert only.loc["m1", "n"] == 5
    assert only.loc["m1", "mean"] == pytest.approx(36 / 5)


def test_describe_all_stacks_present_metrics_key_metrics_first(tables):
    _, metrics = tables
    got = summary.describe_all(metrics)
    assert list(got["metric"].unique()) == ["test_rmse", "elpd_loo", "max_rhat", "converged"]
    assert list(got.columns) == ["metric", "model", *summary.DESCRIBE_COLUMNS]
    elpd = got[got["metric"] == "elpd_loo"].set_index("model")
    # m2 elpd: -90 -95 -3000 -150 -260, mean -3595 / 5.
    assert elpd.loc["m2", "mean"] == pytest.approx(-719.0)
    chosen = summary.describe_all(metrics, ["sample_s", "elpd_loo"])
    assert list(chosen["metric"].unique()) == ["elpd_loo"]


def test_catastrophic_default_and_custom_rules(tables):
    _, metrics = tables
    got = summary.catastrophic(metrics)
    # elpd_loo < -2000: A/m2/seed=2 (-3000) and B/m1/seed=2 (-5000).
    expected = pd.DataFrame(
        {
            "dataset": ["A", "A", "B", "B"],
            "model": ["m1", "m2", "m1", "m2"],
            "n_runs": [3, 3, 3, 2],
            "elpd_loo < -2000": [0, 1, 1, 0],
            "n_any": [0, 1, 1, 0],
        }
    )
    pd.testing.assert_frame_equal(got, expected)
    rules = {"elpd_loo": ("<", -2000), "test_rmse": (">", 50), "sample_s": (">", 1)}
    custom = summary.catastrophic(metrics, rules, by=("model",))
    # test_rmse > 50: only B/m2/seed=1 (100); the failed cell's 999 does not count.
    assert list(custom.columns) == [
        "model",
        "n_runs",
        "elpd_loo < -2000",
        "test_rmse > 50",
        "n_any",
    ]
    assert custom["test_rmse > 50"].tolist() == [0, 1]
    assert custom["n_any"].tolist() == [1, 2]
    with pytest.raises(ValueError, match="operator one of"):
        summary.catastrophic(metrics, {"elpd_loo": ("!=", 0)})


def test_winners_on_test_rmse(tables):
    _, metrics = tables
    got = summary.winners(metrics, "test_rmse")
    # A: m1 beats m2 on seeds 0, 1 and alone has a value on seed 2.
    # B: m2 wins seed 0 (6 < 10), m1 seed 1 (20 < 100) and seed 2 (m2 failed), unconverged.
    assert got["model"].tolist() == ["m1", "m1", "m1", "m2", "m1", "m1"]
    assert got["value"].tolist() == [1.0, 2.0, 3.0, 6.0, 20.0, 30.0]
    assert got["converged"].tolist() == [1.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    assert got["n_models"].tolist() == [2, 2, 1, 2, 2, 1]
    counts = summary.winner_counts(metrics, "test_rmse")
    expected = pd.DataFrame(
        {"model": ["m1", "m2"], "n_wins": [5, 1], "n_wins_not_converged": [1, 0]}
    )
    pd.testing.assert_frame_equal(counts, expected)


def test_winners_on_loo_higher_is_better(tables):
    _, metrics = tables
    got = summary.winners(metrics, "elpd_loo", lower_is_better=False)
    # A: -90 > -100, -95 > -110, -120 > -3000; B: -150 > -200, -210 > -260, -5000 alone.
    assert got["model"].tolist() == ["m2", "m2", "m1", "m2", "m1", "m1"]
    counts = summary.winner_counts(metrics, "elpd_loo", lower_is_better=False)
    expected = pd.DataFrame(
        {"model": ["m1", "m2"], "n_wins": [3, 3], "n_wins_not_converged": [1, 0]}
    )
    pd.testing.assert_frame_equal(counts, expected)


def test_best_by_dataset(tables):
    _, metrics = tables
    rmse = summary.best_by_dataset(metrics, "test_rmse", lower_is_better=True)
    # A: median m1 = 2, m2 = (4 + 5) / 2 = 4.5; B: m1 = 20, m2 = (6 + 100) / 2 = 53.
    assert rmse["model"].tolist() == ["m1", "m1"]
    assert rmse["median"].tolist() == [2.0, 20.0]
    assert rmse["n_seeds"].tolist() == [3, 3]
    loo = summary.best_by_dataset(metrics, "elpd_loo", lower_is_better=False)
    # A: m1 = -110, m2 = -95; B: m1 = -210, m2 = (-150 - 260) / 2 = -205.
    assert loo["model"].tolist() == ["m2", "m2"]
    assert loo["median"].tolist() == [-95.0, -205.0]


def test_worst_runs_by_rhat(tables):
    _, metrics = tables
    got = summary.worst_runs(metrics, "max_rhat", n=3)
    assert got["cell"].tolist() == ["B/m1/seed=2", "A/m2/seed=2", "B/m2/seed=1"]
    assert got["value"].tolist() == [1.35, 1.05, 1.03]
    best = summary.worst_runs(metrics, "test_rmse", n=1, ascending=True)
    assert best["cell"].tolist() == ["A/m1/seed=0"]
    # Beside each run: the recorded metrics asked for (min_ess_bulk is not; max_rhat is `value`).
    wider = summary.worst_runs(
        metrics, "max_rhat", n=2, also=("min_ess_bulk", "elpd_loo", "max_rhat")
    )
    assert list(wider.columns) == [
        "cell",
        "dataset",
        "model",
        "variant",
        "seed",
        "value",
        "elpd_loo",
    ]
    assert wider["elpd_loo"].tolist() == [-5000.0, -3000.0]
    assert list(summary.summarize(*tables)["worst_rhat"].columns[-3:]) == [
        "value",
        "elpd_loo",
        "test_rmse",
    ]


def test_status_counts_and_failures(tables):
    cells, _ = tables
    got = summary.status_counts(cells)
    assert got["done"].tolist() == [6, 5]
    assert got["failed"].tolist() == [0, 1]
    assert got["skipped"].tolist() == [0, 0]
    assert got["total"].tolist() == [6, 6]
    overall = summary.status_counts(cells, by=())
    assert (overall.loc[0, "done"], overall.loc[0, "failed"], overall.loc[0, "total"]) == (
        11,
        1,
        12,
    )
    fails = summary.failures(cells)
    assert fails.to_dict("records") == [
        {"name": "B/m2/seed=2", "model": "m2", "error": "ValueError: boom"}
    ]


def test_first_error_line():
    assert summary.first_error_line("\n  KeyError: 'tv'\n  more") == "KeyError: 'tv'"
    assert summary.first_error_line(None) == ""
    assert summary.first_error_line("Traceback (x):\n  f()\nOSError: gone\n") == "OSError: gone"


def test_summarize_keys_and_missing_data(tables):
    cells, metrics = tables
    out = summary.summarize(cells, metrics)
    assert list(out) == [
        "status",
        "convergence",
        "describe",
        "catastrophic",
        "winners_rmse",
        "winners_loo",
        "best_rmse",
        "best_loo",
        "worst_rhat",
        "failures",
    ]
    assert out["winners_rmse"]["n_wins"].tolist() == [5, 1]
    # Only test_rmse present: the LOO and R-hat tables are empty, not errors.
    sparse = summary.summarize(cells, metrics[metrics["metric"] == "test_rmse"])
    for key in ("winners_loo", "best_loo", "worst_rhat", "catastrophic"):
        assert sparse[key].empty, key
    assert np.isnan(sparse["convergence"]["rate"]).all()
    empty = summary.summarize(cells.iloc[:0], metrics.iloc[:0])
    assert all(frame.empty for frame in empty.values())


def test_missing_column_names_the_column(tables):
    _, metrics = tables
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['value'\]"):
        wide(metrics.drop(columns="value"))
