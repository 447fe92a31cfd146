"""Hill-mixture models: exact adstock, ordered components, label-invariant diagnostics, and
held-out prediction that carries adstock and the training time scale over."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import mmmlab  # noqa: F401  (JAX settings)
from mmmlab.backends import get_backend
from mmmlab.bench.grid.cells import expand
from mmmlab.bench.grid.spec import parse_spec
from mmmlab.bench.report.summary import best_by_dataset
from mmmlab.bench.results.store import Store
from mmmlab.bench.run.runner import run_benchmark
from mmmlab.models.hill_mixture import KINDS, adstock, lagged_matrix
from mmmlab.synth import simulate

sys.path.insert(0, str(Path(__file__).parent))
from conjura_sample import write_conjura_sample  # noqa: E402

pytestmark = pytest.mark.xdist_group("hill_mixture")
TINY = {"num_warmup": 200, "num_samples": 200, "num_chains": 2, "target_accept": 0.9}


def test_adstock_is_the_exact_recursion():
    x = np.random.default_rng(0).lognormal(1.5, 0.6, 120)
    for alpha in (0.0, 0.5, 0.95):
        s = np.zeros_like(x)
        for t in range(len(x)):
            s[t] = x[t] + (alpha * s[t - 1] if t else 0.0)
        np.testing.assert_allclose(np.asarray(adstock(lagged_matrix(x), alpha)), s, rtol=1e-12)


@pytest.fixture(scope="module")
def k2_fits():
    dataset, truth = simulate("hill_mixture_k2", 0)
    train, _, test = dataset.split(train=0.75)
    backend = get_backend("hill_mixture")
    fits = {kind: backend.fit(train, {"kind": kind}, 3, TINY) for kind in KINDS}
    return dataset, train, test, fits


def test_a_run_that_samples_past_num_samples_keeps_every_draw():
    """An unconverged run of 1000+ draws continues (`extra_samples`) while its ESS could
    reach the target in the room left; the diagnostics and draws count what it sampled (a
    grid cell failed on the reshape before)."""
    dataset, _ = simulate("hill_mixture_k2", 0)
    # 20 warmup iterations leave the chains unconverged (label-invariant ESS ~56 after 1000
    # draws); with room for 7000 more, 400 is within reach at that rate, so the run samples on.
    settings = {"num_warmup": 20, "num_samples": 1000, "num_chains": 2, "extra_samples": 7000}
    fit = get_backend("hill_mixture").fit(dataset, {"kind": "mixture_k2"}, 0, settings)
    draws = fit.diagnostics.num_draws
    assert 1000 < draws < 8000 and draws % 100 == 0
    assert len(fit.draws["sigma"]) == 2 * draws


def test_every_kind_fits_with_ordered_components_and_reports_effective_k(k2_fits):
    _, train, test, fits = k2_fits
    for kind, fit in fits.items():
        K = KINDS[kind]
        d = fit.draws
        assert d["weights"].shape == (400, K)
        np.testing.assert_allclose(d["weights"].sum(axis=1), 1.0, rtol=1e-9)
        assert np.all(np.diff(d["half_saturation"], axis=1) >= 0), "components are ordered"
        extra = dict((m, v) for m, _, v in fit.extra_metrics())
        assert 1.0 <= extra["effective_k"] <= K
        assert fit.diagnostics.max_rhat == extra["max_rhat_invariant"]
        assert np.isfinite(extra["max_rhat_plain"])
        assert 0.0 <= extra["competing_modes"] <= 1.0
        pred = fit.predict(test, seed=0)
        assert pred.shape == (400, test.n_time, 1) and np.isfinite(pred).all()
        ll = fit.log_likelihood(train)
        assert ll.shape == (400, train.n_time, 1) and np.isfinite(ll).all()
    assert dict((m, v) for m, _, v in fits["single_hill"].extra_metrics())["effective_k"] == 1.0


def test_held_out_prediction_equals_the_full_series_restricted_to_the_window(k2_fits):
    dataset, train, test, fits = k2_fits
    fit = fits["mixture_k2"]
    full = fit.expected(dataset)[:, :, 0]
    window = fit.expected(test)[:, :, 0]
    np.testing.assert_allclose(window, full[:, train.n_time :], rtol=1e-10)
    # Restarting the adstock at zero in the test window (the published mistake) differs.
    restarted = type(test)(
        dates=test.dates,
        geos=test.geos,
        channels=test.channels,
        spend=test.spend,
        target=test.target,
        time_index=test.time_index,
    )
    assert not np.allclose(fit.expected(restarted)[:, :5, 0], window[:, :5])
    # The time scale is the training window's: the baseline continues the training trend.
    assert fit.t_mean == pytest.approx(np.mean(train.time_index))


def test_the_synthetic_suite_is_the_published_grid():
    from mmmlab.cli_bench import _spec_source

    spec, _ = _spec_source("hill-mixture")
    cells = expand(spec)
    assert len(cells) == 80
    assert spec.inference.num_chains == 4 and spec.inference.num_samples == 2000
    assert spec.inference.target_accept == 0.9 and spec.split.train == 0.75


def test_real_data_protocol_on_a_conjura_file(tmp_path):
    path = write_conjura_sample(tmp_path / "conjura.csv", n_orgs=3, n_days=120, seed=1)
    spec = {
        "name": "real",
        "datasets": [{"conjura": str(path), "n_organisations": 2}],
        "models": [
            {"name": "single_hill", "backend": "hill_mixture", "params": {"kind": "single_hill"}},
            {"name": "mixture_k2", "backend": "hill_mixture", "params": {"kind": "mixture_k2"}},
        ],
        "seeds": 1,
        "split": {"train": 0.75},
        "inference": TINY,
        "metrics": ["predictive", "loo", "convergence", "cost"],
        "reference_model": "single_hill",
    }
    result = run_benchmark(parse_spec(spec), yaml.safe_dump(spec), tmp_path / "run", workers=1)
    assert result.counts["done"] == 4, result.counts
    with Store.open(tmp_path / "run", readonly=True) as store:
        metrics = store.metrics_frame()
    assert {"effective_k", "max_rhat_invariant", "test_rmse", "delta_loo"} <= set(metrics["metric"])
    best = best_by_dataset(metrics, "test_rmse", lower_is_better=True)
    assert len(best) == 2
