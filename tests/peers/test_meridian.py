"""The Meridian backend against the real library (``make test-peers-meridian``), on tiny
sampler settings: one national and one two-geo fit, checked shape by shape, against
Meridian's own analyzer on the training window, and through the benchmark engine."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

pytest.importorskip("meridian")

import mmmlab  # noqa: E402
from backend_contract import conforms  # noqa: E402  (tests/ is on sys.path)
from mmmlab.backends import Incompatible, check_params, get_backend  # noqa: E402
from mmmlab.bench.grid.spec import parse_spec  # noqa: E402
from mmmlab.bench.run.runner import run_benchmark  # noqa: E402

pytestmark = [
    pytest.mark.peers,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:tensorflow_probability.*"),
]
TINY = {"num_warmup": 100, "num_samples": 100, "num_chains": 2}
PRESETS = ("small_business", "growing_business")  # national, 2 geos


@pytest.fixture(scope="module", params=PRESETS)
def fitted(request):
    """(fit, full dataset, train, test) of a preset's first 80% of weeks."""
    dataset, _ = mmmlab.simulate(request.param, 0)
    train, _, test = dataset.split(train=0.8)
    fit = get_backend("meridian").fit(train, {}, seed=1, inference=TINY)
    return fit, dataset, train, test


def test_every_output_has_its_shape(fitted):
    fit, _, train, test = fitted
    S, G, C = 2 * 100, train.n_geos, train.n_channels
    for window in (train, test):
        T = window.n_time
        assert fit.predict(window, seed=0).shape == (S, T, G)
        assert fit.expected(window).shape == (S, T, G)
        assert fit.log_likelihood(window).shape == (S, T, G)
        assert fit.contributions(window).shape == (S, T, G, C)
        assert np.isfinite(fit.log_likelihood(window)).all()
    assert fit.num_chains == 2
    values, dims = fit.parameters()
    assert dims["adstock_alpha"] == ("channel",) and values["adstock_alpha"].shape == (S, C)
    assert ((values["adstock_alpha"] >= 0) & (values["adstock_alpha"] <= 1)).all()
    for name in ("hill_slope", "ec_m", "hill_half_saturation_spend"):
        assert values[name].shape[0] == S and dims[name][-1] == "channel"
        assert (values[name] > 0).all()


def test_held_out_prediction_is_the_full_series_prediction_restricted(fitted):
    fit, dataset, train, test = fitted
    full, n = fit.expected(dataset), train.n_time
    np.testing.assert_allclose(fit.expected(test), full[:, n:], rtol=1e-12)
    np.testing.assert_allclose(fit.expected(train), full[:, :n], rtol=1e-12)
    np.testing.assert_allclose(fit.contributions(test), fit.contributions(dataset)[:, n:])
    np.testing.assert_array_equal(fit.predict(test, seed=3), fit.predict(test, seed=3))
    assert not np.array_equal(fit.predict(test, seed=3), fit.predict(test, seed=4))


def test_training_window_matches_meridians_own_analyzer(fitted):
    """Expected outcome and per-channel contributions in target units, as Meridian computes
    them from the same posterior (its draws are (chain, draw, geo, time[, channel]))."""
    from meridian.analysis.analyzer import Analyzer

    fit, _, train, _ = fitted
    analyzer = Analyzer(
        model_context=fit.meridian.model_context, inference_data=fit.meridian.inference_data
    )
    meridian_geos = [str(g) for g in fit.meridian.input_data.geo.values]
    order = [0] if train.is_national else [meridian_geos.index(g) for g in train.geos]

    def ours(draws) -> np.ndarray:
        """(chain, draw, geo, time, ...) in Meridian's geo order -> (S, time, geo, ...)."""
        a = np.swapaxes(np.asarray(draws)[:, :, order], 2, 3)
        return a.reshape((-1,) + a.shape[2:])

    expected = analyzer.expected_outcome(aggregate_geos=False, aggregate_times=False)
    np.testing.assert_allclose(fit.expected(train), ours(expected), rtol=1e-8)
    incremental = analyzer.incremental_outcome(aggregate_geos=False, aggregate_times=False)
    np.testing.assert_allclose(fit.contributions(train), ours(incremental), rtol=1e-8, atol=1e-6)


def test_diagnostics_are_finite_and_timed_apart(fitted):
    d = fitted[0].diagnostics
    for value in (d.max_rhat, d.min_ess_bulk, d.min_ess_tail, d.ess_per_s):
        assert np.isfinite(value)
    assert d.compile_s > 0 and d.sample_s > 0 and d.divergences >= 0
    assert (d.num_chains, d.num_draws, d.method) == (2, 100, "nuts")


def test_params_and_inference_are_checked_by_name():
    dataset, _ = mmmlab.simulate("small_business", 0)
    with pytest.raises(ValueError, match="knotz"):
        check_params("meridian", {"knotz": 3})
    with pytest.raises(ValueError, match=r"priors\.alpha_m"):
        check_params("meridian", {"priors": {"alpha_m": {"dist": 1}}})
    with pytest.raises(ValueError, match="num_warmups"):
        get_backend("meridian").fit(dataset, {}, 0, {"num_warmups": 10})
    with pytest.raises(Incompatible, match="NUTS"):
        get_backend("meridian").fit(dataset, {}, 0, TINY | {"method": "map"})
    with pytest.raises(ValueError, match="Gama"):
        get_backend("meridian").fit(dataset, {"priors": {"alpha_m": {"dist": "Gama"}}}, 0, TINY)


def test_the_benchmark_engine_runs_meridian_beside_mmmlab(tmp_path):
    spec = {
        "name": "peers-tiny",
        "datasets": [{"preset": "small_business"}],
        "models": [{"name": "mmmlab"}, {"name": "meridian", "backend": "meridian"}],
        "seeds": 1,
        "inference": TINY,
        "convergence": {"rhat": 1.1, "ess_bulk": 20},
    }
    result = run_benchmark(parse_spec(spec), yaml.safe_dump(spec), tmp_path / "run", workers=1)
    assert result.counts["done"] == 2, result.counts


def test_meridian_honours_the_backend_contract(tmp_path):
    """The contract every backend meets (tests/backend_contract.py), as the in-process ones do."""
    dataset, truth = mmmlab.simulate("small_business", 0)
    conforms("meridian", dataset, truth, {}, TINY, tmp_path)
