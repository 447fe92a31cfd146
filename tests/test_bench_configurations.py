"""Configuration analysis: best variant per goal against the base and seed-to-seed noise,
R² by split, split gaps, metric correlation, and the trade-off and Pareto figures."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mmmlab.bench.report import configurations as cf


def _frames(gain: float, noise: float, seeds: int = 5):
    """Two variants on one dataset: 'b' lowers nrmse_test by `gain` (± `noise` per seed)."""
    rng = np.random.default_rng(0)
    cells, metrics = [], []
    position = 0
    for variant in ("a", "b"):
        for seed in range(seeds):
            name = f"d/m[{variant}]/seed={seed}"
            cells.append(
                {
                    "name": name,
                    "dataset": "d",
                    "model": "m",
                    "variant": variant,
                    "seed": seed,
                    "status": "done",
                    "seconds": 1.0,
                    "error": None,
                    "position": position,
                }
            )
            position += 1
            base = 0.2 + 0.05 * seed  # seeds differ a lot; pairing removes it
            value = base - (gain + noise * rng.standard_normal() if variant == "b" else 0.0)
            for metric, v in {
                "nrmse_test": value,
                "nrmse_train": value * 0.8,
                "nrmse_validation": value * 0.9,
                "r2_train": 0.9,
                "r2_test": 1 - value,
                "decomp_rssd": 0.1 + 0.01 * seed,
                "converged": 1.0,
            }.items():
                metrics.append(
                    {
                        "cell": name,
                        "dataset": "d",
                        "model": "m",
                        "variant": variant,
                        "seed": seed,
                        "status": "done",
                        "metric": metric,
                        "key": "",
                        "value": v,
                    }
                )
    return pd.DataFrame(cells), pd.DataFrame(metrics)


def test_a_consistent_gain_beats_seed_noise_and_a_noisy_one_does_not():
    cells, metrics = _frames(gain=0.02, noise=0.002)
    assert cf.base_variant(cells) == "a"
    best = cf.best_variant(cells, metrics).set_index("metric")
    row = best.loc["nrmse_test"]
    assert row["best_variant"] == "b"
    assert np.isclose(row["gain_vs_base"], 0.02, atol=0.005)
    assert row["paired_n"] == 5 and row["beats_seed_noise"]
    # The same mean gain with noise ten times the gain: not distinguishable from seed noise.
    cells, metrics = _frames(gain=0.002, noise=0.05)
    row = cf.best_variant(cells, metrics).set_index("metric").loc["nrmse_test"]
    assert not row["beats_seed_noise"]
    # decomp_rssd is equal for both variants: the base is (one of) the best, no gain.
    assert (
        cf.best_variant(cells, metrics).set_index("metric").loc["decomp_rssd", "gain_vs_base"] == 0
    )


def test_split_tables_and_correlation():
    cells, metrics = _frames(gain=0.02, noise=0.002)
    r2 = cf.r2_by_split(metrics)
    assert list(r2.columns) == ["model", "variant", "r2_train", "r2_test"]
    gap = cf.split_gap(metrics).set_index("variant")
    np.testing.assert_allclose(
        gap["gap_train_to_validation"], gap["nrmse_validation"] - gap["nrmse_train"]
    )
    corr = cf.metric_correlation(metrics).set_index("metric")
    assert corr.loc["nrmse_test", "r2_test"] == -1.0  # r2_test = 1 - nrmse_test here
    assert "converged" not in corr.columns


def test_figures():
    _, metrics = _frames(gain=0.02, noise=0.002)
    assert cf.tradeoff_figure(metrics) is not None
    pareto = pd.DataFrame(
        {
            "nrmse": [0.1, 0.2, 0.3, 0.15],
            "decomp_rssd": [0.3, 0.1, 0.4, 0.35],
            "front": [1, 1, 0, 2],
            "chosen": [False, True, False, False],
        }
    )
    assert cf.pareto_figure(pareto, "cell") is not None
    assert cf.pareto_figure(pareto.drop(columns="front"), "cell") is None
