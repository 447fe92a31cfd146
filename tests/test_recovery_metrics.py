"""Recovery metrics and simulation-based calibration against hand-computed values."""

import numpy as np
import pytest

from mmmlab.metrics import (
    central_interval,
    contribution_recovery,
    contribution_recovery_table,
    covers,
    parameter_recovery,
    plot_rank_histograms,
    rank_histogram,
    roas_recovery,
    sbc_rank,
    sbc_summary,
    thin,
    uniformity_test,
)

# NaN results must come from explicit handling, never from a 0/0 warning.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

DRAWS_0_99 = np.arange(100.0)  # quantile q of 0..99 is 99 q with linear interpolation


# ---------------------------------------------------------------------------- intervals
def test_central_interval_of_0_to_99():
    lo, hi = central_interval(DRAWS_0_99, 0.9)
    assert (lo, hi) == pytest.approx((4.95, 94.05))
    lo, hi = central_interval(DRAWS_0_99, 0.5)
    assert (lo, hi) == pytest.approx((24.75, 74.25))


def test_central_interval_axis():
    draws = np.stack([DRAWS_0_99, 2 * DRAWS_0_99])  # (2, S): draws on axis 1
    lo, hi = central_interval(draws, 0.9, axis=1)
    np.testing.assert_allclose(lo, [4.95, 9.9])
    np.testing.assert_allclose(hi, [94.05, 188.1])


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 21, 100, 4000])
@pytest.mark.parametrize("prob", [0.5, 0.9, 0.99])
def test_central_interval_is_numpys_quantile(n, prob):
    """Two single-rank partitions give np.quantile's values exactly: ties, NaN, any axis."""
    rng = np.random.default_rng(n)
    draws = rng.standard_normal((n, 4, 3))
    draws[:, 0, 0] = 7.0  # all tied
    draws[:, 1, 1] = np.round(draws[:, 1, 1])  # many ties
    if n > 1:
        draws[n // 2, 2, 2] = np.nan  # one NaN: the interval is NaN, as np.quantile's
    qs = [(1.0 - prob) / 2.0, (1.0 + prob) / 2.0]
    for axis, x in ((0, draws), (-1, np.moveaxis(draws, 0, -1)), (1, np.swapaxes(draws, 0, 1))):
        want = np.quantile(x, qs, axis=axis)
        got = central_interval(x, prob, axis=axis)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    lo, hi = central_interval(draws[:, 3, 0], prob)  # one series: scalars, as np.quantile's
    assert (lo, hi) == tuple(np.quantile(draws[:, 3, 0], qs))
    assert np.ndim(lo) == 0


@pytest.mark.parametrize("prob", [0.0, 1.0, 1.5])
def test_central_interval_rejects_bad_prob(prob):
    with pytest.raises(ValueError, match="prob"):
        central_interval(DRAWS_0_99, prob)


def test_covers_is_inclusive_and_broadcasts():
    truth = np.array([4.9, 4.95, 50.0, 94.05, 94.1])
    np.testing.assert_array_equal(covers(DRAWS_0_99, truth, 0.9), [False, True, True, True, False])
    np.testing.assert_array_equal(
        covers(DRAWS_0_99, [24.0, 24.75, 74.25, 75.0], 0.5), [False, True, True, False]
    )
    draws = np.stack([DRAWS_0_99, DRAWS_0_99 + 100], axis=1)  # (S, 2)
    np.testing.assert_array_equal(covers(draws, 60.0, 0.9), [True, False])
    assert covers(draws, [[60.0, 160.0], [0.0, 0.0]], 0.9).shape == (2, 2)


# ---------------------------------------------------------------------------- parameters
def test_parameter_recovery_by_hand():
    draws = {"trend_slope": np.array([1.0, 2.0, 3.0, 4.0])}
    row = parameter_recovery(draws, {"trend_slope": np.array(2.0)}).iloc[0]
    assert row["parameter"] == "trend_slope"
    assert row["truth"] == 2.0
    assert row["mean"] == pytest.approx(2.5)
    assert row["median"] == pytest.approx(2.5)
    assert row["sd"] == pytest.approx(np.sqrt(1.25))  # ddof=0
    assert row["bias"] == pytest.approx(0.5)
    assert row["rel_bias"] == pytest.approx(0.25)
    assert row["rmse"] == pytest.approx(np.sqrt((1 + 0 + 1 + 4) / 4))
    assert row["rmse"] ** 2 == pytest.approx(row["bias"] ** 2 + row["sd"] ** 2)
    assert (row["lo90"], row["hi90"]) == pytest.approx((1.15, 3.85))
    assert row["cover50"] and row["cover90"]  # 50% interval is [1.75, 3.25]
    assert row["z"] == pytest.approx(0.5 / np.sqrt(1.25))


def test_parameter_recovery_labels_order_and_selection():
    rng = np.random.default_rng(1)
    draws = {
        "sigma": rng.normal(size=(50, 2)),
        "geometric_alpha": rng.uniform(size=(50, 2)),
        "trend_slope": rng.normal(size=50),
        "effect": rng.normal(size=(50, 2, 2)),
        "only_in_draws": rng.normal(size=50),
    }
    truth = {
        "sigma": np.ones(2),
        "geometric_alpha": np.full(2, 0.5),
        "trend_slope": np.array(0.1),
        "effect": np.zeros((2, 2)),
        "only_in_truth": np.array(3.0),
    }
    labels = {
        "geometric_alpha": [["tv", "search"]],
        "effect": [["tv", "search"], ["geo_a", "geo_b"]],
    }
    table = parameter_recovery(draws, truth, labels)
    assert table["parameter"].tolist() == [
        "effect[tv,geo_a]",
        "effect[tv,geo_b]",
        "effect[search,geo_a]",
        "effect[search,geo_b]",
        "geometric_alpha[tv]",
        "geometric_alpha[search]",
        "sigma[0]",
        "sigma[1]",
        "trend_slope",
    ]
    assert table.columns.tolist() == [
        "parameter",
        "truth",
        "mean",
        "median",
        "sd",
        "bias",
        "rel_bias",
        "rmse",
        "lo90",
        "hi90",
        "cover50",
        "cover90",
        "z",
    ]
    # Rows follow C order: effect[search,geo_a] is element (1, 0).
    assert table["mean"].iloc[2] == pytest.approx(draws["effect"][:, 1, 0].mean())
    assert table["mean"].iloc[7] == pytest.approx(draws["sigma"][:, 1].mean())
    assert table["cover90"].dtype == bool


def test_parameter_recovery_shape_mismatch_names_parameter_and_shapes():
    draws = {"sigma": np.zeros((10, 3))}
    with pytest.raises(ValueError, match=r"'sigma'.*\(10, 3\).*\(3,\).*\(2,\)"):
        parameter_recovery(draws, {"sigma": np.zeros(2)})


def test_parameter_recovery_labels_must_fit_shape():
    with pytest.raises(ValueError, match="labels\\['beta'\\]"):
        parameter_recovery({"beta": np.zeros((5, 2))}, {"beta": np.zeros(2)}, {"beta": [["tv"]]})


def test_parameter_recovery_zero_truth_and_zero_sd_give_nan():
    draws = {"a": np.array([1.0, 3.0]), "b": np.full(4, 2.0)}
    table = parameter_recovery(draws, {"a": np.array(0.0), "b": np.array(1.0)})
    a, b = table.iloc[0], table.iloc[1]
    assert a["bias"] == pytest.approx(2.0) and np.isnan(a["rel_bias"])
    assert a["z"] == pytest.approx(2.0)  # sd of {1, 3} is 1
    assert b["sd"] == 0.0 and np.isnan(b["z"])
    assert b["rel_bias"] == pytest.approx(1.0)
    assert not b["cover90"]


def test_parameter_recovery_nothing_in_common_is_empty():
    table = parameter_recovery({"a": np.zeros(3)}, {"b": np.array(0.0)})
    assert table.empty and "rmse" in table.columns


# ---------------------------------------------------------------------------- roas
def test_roas_recovery_by_hand():
    draws = np.stack([DRAWS_0_99 / 10, np.full(100, 2.0), DRAWS_0_99], axis=1)  # (100, 3)
    table = roas_recovery(draws, np.array([5.0, 0.0, 100.0]), ["tv", "search", "radio"])
    assert table["channel"].tolist() == ["tv", "search", "radio"]
    np.testing.assert_allclose(table["mean"], [4.95, 2.0, 49.5])
    np.testing.assert_allclose(table["error"], [-0.05, 2.0, -50.5])
    np.testing.assert_allclose(table["abs_error"], [0.05, 2.0, 50.5])
    np.testing.assert_allclose(table["rel_error"], [-0.01, np.nan, -0.505])
    np.testing.assert_allclose(table["lo90"], [0.495, 2.0, 4.95])
    assert table["cover90"].tolist() == [True, False, False]
    assert table["cover50"].tolist() == [True, False, False]


def test_roas_recovery_checks_shapes():
    with pytest.raises(ValueError, match="2 channels"):
        roas_recovery(np.zeros((10, 3)), np.zeros(3), ["tv", "search"])


# ---------------------------------------------------------------------------- contributions
def test_contribution_recovery_by_hand():
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    out = contribution_recovery(np.full(4, 2.0), truth)
    # error = [1, 0, -1, -2]; SSE = 6; SST = 5; mean |truth| = 2.5
    assert out["bias"] == pytest.approx(-0.5)
    assert out["rel_bias"] == pytest.approx(-2.0 / 10.0)
    assert out["rmse"] == pytest.approx(np.sqrt(1.5))
    assert out["srmse"] == pytest.approx(np.sqrt(1.5) / 2.5)
    assert out["r2"] == pytest.approx(1 - 6 / 5)


def test_contribution_recovery_perfect_and_mean_estimates():
    truth = np.random.default_rng(2).gamma(2.0, size=(20, 2, 3))  # (T, G, C)
    perfect = contribution_recovery(truth, truth)
    assert set(perfect) == {"bias", "rel_bias", "rmse", "srmse", "r2"}
    for key in perfect:
        assert perfect[key].shape == (2, 3)
    np.testing.assert_allclose(perfect["r2"], 1.0)
    np.testing.assert_allclose(perfect["rmse"], 0.0)
    np.testing.assert_allclose(perfect["srmse"], 0.0)
    flat = contribution_recovery(np.broadcast_to(truth.mean(axis=0), truth.shape), truth)
    np.testing.assert_allclose(flat["r2"], 0.0, atol=1e-12)
    np.testing.assert_allclose(flat["bias"], 0.0, atol=1e-12)


def test_contribution_recovery_axis_and_posterior_draws():
    rng = np.random.default_rng(3)
    truth = rng.gamma(2.0, size=(20, 3))  # (T, C)
    draws = truth + rng.normal(size=(7, 20, 3))  # (S, T, C)
    from_draws = contribution_recovery(draws, truth)
    from_mean = contribution_recovery(draws.mean(axis=0), truth)
    time_last = contribution_recovery(draws.mean(axis=0).T, truth.T, axis=1)
    for key in from_mean:
        np.testing.assert_allclose(from_draws[key], from_mean[key])
        np.testing.assert_allclose(time_last[key], from_mean[key])


def test_contribution_recovery_zero_truth_gives_nan():
    out = contribution_recovery(np.array([[0.0, 1.0], [0.0, 2.0]]), np.zeros((2, 2)))
    np.testing.assert_allclose(out["bias"], [0.0, 1.5])
    np.testing.assert_allclose(out["rmse"], [0.0, np.sqrt(2.5)])
    for key in ("rel_bias", "srmse", "r2"):
        assert np.isnan(out[key]).all()


def test_contribution_recovery_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(3, 4\)"):
        contribution_recovery(np.zeros((3, 2)), np.zeros((3, 4)))


def test_contribution_recovery_table():
    rng = np.random.default_rng(4)
    truth = rng.gamma(2.0, size=(12, 2, 3))  # (T, G, C)
    noise = rng.normal(scale=0.1, size=(5, 12, 2, 3))
    estimate = truth * 1.1 + noise - noise.mean(axis=0)  # (S, T, G, C), posterior mean 1.1 truth
    channels, geos = ["tv", "search", "radio"], ["north", "south"]
    table = contribution_recovery_table(estimate, truth, channels, geos)
    assert table.columns.tolist() == ["geo", "channel", "bias", "rel_bias", "rmse", "srmse", "r2"]
    assert table["geo"].tolist() == ["north"] * 3 + ["south"] * 3 + ["all"] * 3
    assert table["channel"].tolist() == channels * 3
    per_geo = contribution_recovery(estimate, truth)
    south_search = table.iloc[4]
    for key in per_geo:
        assert south_search[key] == pytest.approx(per_geo[key][1, 1])
    national = contribution_recovery(estimate.mean(axis=0).sum(axis=1), truth.sum(axis=1))
    for key in national:
        np.testing.assert_allclose(table[key].iloc[6:], national[key])
    np.testing.assert_allclose(table["rel_bias"], 0.1)  # 10% high everywhere, nationally too


def test_contribution_recovery_table_checks_labels():
    with pytest.raises(ValueError, match="G=3 geos"):
        contribution_recovery_table(np.zeros((4, 2, 1)), np.zeros((4, 2, 1)), ["tv"], "abc")


# ---------------------------------------------------------------------------- sbc basics
def test_sbc_rank_counts_draws_strictly_below():
    posterior = np.arange(10.0)
    assert sbc_rank(4.5, posterior) == 5
    assert sbc_rank(-1.0, posterior) == 0
    assert sbc_rank(99.0, posterior) == 10
    # Draws on axis 1, one prior draw per row.
    posterior = np.stack([np.arange(10.0), np.arange(10.0) + 100])
    np.testing.assert_array_equal(sbc_rank(np.array([2.5, 102.5]), posterior, axis=1), [3, 3])
    assert sbc_rank(np.array([2.5, 102.5]), posterior, axis=1).dtype.kind == "i"


def test_sbc_rank_breaks_ties_uniformly_and_deterministically():
    # Every draw ties the prior draw: ranks should be uniform on 0..L.
    num_draws, n = 9, 20_000
    ranks = sbc_rank(np.ones(n), np.ones((num_draws, n)))
    assert ranks.min() == 0 and ranks.max() == num_draws
    counts = np.bincount(ranks, minlength=num_draws + 1)
    np.testing.assert_allclose(counts / n, 0.1, atol=0.015)
    np.testing.assert_array_equal(ranks, sbc_rank(np.ones(n), np.ones((num_draws, n))))
    other = sbc_rank(np.ones(n), np.ones((num_draws, n)), rng=np.random.default_rng(7))
    assert not np.array_equal(ranks, other)
    # Two below, three tied: ranks 2..5.
    posterior = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 2.0])[:, None] * np.ones(1000)
    ranks = sbc_rank(1.0, posterior)
    assert set(np.unique(ranks)) == {2, 3, 4, 5}


