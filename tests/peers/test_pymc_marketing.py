"""The PyMC-Marketing backend against the real library (``make test-peers-pymc``), on tiny
sampler settings: small_business with every sampler that is installed, a two-geo fit, each
output checked for its shape and against PyMC-Marketing's own in-sample quantities, and a run
through the benchmark engine."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import numpy as np
import pytest
import yaml

pytest.importorskip("pymc_marketing")

import pymc as pm  # noqa: E402

import mmmlab  # noqa: E402
from backend_contract import conforms  # noqa: E402  (tests/ is on sys.path)
from mmmlab.backends import check_params, get_backend  # noqa: E402
from mmmlab.backends.peers.pymc_marketing import (  # noqa: E402
    SAMPLERS,
    build_mmm,
    validate_params,
)
from mmmlab.bench.grid.spec import parse_spec  # noqa: E402
from mmmlab.bench.results.store import Store  # noqa: E402
from mmmlab.bench.run.runner import run_benchmark  # noqa: E402
from mmmlab.inference.diagnostics import convergence  # noqa: E402

pytestmark = pytest.mark.peers
TINY = {"num_warmup": 100, "num_samples": 100, "num_chains": 2, "target_accept": 0.9}
S = 2 * 100


def _windows(preset: str):
    dataset, _ = mmmlab.simulate(preset, 0)
    train, _, test = dataset.split(train=0.8)
    return dataset, train, test


@pytest.fixture(scope="module", params=SAMPLERS)
def fitted(request):
    """(fit, full dataset, train, test) of small_business's first 80% of weeks, per sampler."""
    if request.param != "pymc" and importlib.util.find_spec(request.param) is None:
        pytest.skip(f"{request.param} is not installed")
    dataset, train, test = _windows("small_business")
    fit = get_backend("pymc-marketing").fit(train, {"sampler": request.param}, 1, TINY)
    return fit, dataset, train, test


@pytest.fixture(scope="module")
def panel():
    """(fit, full dataset, train, test) of growing_business (2 geos) with nutpie."""
    dataset, train, test = _windows("growing_business")
    fit = get_backend("pymc-marketing").fit(train, {"sampler": "nutpie"}, 2, TINY)
    return fit, dataset, train, test


def _theirs(fit, names: list[str]) -> dict[str, np.ndarray]:
    """PyMC-Marketing's own deterministics (S, date, geo, ...) recomputed from the draws."""
    post = pm.compute_deterministics(
        fit.idata.posterior, var_names=names, model=fit.mmm.model, progressbar=False
    )
    out = {}
    for name in names:
        da = post[name]
        order = ["chain", "draw"] + [d for d in ("date", "geo", "channel") if d in da.dims]
        values = da.transpose(*order, ...).values
        out[name] = values.reshape((-1,) + values.shape[2:])
    return out


def _check_shapes(fit, train, test) -> None:
    G, C = train.n_geos, train.n_channels
    for window in (train, test):
        point = (S, window.n_time, G)
        outputs = {
            "predict": fit.predict(window, seed=0),
            "expected": fit.expected(window),
            "log_likelihood": fit.log_likelihood(window),
            "contributions": fit.contributions(window),
        }
        assert {k: v.shape for k, v in outputs.items()} == {
            "predict": point,
            "expected": point,
            "log_likelihood": point,
            "contributions": point + (C,),
        }
        assert all(np.isfinite(v).all() for v in outputs.values())
    assert fit.num_chains == 2
    values, dims = fit.parameters()
    assert dims["adstock_alpha"] == ("channel",) and values["adstock_alpha"].shape == (S, C)
    assert ((values["adstock_alpha"] > 0) & (values["adstock_alpha"] < 1)).all()
    for name in ("saturation_beta", "saturation_lam", "saturation_lam_spend", "saturation_sigma"):
        assert dims[name][-1] == "channel" and values[name].shape[0] == S
        assert (values[name] > 0).all(), name
    for name, value in values.items():
        assert value.shape == (S,) + tuple(
            {"channel": C, "geo": G, "control": train.n_controls, "fourier": 4}[d]
            for d in dims[name]
        ), name


def _check_against_library(fit, train) -> None:
    """Our numpy outputs on the training window equal PyMC-Marketing's own graph."""
    names = ["channel_contribution", "yearly_seasonality_contribution"]
    names += ["total_media_contribution_original_scale"]
    names += ["control_contribution"] if train.n_controls else []
    theirs = _theirs(fit, names)
    y = fit.target_scale
    media = theirs["channel_contribution"] * y[:, None]  # (S, T, G, C) in target units
    contributions = fit.contributions(train)
    np.testing.assert_allclose(contributions, media, rtol=1e-9, atol=1e-9)
    total = theirs["total_media_contribution_original_scale"]  # (S,): the fitted media effect
    np.testing.assert_allclose(contributions.sum(axis=(1, 2, 3)), total, rtol=1e-9)
    mean = theirs["yearly_seasonality_contribution"] + theirs["channel_contribution"].sum(-1)
    if train.n_controls:
        mean = mean + theirs["control_contribution"].sum(-1)
    intercept = fit.idata.posterior["intercept_contribution"].values.reshape(S, -1)
    mean = (mean + intercept[:, None, :]) * y
    np.testing.assert_allclose(fit.expected(train), mean, rtol=1e-9)
    log_lik = pm.compute_log_likelihood(
        fit.idata.copy(), model=fit.mmm.model, extend_inferencedata=False, progressbar=False
    )["y"]
    # PyMC's is on the scaled target: shift by log(target scale) per observation
    ours = fit.log_likelihood(train) + np.log(y)
    np.testing.assert_allclose(
        ours, log_lik.transpose("chain", "draw", "date", "geo").values.reshape(ours.shape)
    )


