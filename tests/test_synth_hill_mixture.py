"""Checks of the Hill-mixture worlds against their published definition and their answer key."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chisquare

from mmmlab.synth.hill_mixture import (
    HILL_MIXTURE_DGPS,
    adstock_lags,
    adstocked,
    simulate_hill_mixture,
)
from mmmlab.synth.truth import Truth

NAMES = sorted(HILL_MIXTURE_DGPS)
LONG = 20_000  # periods for moment checks: standard errors of ~0.5%

PUBLISHED = {  # name -> (pi, k / median(s), A, n), as in the benchmark
    "hill_single": ((1.0,), (1.0,), (30.0,), (1.5,)),
    "hill_mixture_k2": ((0.6, 0.4), (0.7, 1.3), (20.0, 40.0), (2.0, 1.2)),
    "hill_mixture_k3": ((0.4, 0.3, 0.3), (0.5, 1.0, 1.2), (15.0, 30.0, 60.0), (2.0, 1.5, 1.0)),
    "hill_mixture_k5": (
        (0.30, 0.25, 0.20, 0.15, 0.10),
        (0.4, 0.7, 1.0, 1.3, 1.6),
        (10.0, 20.0, 35.0, 50.0, 70.0),
        (2.5, 2.0, 1.5, 1.2, 1.0),
    ),
}


def recursion(x: np.ndarray, alpha: float) -> np.ndarray:
    """Reference adstock: ``s_0 = x_0``, ``s_t = x_t + alpha s_{t-1}``."""
    s = np.empty_like(x)
    s[0] = x[0]
    for t in range(1, len(x)):
        s[t] = x[t] + alpha * s[t - 1]
    return s


def hill_numpy(s: np.ndarray, k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Reference Hill curve ``s^n / (k^n + s^n)``."""
    return s**n / (k**n + s**n)


@pytest.fixture(scope="module")
def worlds() -> dict[str, tuple]:
    return {name: simulate_hill_mixture(name, seed=7) for name in NAMES}


@pytest.fixture(scope="module")
def long_k5() -> tuple:
    return simulate_hill_mixture("hill_mixture_k5", seed=11, n_periods=LONG)


# ---------------------------------------------------------------------------- definition
@pytest.mark.parametrize("name", NAMES)
def test_registry_matches_the_published_parameters(name):
    dgp = HILL_MIXTURE_DGPS[name]
    pi, ratio, A, n = PUBLISHED[name]
    assert dgp.name == name and dgp.description and "\n" not in dgp.description
    assert (dgp.weights, dgp.half_saturation_ratios) == (pi, ratio)
    assert (dgp.max_effects, dgp.hill_slopes) == (A, n)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown Hill-mixture world 'hill_k4'") as err:
        simulate_hill_mixture("hill_k4", seed=0)
    for name in NAMES:
        assert name in str(err.value)


def test_adstock_equals_the_recursion():
    rng = np.random.default_rng(3)
    x = rng.lognormal(1.5, 0.6, size=500)
    for alpha in (0.5, 0.0, 0.3, 0.9):
        np.testing.assert_allclose(adstocked(x, alpha), recursion(x, alpha), rtol=1e-10, atol=0)
    assert adstock_lags(0.5) == 64
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        adstocked(x, 1.0)
    with pytest.raises(ValueError, match="1-D"):
        adstocked(x[:, None])