def test_thin():
    np.testing.assert_array_equal(thin(np.arange(10), 5), [0, 2, 4, 6, 8])
    np.testing.assert_array_equal(thin(np.arange(10), 3), [0, 3, 6])
    np.testing.assert_array_equal(thin(np.arange(10), 10), np.arange(10))
    draws = np.arange(20).reshape(2, 10)
    np.testing.assert_array_equal(thin(draws, 2, axis=1), [[0, 5], [10, 15]])
    with pytest.raises(ValueError, match="cannot thin 10 draws"):
        thin(np.arange(10), 11)


def test_rank_histogram_counts():
    ranks = np.array([0, 4, 5, 9, 9, 0, 7])
    np.testing.assert_array_equal(rank_histogram(ranks, 9, 2), [3, 4])  # bins 0..4, 5..9
    np.testing.assert_array_equal(rank_histogram(ranks, 9, 10), [2, 0, 0, 0, 1, 1, 0, 1, 0, 2])
    ranks = np.random.default_rng(5).integers(0, 100, size=321)
    counts = rank_histogram(ranks, 99, 20)
    assert counts.shape == (20,) and counts.sum() == 321


def test_rank_histogram_rejects_bad_bins_and_ranks():
    with pytest.raises(ValueError, match=r"one of \[1, 2, 4, 5, 10, 20, 25, 50, 100\]"):
        rank_histogram(np.zeros(5, int), 99, 30)
    with pytest.raises(ValueError, match="0..9"):
        rank_histogram(np.array([0, 10]), 9, 10)


