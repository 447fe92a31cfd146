"""The Robyn-style ridge backend: features, regression, search and the fitted model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mmmlab
from mmmlab.backends import BACKENDS, Incompatible, check_params, get_backend
from mmmlab.backends.ridge import RidgeFit
from mmmlab.backends.ridge.design import (
    HyperparameterSpace,
    RidgeDesign,
    lagged_media,
    media_features,
    ridge_fit,
    scaled_lambda,
)
from mmmlab.backends.ridge.search import choose_model, moving_block_bootstrap, pareto_fronts
from mmmlab.data import Dataset
from mmmlab.metrics.predictive import r_squared

# Robyn's λ range puts most of [0, 1] at heavy shrinkage; a short search finds the good
# corner faster when told where it is.
SMALL = {"iterations": 200, "trials": 2, "hyperparameters": {"lambda": [0, 0.01]}}
NUTS_SETTINGS = {"num_warmup": 10, "num_chains": 4, "dense_mass": True}  # ignored by ridge


@pytest.fixture(scope="module")
def world():
    dataset, truth = mmmlab.simulate("small_business", 0)
    return dataset, dataset.split(train=0.7, validation=0.15)


@pytest.fixture(scope="module")
def fitted(world) -> RidgeFit:
    _, (train, _, _) = world
    return get_backend("ridge").fit(train, SMALL, 0, NUTS_SETTINGS)


def national(spend: np.ndarray, target: np.ndarray, start: str = "2020-01-05") -> Dataset:
    t, c = spend.shape
    return Dataset(
        dates=pd.date_range(start, periods=t, freq="7D"),
        geos=("national",),
        channels=tuple(f"ch{k}" for k in range(c)),
        spend=spend[:, None, :],
        target=target[:, None],
    )


# ---------------------------------------------------------------------------- features
def test_media_features_by_hand_with_robyns_immediate_and_carryover():
    x = np.array([10.0, 0.0, 0.0, 10.0, 0.0])
    data = national(x[:, None], np.arange(5.0))
    hyper = {"theta": np.array([[0.5]]), "alpha": np.array([[1.0]]), "gamma": np.array([[0.5]])}
    out = media_features(lagged_media(data, 5), "geometric", hyper, 5, with_carryover=True)
    adstocked = np.array([10.0, 5.0, 2.5, 11.25, 5.625])  # x_t + 0.5 adstocked_{t-1}
    k = 0.5 * 2.5 + 0.5 * 11.25  # (1 - γ) min + γ max
    assert out.inflexion[0, 0] == pytest.approx(k)
    np.testing.assert_allclose(out.saturated[0, :, 0], adstocked / (adstocked + k))
    carried = adstocked - x  # immediate = raw x for geometric adstock
    np.testing.assert_allclose(out.carryover[0, :, 0], carried / (carried + k))


def test_each_adstock_type_gives_different_features(world):
    _, (train, _, _) = world
    c = train.n_channels
    shared = {"alpha": np.full((1, c), 2.0), "gamma": np.full((1, c), 0.5)}
    params = {
        "geometric": {"theta": np.full((1, c), 0.5)},
        "weibull_cdf": {"shape": np.full((1, c), 1.0), "scale": np.full((1, c), 0.05)},
        "weibull_pdf": {"shape": np.full((1, c), 3.0), "scale": np.full((1, c), 0.05)},
    }
    features = {}
    for adstock, hyper in params.items():
        design = RidgeDesign.build(train, adstock)
        out = media_features(design.lagged, adstock, hyper | shared, design.l_max)
        features[adstock] = out.saturated[0]
        assert np.isfinite(out.saturated).all() and (out.saturated >= 0).all()
    names = list(features)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not np.allclose(features[a], features[b]), (a, b)


@pytest.mark.parametrize("adstock", ["geometric", "weibull_cdf", "weibull_pdf"])
def test_each_adstock_type_fits(world, adstock):
    _, (train, _, test) = world
    params = {"adstock": adstock, "iterations": 30, "trials": 1, "bootstrap": 10}
    fit = get_backend("ridge").fit(train, params, 1, {})
    assert np.isfinite(fit.expected(test)).all()
    assert set(fit.hyper) == set(HyperparameterSpace.kinds_of(adstock))


# ---------------------------------------------------------------------------- regression
def test_ridge_fit_matches_the_closed_form_and_keeps_media_non_negative():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(40, 2)) + [3.0, 1.0]
    y = 2.0 + 1.5 * z[:, 0] - 0.5 * z[:, 1] + rng.normal(0, 0.1, 40)
    lam_max, hp = 50.0, 0.3
    out = ridge_fit(z, y, np.array([hp]), lam_max, n_media=0)
    zs = (z - z.mean(0)) / z.std(0)
    kappa = 40 * scaled_lambda(hp, lam_max) / y.std()  # glmnet's penalty in y's units
    beta = np.linalg.solve(zs.T @ zs + kappa * np.eye(2), zs.T @ (y - y.mean())) / z.std(0)
    np.testing.assert_allclose(out.coef[0], beta)
    assert out.intercept[0] == pytest.approx(y.mean() - beta @ z.mean(0))
    np.testing.assert_allclose(out.fitted[0], out.intercept[0] + z @ beta)
    # column 1 enters negatively: as a media column it is held at zero, the rest refitted
    swapped = ridge_fit(z[:, ::-1], y, np.array([hp]), lam_max, n_media=1)
    alone = ridge_fit(z[:, :1], y, np.array([hp]), lam_max, n_media=0)
    assert swapped.coef[0, 0] == 0.0
    assert swapped.coef[0, 1] == pytest.approx(alone.coef[0, 0])


def test_fixed_true_hyperparameters_recover_the_media_coefficients():
    rng = np.random.default_rng(3)
    t = 160
    spend = rng.gamma(2.0, 50.0, size=(t, 2)) * (rng.random((t, 2)) < 0.7)
    theta, alpha, gamma, beta = [0.3, 0.6], [1.5, 2.0], [0.5, 0.7], [300.0, 200.0]
    media = np.zeros_like(spend)
    for c in range(2):  # Robyn's recursion, then its Hill curve
        for i in range(t):
            media[i, c] = spend[i, c] + (theta[c] * media[i - 1, c] if i else 0.0)
        k = (1 - gamma[c]) * media[:, c].min() + gamma[c] * media[:, c].max()
        media[:, c] = media[:, c] ** alpha[c] / (media[:, c] ** alpha[c] + k ** alpha[c])
    y = 1000 + 2.0 * np.arange(t) + media @ beta + rng.normal(0, 5, t)
    hyper = {"theta": theta, "alpha": alpha, "gamma": gamma}
    fixed = {f"ch{c}": {k: v[c] for k, v in hyper.items()} for c in range(2)} | {"lambda": 0}
    params = {"iterations": 5, "trials": 1, "bootstrap": 50, "fourier_order": 0}
    fit = get_backend("ridge").fit(national(spend, y), params | {"hyperparameters": fixed}, 0, {})
    roas = fit.roas_point * spend.sum(0) / media.sum(0)  # back to the coefficient
    np.testing.assert_allclose(roas, beta, rtol=0.03)


# ---------------------------------------------------------------------------- search
def test_pareto_fronts_and_robyns_choice_by_hand():
    losses = np.array([[1, 3], [2, 2], [3, 1], [2, 3], [3, 3], [4, 4], [2, 2]], float)
    assert pareto_fronts(losses).tolist() == [1, 1, 1, 2, 3, 0, 1]  # equal points tie
    # front 1 min-max scaled: (0, 1), (0.5, 0.5), (1, 0), (0.5, 0.5): nearest the origin
    assert choose_model(losses, pareto_fronts(losses)) == 1
    three = np.array([[1, 1, 5], [1, 1, 4], [0, 2, 9]], float)
    assert pareto_fronts(three).tolist() == [2, 1, 1]


def test_moving_block_bootstrap_keeps_runs_of_consecutive_residuals():
    draws = moving_block_bootstrap(np.random.default_rng(0), np.arange(10.0), 50, 3)
    assert draws.shape == (50, 10)
    runs = draws.reshape(50, -1)[:, :9].reshape(50, 3, 3)
    assert (np.diff(runs, axis=2) == 1).all()


def test_the_pareto_table_is_non_dominated_and_the_choice_on_front_one(fitted):
    table = fitted.pareto
    assert len(table) == 400 and table["chosen"].sum() == 1
    losses = table[["nrmse", "decomp_rssd"]].to_numpy()
    front = table["front"].to_numpy()

    def dominated(point: np.ndarray, by: np.ndarray) -> bool:
        return bool(np.any(np.all(by <= point, axis=1) & np.any(by < point, axis=1)))

    assert not any(dominated(p, losses) for p in losses[front == 1])
    assert all(dominated(p, losses[front == 1]) for p in losses[front == 2])
    chosen = table[table["chosen"]].iloc[0]
    assert chosen["front"] == 1
    assert fitted.extra_metrics()[0] == ("search_nrmse_train", "", pytest.approx(chosen["nrmse"]))


def test_a_search_with_the_same_seed_repeats(world):
    _, (train, _, _) = world
    params = {"iterations": 40, "trials": 1, "bootstrap": 5}
    a = get_backend("ridge").fit(train, params, 7, {})
    b = get_backend("ridge").fit(train, params, 7, {})
    pd.testing.assert_frame_equal(a.pareto, b.pareto)


# ---------------------------------------------------------------------------- fitted model
def test_the_fit_is_sensible_with_non_negative_media(fitted, world):
    _, (train, _, _) = world
    assert r_squared(train.target, fitted.expected(train).mean(axis=0)) > 0.8
    n_media = train.n_channels
    assert (fitted.coef[:, :n_media] >= 0).all()
    assert (fitted.contributions(train) >= 0).all()
    low, high = fitted.roas_interval()[["lower", "upper"]].to_numpy().T
    assert (low <= fitted.roas_point + 1e-12).all() and (fitted.roas_point <= high + 1e-12).all()


def test_held_out_windows_carry_the_adstock_over(fitted, world):
    full, (_, validation, test) = world
    for window in (validation, test):
        rows = window.time_index
        np.testing.assert_allclose(fitted.expected(full)[:, rows], fitted.expected(window))
        np.testing.assert_allclose(
            fitted.contributions(full)[:, rows], fitted.contributions(window)
        )


def test_backend_fit_interface_shapes(fitted, world, tmp_path):
    _, (train, _, test) = world
    s, t, c = 200, test.n_time, test.n_channels
    assert fitted.predict(test, seed=1).shape == (s, t, 1)
    assert fitted.log_likelihood(test).shape == (s, t, 1)
    assert fitted.contributions(test).shape == (s, t, 1, c)
    draws, dims = fitted.parameters()
    assert set(draws) == set(dims)
    for name, value in draws.items():
        assert value.shape[0] == s and value.ndim == 1 + len(dims[name]), name
    d = fitted.diagnostics
    assert d.method == "ridge" and d.divergences == 0 and np.isnan(d.max_rhat)
    assert fitted.num_chains == 1 and d.sample_s > 0
    metrics = {(m, k) for m, k, _ in fitted.extra_metrics()}
    assert {("pareto_front_size", ""), ("search_seconds", ""), ("hp_theta", "email")} <= metrics
    path = fitted.save_pareto(tmp_path / "pareto.csv")
    assert pd.read_csv(path).shape == fitted.pareto.shape


def test_lift_tests_add_mape_lift_as_a_third_objective(world):
    dataset, (train, _, _) = world
    _, truth = mmmlab.simulate("small_business", 0)
    c = train.channels.index("social_media")
    rows = slice(20, 24)
    test = {
        "channel": "social_media",
        "start": str(train.dates[20].date()),
        "end": str((train.dates[23] + pd.Timedelta(days=6)).date()),
        "lift": float(truth.contributions[rows, 0, c].sum()),
        "spend": float(train.spend[rows, 0, c].sum()),
        "scope": "total",
    }
    params = {"iterations": 60, "trials": 1, "bootstrap": 10, "lift_tests": [test]}
    fit = get_backend("ridge").fit(train, params, 0, {})
    assert "mape_lift" in fit.pareto and (fit.pareto["mape_lift"] >= 0).all()
    assert ("search_mape_lift", "") in {(m, k) for m, k, _ in fit.extra_metrics()}


# ---------------------------------------------------------------------------- errors
def test_params_are_checked_strictly():
    assert "ridge" in BACKENDS
    check_params("ridge", {"adstock": "weibull_pdf", "hyperparameters": {"shape": [1, 5]}})
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['speed'\]"):
        check_params("ridge", {"iterations": 5, "speed": 1})
    with pytest.raises(ValueError, match="iterations"):
        check_params("ridge", {"iterations": 0})
    with pytest.raises(ValueError, match=r"hyperparameters\.gamma"):
        check_params("ridge", {"hyperparameters": {"gamma": [0.5, 2.0]}})
    with pytest.raises(ValueError, match="theta does not apply to weibull_cdf"):
        check_params("ridge", {"adstock": "weibull_cdf", "hyperparameters": {"theta": [0, 1]}})
    with pytest.raises(ValueError, match=r"lift_tests\[0\]: missing key"):
        check_params("ridge", {"lift_tests": [{"channel": "tv"}]})


def test_data_dependent_errors_name_the_problem(world):
    _, (train, _, _) = world
    backend = get_backend("ridge")
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['speed'\]"):
        backend.fit(train, {"speed": 1}, 0, {})
    with pytest.raises(ValueError, match=r"unknown channel\(s\) \['tv'\]"):
        backend.fit(train, {"hyperparameters": {"tv": {"alpha": [1, 2]}}}, 0, {})
    two_geos = Dataset(
        dates=pd.date_range("2020-01-05", periods=30, freq="7D"),
        geos=("north", "south"),
        channels=("tv",),
        spend=np.ones((30, 2, 1)),
        target=np.ones((30, 2)),
    )
    with pytest.raises(Incompatible, match="ridge backend is national"):
        backend.fit(two_geos, {"iterations": 5}, 0, {})


def test_the_benchmark_scores_a_ridge_cell_without_metric_clashes(fitted, world):
    from mmmlab.bench.score.fitted import FittedCell
    from mmmlab.bench.score.groups import score_cell

    _, (train, validation, test) = world
    _, truth = mmmlab.simulate("small_business", 0)
    cell = FittedCell(
        fit=fitted,
        capabilities=get_backend("ridge").capabilities,
        windows={"train": train, "validation": validation, "test": test},
        truth=truth,
        cell_seed=0,
        convergence={"rhat": 1.01, "ess_bulk": 400},
        lift_tests="from_truth",
    )
    groups = ["predictive", "robyn", "convergence", "cost", "loo", "channels", "recovery", "fit"]
    scored = score_cell(cell, groups)
    pairs = [(m, k) for m, k, _ in scored] + [(m, k) for m, k, _ in fitted.extra_metrics()]
    assert len(pairs) == len(set(pairs))
    assert {"adjusted_r2_test", "mape_lift", "r2_test", "srmse_test"} <= {m for m, _, _ in scored}


def test_immediate_contributions_leave_out_the_carryover(fitted, world):
    _, (train, _, _) = world
    immediate, total = fitted.immediate_contributions(train), fitted.contributions(train)
    assert immediate.shape == total.shape
    assert (immediate >= -1e-9).all() and (immediate <= total + 1e-9).all()
    assert (immediate < total - 1e-9).any()  # some carry-over where θ > 0