@pytest.mark.parametrize("name", NAMES)
def test_target_is_baseline_plus_hill_of_the_drawn_component_plus_noise(worlds, name):
    data, truth = worlds[name]
    x, y = data.spend[:, 0, 0], data.target[:, 0]
    s = recursion(x, 0.5)
    T = len(y)
    t = np.arange(T)
    np.testing.assert_allclose(truth.baseline["intercept"], 50.0)
    np.testing.assert_allclose(truth.baseline["trend"][:, 0], 2 * (t - t.mean()) / t.std())
    z = truth.labels
    pi, ratio, A, n = (np.asarray(v) for v in PUBLISHED[name])
    k = ratio * np.median(s)
    expected = np.asarray(A)[z] * hill_numpy(s, k[z], n[z])
    np.testing.assert_allclose(truth.contributions[:, 0, 0], expected, rtol=1e-10)
    # Nothing but baseline, media and noise in the target: exact up to float rounding (the
    # sum is taken in another order here, which moves the last bits, ~1e-14).
    rest = y - truth.baseline["intercept"][:, 0] - truth.baseline["trend"][:, 0]
    residual = rest - truth.contributions[:, 0, 0]
    np.testing.assert_allclose(residual, truth.noise[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(truth.counterfactual + truth.contributions, data.target[:, :, None])
    assert truth.facts["median_adstock"] == np.median(s)


def test_k2_half_saturation_is_ratio_times_median_adstock(worlds):
    data, truth = worlds["hill_mixture_k2"]
    s = adstocked(data.spend[:, 0, 0])
    ratio = np.array([0.7, 1.3])
    np.testing.assert_allclose(truth.params["half_saturation"], ratio * np.median(s), rtol=1e-14)
    np.testing.assert_array_equal(truth.params["half_saturation_ratio"], ratio)
    # Recover k from each period's realised response: c = A s^n / (k^n + s^n).
    z, c = truth.labels, truth.contributions[:, 0, 0]
    A, n = truth.params["max_effect"][z], truth.params["hill_slope"][z]
    k_seen = s * (A / c - 1.0) ** (1.0 / n)
    for j in range(2):
        np.testing.assert_allclose(k_seen[z == j], ratio[j] * np.median(s), rtol=1e-9)


# ---------------------------------------------------------------------------- randomness
@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_identical_data_and_truth(worlds, name):
    data, truth = worlds[name]
    again, truth2 = simulate_hill_mixture(name, seed=7)
    np.testing.assert_array_equal(data.spend, again.spend)
    np.testing.assert_array_equal(data.target, again.target)
    assert data.fingerprint == again.fingerprint
    assert truth.to_json() == truth2.to_json()


@pytest.mark.parametrize("name", NAMES)
def test_different_seeds_differ(worlds, name):
    data, truth = worlds[name]
    other, truth2 = simulate_hill_mixture(name, seed=8)
    assert not np.any(data.spend == other.spend)
    assert not np.any(truth.noise == truth2.noise)


def test_worlds_share_spend_and_noise_for_one_seed(worlds):
    data, truth = worlds["hill_single"]
    for name in (n for n in NAMES if n != "hill_single"):
        other, truth2 = worlds[name]
        np.testing.assert_array_equal(data.spend, other.spend)
        np.testing.assert_array_equal(truth.noise, truth2.noise)
        assert not np.array_equal(truth.contributions, truth2.contributions)


def test_spend_and_noise_moments(long_k5):
    data, truth = long_k5
    log_x = np.log(data.spend[:, 0, 0])
    assert abs(log_x.mean() - 1.5) < 5 * 0.6 / np.sqrt(LONG)
    assert abs(log_x.std() - 0.6) < 5 * 0.6 / np.sqrt(2 * LONG)
    assert abs(truth.noise.mean()) < 5 * 3 / np.sqrt(LONG)
    assert abs(truth.noise.std() - 3.0) < 5 * 3 / np.sqrt(2 * LONG)


def test_label_frequencies_follow_the_weights(long_k5):
    _, truth = long_k5
    pi = np.array(PUBLISHED["hill_mixture_k5"][0])
    counts = np.bincount(truth.labels, minlength=5)
    assert counts.sum() == LONG and truth.labels.max() == 4
    assert chisquare(counts, pi * LONG).pvalue > 1e-3
    np.testing.assert_allclose(counts / LONG, pi, atol=0.015)
    shares = [truth.facts[f"share_of_component_{j}"] for j in range(5)]
    np.testing.assert_allclose(shares, counts / LONG)


# ---------------------------------------------------------------------------- the answer key
@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_labels(worlds, name):
    data, truth = worlds[name]
    K = len(PUBLISHED[name][0])
    assert data.name == name and data.frequency == "weekly"
    assert data.source == {"simulator": "mmmlab.synth.hill_mixture", "dgp": name, "seed": 7}
    assert data.dates[0] == pd.Timestamp("2020-01-05") and len(data.dates) == 200
    assert (data.geos, data.channels, data.control_names) == (("national",), ("spend",), ())
    assert data.spend.shape == (200, 1, 1) and data.target.shape == (200, 1)
    assert data.controls.shape == (200, 1, 0)
    assert truth.contributions.shape == truth.counterfactual.shape == (200, 1, 1)
    assert truth.noise.shape == (200, 1) and truth.labels.shape == (200,)
    assert truth.roas.shape == truth.mroas.shape == (1,)
    assert truth.labels.dtype.kind == "i" and set(np.unique(truth.labels)) <= set(range(K))
    for key in ("weights", "half_saturation", "half_saturation_ratio", "max_effect", "hill_slope"):
        assert truth.params[key].shape == (K,) and truth.dims[key] == ("component",)
    for key, value in {"adstock_alpha": 0.5, "intercept": 50, "slope": 2, "sigma": 3}.items():
        assert truth.params[key] == value and truth.dims[key] == ()
    share = truth.contributions.sum() / data.target.sum()
    assert truth.facts["media_share"] == pytest.approx(share, rel=1e-12)
    assert simulate_hill_mixture(name, seed=7, n_periods=30)[0].spend.shape == (30, 1, 1)


@pytest.mark.parametrize("name", NAMES)
def test_roas_and_marginal_roas(worlds, name):
    data, truth = worlds[name]
    x = data.spend[:, 0, 0]
    assert truth.roas[0] == pytest.approx(truth.contributions.sum() / x.sum(), rel=1e-12)
    # Recompute the 1% lift with the same drawn components, independently of the module.
    z = truth.labels
    A, k, n = (truth.params[p][z] for p in ("max_effect", "half_saturation", "hill_slope"))
    lifted = A * hill_numpy(recursion(1.01 * x, 0.5), k, n)
    mroas = (lifted.sum() - truth.contributions.sum()) / (0.01 * x.sum())
    assert truth.mroas[0] == pytest.approx(mroas, rel=1e-8)
    # Diminishing returns on the whole: the last unit of spend earns less than the average one.
    for seed in range(5):
        _, other = simulate_hill_mixture(name, seed=seed)
        assert 0 < other.mroas[0] < other.roas[0]


def test_s_shaped_components_have_increasing_returns_below_their_inflection():
    """Why mroas < roas holds only on the whole: a Hill curve with n > 1 is convex for small s.

    Its elasticity ``n (1 - hill)`` exceeds 1 (a 1% lift in s lifts the response by more than
    1%) exactly where ``s < k (n - 1)^(1/n)``. In these worlds few periods sit there, and they
    carry little response, so the aggregate marginal ROAS stays below the average ROAS.
    """
    data, truth = simulate_hill_mixture("hill_mixture_k5", seed=0, n_periods=2000)
    s = adstocked(data.spend[:, 0, 0])
    z = truth.labels
    A, k, n = (truth.params[p][z] for p in ("max_effect", "half_saturation", "hill_slope"))
    # Elasticity by a 1e-6 relative lift; periods within 1% of the threshold are left out,
    # where the finite step could land on either side.
    elasticity = (A * hill_numpy((1 + 1e-6) * s, k, n) / truth.contributions[:, 0, 0] - 1) / 1e-6
    threshold = k * np.maximum(n - 1.0, 0.0) ** (1.0 / n)
    convex, clear = s < threshold, np.abs(s - threshold) > 0.01 * s
    assert convex.any() and not convex.all()
    assert np.all(elasticity[convex & clear] > 1) and np.all(elasticity[~convex & clear] < 1)
    assert truth.contributions[convex].sum() < 0.05 * truth.contributions.sum()
    assert truth.mroas[0] < truth.roas[0]


@pytest.mark.parametrize("name", NAMES)
def test_truth_json_round_trip(worlds, name, tmp_path):
    _, truth = worlds[name]
    for back in (Truth.from_json(truth.to_json()), Truth.load(truth.save(tmp_path / "t.json"))):
        assert (back.name, back.seed, back.description) == (name, 7, truth.description)
        assert back.facts == truth.facts and back.dims == truth.dims
        np.testing.assert_array_equal(back.labels, truth.labels)
        for key in ("contributions", "counterfactual", "noise", "roas", "mroas"):
            np.testing.assert_array_equal(getattr(back, key), getattr(truth, key))
        for key, value in truth.params.items():
            np.testing.assert_array_equal(back.params[key], value)
        for key, value in truth.baseline.items():
            np.testing.assert_array_equal(back.baseline[key], value)