# ---------------------------------------------------------------------------- sbc end to end
NUM_SIMS, NUM_OBS, NUM_DRAWS, NUM_BINS = 500, 10, 99, 20


def normal_normal_ranks(sd_scale=1.0, shift_sds=0.0, seed=0):
    """SBC ranks of mu ~ N(0, 1), y_i ~ N(mu, 1) under an exact or a distorted posterior.

    The exact posterior is N(sum(y) / (n + 1), 1 / (n + 1)); `sd_scale` narrows it and
    `shift_sds` moves it by that many posterior sds.
    """
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=NUM_SIMS)
    y = rng.normal(mu[:, None], 1.0, size=(NUM_SIMS, NUM_OBS))
    post_mean = y.sum(axis=1) / (NUM_OBS + 1)
    post_sd = np.sqrt(1.0 / (NUM_OBS + 1))
    draws = rng.normal(
        post_mean + shift_sds * post_sd, sd_scale * post_sd, size=(NUM_DRAWS, NUM_SIMS)
    )
    return sbc_rank(mu, draws, axis=0, rng=rng)


def test_sbc_calibrated_posterior_is_not_rejected():
    ranks = normal_normal_ranks()
    assert ranks.shape == (NUM_SIMS,)
    stat, p_value = uniformity_test(ranks, NUM_DRAWS, NUM_BINS)
    assert p_value > 0.01
    assert stat == pytest.approx(np.sum((rank_histogram(ranks, 99, 20) - 25) ** 2 / 25))
    assert abs(ranks.mean() / NUM_DRAWS - 0.5) < 0.05


