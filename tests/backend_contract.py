"""The backend contract, one check for every backend (`conforms`): used by the default suite
for the in-process backends (test_bench_backend_contract.py) and by the peer tests for
PyMC-Marketing and Meridian, each in its own environment (``make test-peers``).

A backend fits a training window and its fit gives, for a later window, predictive draws and
expectations; diagnostics; and exactly the optional outputs its `Capabilities` declare
(contributions and ROAS, log-likelihood, parameters, ...). The benchmark then scores the fit
with every metric group without two groups naming one metric differently.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mmmlab.backends import get_backend
from mmmlab.bench.score.fitted import FittedCell
from mmmlab.bench.score.groups import METRIC_GROUPS, missing_capabilities, score_cell
from mmmlab.data import Dataset
from mmmlab.inference.diagnostics import Diagnostics


def conforms(
    name: str,
    dataset: Dataset,
    truth,
    params: dict,
    inference: dict,
    folder: Path,
) -> dict[str, float]:
    """Fit backend `name` to the first 80% of `dataset` and check the contract on the rest;
    returns the cell-level metrics the benchmark scores it with."""
    backend = get_backend(name)
    caps = backend.capabilities
    assert backend.name == name
    backend.check_params(params)
    with pytest.raises(ValueError):
        backend.check_params(params | {"no_such_parameter": 1})
    train, _, later = dataset.split(train=0.8)
    fit = backend.fit(train, params, 3, inference)

    declared = caps.methods()
    has = {method: callable(getattr(type(fit), method, None)) for method in declared}
    has["n_features"] = hasattr(fit, "n_features")
    assert has == declared, f"{name}: declared {declared}, its fit has {has}"

    assert isinstance(fit.diagnostics, Diagnostics)
    draws = fit.predict(later, seed=1)
    s, t, g, c = len(draws), later.n_time, later.n_geos, later.n_channels
    assert draws.shape == (s, t, g) and np.isfinite(draws).all()
    np.testing.assert_array_equal(fit.predict(later, seed=1), draws)  # the seed decides
    assert fit.expected(later).shape == (s, t, g)
    assert fit.num_chains >= 1 and s % fit.num_chains == 0
    if caps.contributions:
        contributions = fit.contributions(later)
        assert contributions.shape == (s, t, g, c) and np.isfinite(contributions).all()
        spend = train.spend.sum(axis=(0, 1))
        roas = fit.contributions(train).sum(axis=(1, 2)) / np.where(spend > 0, spend, np.nan)
        assert np.isfinite(roas[:, spend > 0]).all()
    if caps.immediate_contributions:
        assert fit.immediate_contributions(later).shape == (s, t, g, c)
    if caps.log_likelihood:
        log_lik = fit.log_likelihood(later)
        assert log_lik.shape == (s, t, g) and np.isfinite(log_lik).all()
    if caps.parameters:
        values, dims = fit.parameters()
        assert values and set(values) == set(dims)
        for key, value in values.items():
            assert np.shape(value)[0] == s and np.ndim(value) == 1 + len(dims[key]), key
    if caps.n_features:
        assert int(fit.n_features) >= c
    if caps.extra_metrics:
        assert all(isinstance(m, str) and isinstance(k, str) for m, k, _ in fit.extra_metrics())
    if caps.pareto:
        assert fit.save_pareto(folder / "pareto.csv").stat().st_size > 0
    if caps.save_posterior:
        fit.save_posterior(str(folder / "fit"))
        assert any((folder / "fit").iterdir())

    groups = [n for n in METRIC_GROUPS if not missing_capabilities([n], caps)]
    cell = FittedCell(
        fit=fit,
        capabilities=caps,
        windows={"train": train, "validation": None, "test": later},
        truth=truth,
        cell_seed=1,
        convergence={"rhat": 1.01, "ess_bulk": 400},
        artifacts=folder,
        lift_tests="from_truth",
    )
    scored = score_cell(cell, groups)
    pairs = [(m, k) for m, k, _ in scored]
    assert len(pairs) == len(set(pairs))
    found = {m: v for m, k, v in scored if k == ""}
    for metric in ("train_rmse", "test_rmse", "test_crps", "r2_test", "decomp_rssd"):
        assert math.isfinite(found[metric]), (name, metric)
    if caps.log_likelihood:
        assert math.isfinite(found["elpd_loo"]) and (folder / "loo_pointwise.npy").exists()
    if truth is not None and caps.contributions:
        assert math.isfinite(found["roas_mae"]) and "mape_lift" in found
    return found
