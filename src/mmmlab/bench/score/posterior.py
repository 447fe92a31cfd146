"""The metric groups read from the posterior as a whole:

convergence : max R-hat, min bulk and tail ESS, divergences and `converged` against the spec's
    thresholds (NaN for a fit without chains: not assessed, never "not converged")
cost : compile and sampling seconds, ESS per second
loo : PSIS-LOO elpd, its SE, p_loo and bad Pareto k count; the pointwise elpd is kept in the
    cell's artifacts for delta_loo against the reference model (`results.reference`)
"""

from __future__ import annotations

import numpy as np

from mmmlab.bench.score.fitted import FittedCell, Metric, MetricGroup


def _convergence(cell: FittedCell) -> list[Metric]:
    d, conv = cell.fit.diagnostics, cell.convergence
    converged = (
        float(d.max_rhat < conv["rhat"] and d.min_ess_bulk > conv["ess_bulk"])
        if np.isfinite(d.max_rhat)
        else float("nan")
    )
    return [
        ("max_rhat", "", d.max_rhat),
        ("min_ess_bulk", "", d.min_ess_bulk),
        ("min_ess_tail", "", d.min_ess_tail),
        ("divergences", "", float(d.divergences)),
        ("converged", "", converged),
        ("rhat_threshold", "", conv["rhat"]),
        ("ess_threshold", "", conv["ess_bulk"]),
    ]


def _cost(cell: FittedCell) -> list[Metric]:
    d = cell.fit.diagnostics
    return [
        ("compile_s", "", d.compile_s),
        ("sample_s", "", d.sample_s),
        ("fit_s", "", d.compile_s + d.sample_s),
        ("ess_per_s", "", d.ess_per_s),
        ("median_ess_bulk", "", d.median_ess_bulk),
        ("median_ess_per_s", "", d.median_ess_bulk / max(d.compile_s + d.sample_s, 1e-9)),
    ]


def _loo(cell: FittedCell) -> list[Metric]:
    from mmmlab.metrics.loo import loo

    log_lik = cell.fit.log_likelihood(cell.train)
    s = log_lik.shape[0]
    found = loo(log_lik.reshape(s, -1), num_chains=cell.fit.num_chains)
    if cell.artifacts:
        cell.artifacts.mkdir(parents=True, exist_ok=True)
        np.save(cell.artifacts / "loo_pointwise.npy", found["pointwise"])
    return [(k, "", found[k]) for k in ("elpd_loo", "p_loo", "pareto_k_bad")] + [
        ("elpd_loo_se", "", found["se"])
    ]


CONVERGENCE = MetricGroup("convergence", cell=_convergence)
COST = MetricGroup("cost", cell=_cost)
LOO = MetricGroup("loo", cell=_loo, needs=("log_likelihood",), needs_draws=True)
