"""The engine comparison view (medians over seeds, pooled coverage, ratios to mmmlab, targets,
unfinished cells with their reason), recovery scores against a real world's answer key, and
the in-sample fit metrics it shows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmmlab.bench.report import comparison, tables
from mmmlab.bench.report.document import build_sections
from mmmlab.bench.score.answer_key import recovery_metrics
from mmmlab.metrics import durbin_watson, srmse
from mmmlab.synth import simulate

# dataset -> model -> per seed (fit_s, min_ess_bulk, contribution_srmse_median)
RUNS = {
    "small": {
        "mmmlab": [(10.0, 2000.0, 0.2), (20.0, 2000.0, 0.4)],
        "pymc": [(100.0, 1000.0, 0.3), (100.0, 2000.0, 0.3)],
        "meridian": [(50.0, 500.0, 0.5), (50.0, 500.0, 0.7)],
    }
}


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    cells, rows = [], []
    for dataset, models in RUNS.items():
        for model, seeds in models.items():
            for seed, (fit_s, ess, srmse_) in enumerate(seeds):
                name = f"{dataset}/{model}/seed={seed}"
                cells.append((name, dataset, model, "", seed, "done", fit_s + 1, None))
                ident = (name, dataset, model, "", seed, "done")
                rows += [
                    (*ident, "fit_s", "", fit_s),
                    (*ident, "compile_s", "", fit_s / 2 if seed == 0 else 0.0),
                    (*ident, "sample_s", "", fit_s / 2 if seed == 0 else fit_s),
                    (*ident, "min_ess_bulk", "", ess),
                    (*ident, "ess_per_s", "", ess / fit_s),
                    (*ident, "contribution_srmse_median", "", srmse_),
                    (*ident, "roas_cover90", "tv", float(seed == 0 or model == "pymc")),
                    (*ident, "roas_cover90", "search", 1.0),
                    (*ident, "param_cover90", "geometric_alpha[tv]", 1.0),
                    (*ident, "param_cover90", "hill_slope[tv]", 0.0),
                ]
    error = "Traceback ...\nRuntimeError: timed out after 3600 s"
    cells.append(("big/pymc/seed=0", "big", "pymc", "", 0, "failed", 3600.0, error))
    for seed in (2, 0):  # one row for both, seeds in order
        cells.append((f"big/mmmlab/seed={seed}", "big", "mmmlab", "", seed, "skipped", None, None))
    frame = pd.DataFrame(cells, columns=tables.CELL_COLUMNS)
    frame["skip_reason"] = [None] * (len(frame) - 2) + ["too big"] * 2  # as the store keeps it
    return (
        frame,
        pd.DataFrame(rows, columns=tables.METRIC_COLUMNS),
    )


def test_the_engine_table_takes_medians_pools_coverage_and_divides_by_mmmlab():
    cells, metrics = _tables()
    table = comparison.engine_table(cells, metrics).set_index("model")
    assert list(table.index) == ["mmmlab", "meridian", "pymc"]  # the reference first
    assert table.loc["mmmlab", "fit s"] == 15.0
    assert table.loc["pymc", "min ESS/s"] == pytest.approx(15.0)  # median of 10 and 20
    assert table.loc["mmmlab", "min ESS/s"] == pytest.approx(150.0)  # median of 200 and 100
    assert table.loc["pymc", "mmmlab ESS/s ÷"] == pytest.approx(10.0)
    assert table.loc["meridian", "mmmlab ESS/s ÷"] == pytest.approx(15.0)
    assert table.loc["mmmlab", "ROAS cover90"] == pytest.approx(0.75)  # 3 of 4 channel × seed
    assert table.loc["pymc", "ROAS cover90"] == 1.0
    assert table.loc["mmmlab", "decay cover90"] == 1.0  # hill_slope rows are not decay
    assert np.isnan(table.loc["mmmlab", "peak GiB"])  # not recorded: shown as missing


def test_targets_compare_with_the_fastest_and_the_most_accurate_peer():
    cells, metrics = _tables()
    found = comparison.targets(comparison.engine_table(cells, metrics), "mmmlab").iloc[0]
    assert found["best peer"] == "pymc"  # 15 ESS/s against meridian's 10
    assert found["peer min ESS/s"] == pytest.approx(15.0)
    assert found["speed-up"] == pytest.approx(10.0)
    # first fits: mmmlab 2000 / (5 + 12.5) ESS/s; the best peer's is pymc's 1500 / (50 + 75)
    assert found["speed-up, first fits"] == pytest.approx((2000 / 17.5) / (1500 / 125))
    assert found["mmmlab contribution SRMSE"] == pytest.approx(0.3)
    assert found["best peer contribution SRMSE"] == pytest.approx(0.3)


def test_unfinished_cells_are_listed_with_their_reason_and_the_report_has_the_section():
    cells, metrics = _tables()
    missing = comparison.not_finished(cells)
    assert missing[["model", "status"]].values.tolist() == [
        ["mmmlab", "skipped"],
        ["pymc", "failed"],
    ]
    assert missing["reason"].tolist() == ["too big", "RuntimeError: timed out after 3600 s"]
    assert missing["seeds"].tolist() == ["0, 2", "0"]
    sections, figures = build_sections(cells, metrics)
    titles = [s.title for s in sections]
    assert titles[1] == "Engine comparison" and "engine_speed" in figures
    one_model = metrics[metrics["model"] == "mmmlab"]
    assert "Engine comparison" not in [s.title for s in build_sections(cells, one_model)[0]]


def test_recovery_scores_are_perfect_on_the_truth_and_name_channel_geo_cells():
    dataset, truth = simulate("growing_business", 0)
    train = dataset.split(train=1.0).train
    exact = np.broadcast_to(truth.contributions, (5, *truth.contributions.shape))
    spend = train.spend.sum(axis=(0, 1))
    roas = exact.sum(axis=(1, 2)) / spend
    alpha = np.asarray(truth.params["geometric_alpha"])
    draws = {"geometric_alpha": alpha + np.linspace(-0.01, 0.01, 5)[:, None]}
    found = {(m, k): v for m, k, v in recovery_metrics(exact, roas, train, truth, (draws, {}))}
    assert found[("contribution_srmse_median", "")] == pytest.approx(0.0, abs=1e-12)
    assert found[("roas_mae", "")] == pytest.approx(0.0, abs=1e-12)
    geo_keys = {k for m, k in found if m == "geo_contribution_r2"}
    assert geo_keys == {f"{c}|{g}" for c in train.channels for g in train.geos}
    assert found[("geo_contribution_r2_median", "")] == pytest.approx(1.0)
    assert found[("geometric_alpha_mae", "")] == pytest.approx(0.0, abs=1e-12)
    assert found[("geometric_alpha_cover90", "")] == 1.0
    channel = train.channels[0]
    assert found[("param_error", f"geometric_alpha[{channel}]")] == pytest.approx(0, abs=1e-12)
    # a biased estimate: double every contribution
    doubled = {(m, k): v for m, k, v in recovery_metrics(2 * exact, 2 * roas, train, truth)}
    assert doubled[("roas_coverage_90", "")] == 0.0
    assert doubled[("contribution_bias", channel)] > 0
    assert not any(m.startswith("geometric_alpha") for m, _ in doubled)  # no parameters given


def test_durbin_watson_and_srmse_on_known_residuals():
    actual = np.zeros(6)
    assert durbin_watson(actual, np.array([1, -1, 1, -1, 1, -1.0])) == pytest.approx(20 / 6)
    assert durbin_watson(actual, np.ones(6)) == 0.0
    panel = np.array([[1.0, 2.0], [1.0, 2.0]])  # (T, G): each geo's residual is constant
    assert durbin_watson(np.zeros((2, 2)), panel) == 0.0
    assert srmse(np.array([2.0, -2.0]), np.array([3.0, -1.0])) == pytest.approx(0.5)


def test_a_split_can_train_on_every_row():
    dataset, _ = simulate("small_business", 0)
    train, validation, test = dataset.split(train=1.0)
    assert train.n_time == dataset.n_time and validation is None and test is None