@pytest.mark.parametrize(("sd_scale", "shift_sds"), [(0.3, 0.0), (1.0, 1.0)])
def test_sbc_miscalibrated_posterior_is_rejected(sd_scale, shift_sds):
    ranks = normal_normal_ranks(sd_scale=sd_scale, shift_sds=shift_sds)
    _, p_value = uniformity_test(ranks, NUM_DRAWS, NUM_BINS)
    assert p_value < 1e-4


def test_sbc_summary():
    ranks = {
        "mu": normal_normal_ranks(),
        "mu_narrow": normal_normal_ranks(sd_scale=0.3),
        "mu_high": normal_normal_ranks(shift_sds=1.0),
    }
    summary = sbc_summary(ranks, NUM_DRAWS, NUM_BINS)
    assert summary.columns.tolist() == [
        "parameter",
        "n",
        "chi2",
        "p_value",
        "mean_rank_fraction",
        "rejected_1pct",
        "rejected_bonferroni_1pct",
    ]
    assert summary["parameter"].tolist() == ["mu", "mu_narrow", "mu_high"]
    assert summary["n"].tolist() == [NUM_SIMS] * 3
    assert summary["rejected_1pct"].tolist() == [False, True, True]
    assert summary["rejected_bonferroni_1pct"].tolist() == [False, True, True]
    assert summary["p_value"].iloc[0] == pytest.approx(
        uniformity_test(ranks["mu"], NUM_DRAWS, NUM_BINS)[1]
    )
    # A posterior that sits above the truth ranks the truth low.
    assert summary["mean_rank_fraction"].iloc[2] < 0.35
    assert summary["mean_rank_fraction"].iloc[0] == pytest.approx(ranks["mu"].mean() / 99)
    with pytest.raises(ValueError, match="'beta'"):
        sbc_summary({"beta": np.zeros((5, 2), int)}, NUM_DRAWS, NUM_BINS)


def test_plot_rank_histograms_writes_png(tmp_path):
    ranks = {f"p{i}": normal_normal_ranks(seed=i) for i in range(5)}  # 2 x 4 grid, 3 empty
    path = tmp_path / "sbc" / "ranks.png"
    plot_rank_histograms(ranks, NUM_DRAWS, NUM_BINS, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