def _check_held_out(fit, dataset, train, test) -> None:
    full, n = fit.expected(dataset), train.n_time
    np.testing.assert_allclose(fit.expected(test), full[:, n:], rtol=1e-12)
    np.testing.assert_allclose(fit.expected(train), full[:, :n], rtol=1e-12)
    np.testing.assert_allclose(fit.contributions(test), fit.contributions(dataset)[:, n:])
    draws = fit.predict(test, seed=3)
    np.testing.assert_array_equal(draws, fit.predict(test, seed=3))
    # the noise averages out over the draws: within 4 Monte-Carlo standard errors
    sigma = fit.parameters()[0]["sigma"][:, None, :]
    se = np.sqrt((sigma**2).mean(0) / S)
    assert (np.abs(draws.mean(0) - fit.expected(test).mean(0)) < 4 * se).mean() > 0.95


def test_every_output_has_its_shape(fitted):
    fit, _, train, test = fitted
    _check_shapes(fit, train, test)


def test_outputs_match_pymc_marketing_in_sample(fitted):
    fit, _, train, _ = fitted
    _check_against_library(fit, train)


def test_held_out_prediction_is_the_full_series_prediction_restricted(fitted):
    _check_held_out(*fitted)


def test_held_out_adstock_carries_over_from_the_training_weeks(fitted):
    fit, _, train, test = fitted
    cold = replace(test, history_spend=None, history_exposure=None)  # adstock from zero
    assert fit.contributions(test)[:, 0].sum() > fit.contributions(cold)[:, 0].sum()
    np.testing.assert_allclose(
        fit.contributions(test)[:, fit.l_max :], fit.contributions(cold)[:, fit.l_max :]
    )


def test_diagnostics_are_finite_and_over_free_parameters(fitted):
    fit, *_ = fitted
    d = fit.diagnostics
    for value in (d.max_rhat, d.min_ess_bulk, d.min_ess_tail, d.compile_s, d.sample_s):
        assert np.isfinite(value) and value > 0
    assert np.isfinite(d.ess_per_s) and d.divergences >= 0
    assert (d.num_chains, d.num_draws, d.method) == (2, 100, "nuts")
    free = [v.name for v in fit.mmm.model.free_RVs]
    expected = convergence({k: fit.idata.posterior[k].values for k in free})
    np.testing.assert_allclose(
        (d.max_rhat, d.min_ess_bulk, d.min_ess_tail, d.median_ess_bulk), expected
    )
    assert "saturation_sigma" not in free and "channel_contribution" not in free


def test_a_panel_fit_has_geo_dims(panel):
    fit, dataset, train, test = panel
    assert train.n_geos == 2
    _check_shapes(fit, train, test)
    _check_against_library(fit, train)
    _check_held_out(fit, dataset, train, test)
    values, dims = fit.parameters()
    assert values["saturation_sigma"].shape == (S, 2, train.n_channels)


def test_params_are_validated_and_priors_reach_the_model():
    train = _windows("small_business")[1]
    for bad, word in (
        ({"sampler": "hmc"}, "sampler"),
        ({"l_max": 0}, "l_max"),
        ({"yearly_seasonality": 1.5}, "yearly_seasonality"),
        ({"adstock": "geometric"}, "adstock"),
        ({"priors": {"alpha": {}}}, "alpha"),
    ):
        with pytest.raises(ValueError, match=word):
            check_params("pymc-marketing", bad)
    prior = {"dist": "Beta", "kwargs": {"alpha": 2, "beta": 2}, "dims": ["channel"]}
    mmm = build_mmm(train, validate_params({"priors": {"adstock_alpha": prior}, "l_max": 4}))
    assert mmm.adstock.l_max == 4
    assert mmm.adstock.function_priors["alpha"].parameters == {"alpha": 2, "beta": 2}
    with pytest.raises(ValueError, match="adstock_alpha"):
        build_mmm(train, validate_params({"priors": {"adstock_alpha": {"dist": 3}}}))


def test_a_benchmark_with_mmmlab_and_pymc_marketing_finishes(tmp_path):
    spec = {
        "name": "peers-pymc",
        "datasets": [{"preset": "small_business"}],
        "models": [
            {"name": "mmmlab"},
            {"name": "pymc", "backend": "pymc-marketing", "params": {"sampler": "numpyro"}},
        ],
        "seeds": 1,
        "inference": TINY,
    }
    text = yaml.safe_dump(spec)
    result = run_benchmark(parse_spec(spec), text, tmp_path / "run", workers=1)
    assert result.counts["done"] == 2, result.counts
    with Store.open(tmp_path / "run", readonly=True) as store:
        wide = store.metric_table()
    for column in ("max_rhat", "compile_s", "sample_s", "elpd_loo", "test_rmse"):
        assert np.isfinite(wide[column].astype(float)).all(), column


def test_pymc_marketing_honours_the_backend_contract(tmp_path):
    """The contract every backend meets (tests/backend_contract.py), as the in-process ones do."""
    dataset, truth = mmmlab.simulate("small_business", 0)
    conforms("pymc-marketing", dataset, truth, {"sampler": "pymc"}, TINY, tmp_path)
