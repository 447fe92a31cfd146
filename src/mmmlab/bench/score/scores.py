"""Every requested metric group of one fitted cell, in the store's long form
``(metric, key, value)``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmmlab.bench.score.lift import lift_metrics, lift_tests_for
from mmmlab.data import Dataset

Metric = tuple[str, str, float]


def score(result, windows: dict[str, Dataset | None], truth, payload: dict) -> list[Metric]:
    """Every requested metric group of one fitted cell."""
    from mmmlab.metrics import fit_metrics
    from mmmlab.metrics.predictive import crps, durbin_watson, interval_coverage, rmse, srmse
    from mmmlab.metrics.robyn import adjusted_r2

    groups = set(payload["metrics"])
    out: list[Metric] = []
    train = windows["train"]
    seed = payload["cell_seed"]
    expected = {}
    for name, window in windows.items():
        if window is None:
            continue
        draws = result.predict(window, seed=seed)
        expected[name] = result.expected(window)
        point = expected[name].mean(axis=0)
        if "predictive" in groups:
            out.append((f"{name}_rmse", "", rmse(window.target, point)))
            out.append((f"{name}_coverage_90", "", interval_coverage(window.target, draws)))
            out.append((f"{name}_crps", "", crps(window.target, draws)))
        if "robyn" in groups or "fit" in groups:
            for metric, value in fit_metrics(window.target, point).items():
                out.append((f"{metric}_{name}", "", value))
        if "fit" in groups:
            out.append((f"srmse_{name}", "", srmse(window.target, point)))
            out.append((f"durbin_watson_{name}", "", durbin_watson(window.target, point)))
        if "robyn" in groups:
            n_features = getattr(result, "n_features", None)
            if n_features is not None:
                y, y_hat = window.target.ravel(), point.ravel()
                n_train = train.target.size  # Robyn adjusts held-out R² by the training n
                adjusted = adjusted_r2(y, y_hat, n_features, n_train=n_train)
                out.append((f"adjusted_r2_{name}", "", adjusted))
    d = result.diagnostics
    if "convergence" in groups:
        conv = payload["convergence"]
        # A fit without chains (ridge, MAP) has no R-hat: not assessed, never "not converged".
        converged = (
            float(d.max_rhat < conv["rhat"] and d.min_ess_bulk > conv["ess_bulk"])
            if np.isfinite(d.max_rhat)
            else float("nan")
        )
        out += [
            ("max_rhat", "", d.max_rhat),
            ("min_ess_bulk", "", d.min_ess_bulk),
            ("min_ess_tail", "", d.min_ess_tail),
            ("divergences", "", float(d.divergences)),
            ("converged", "", converged),
            ("rhat_threshold", "", conv["rhat"]),
            ("ess_threshold", "", conv["ess_bulk"]),
        ]
    if "cost" in groups:
        out += [
            ("compile_s", "", d.compile_s),
            ("sample_s", "", d.sample_s),
            ("fit_s", "", d.compile_s + d.sample_s),
            ("ess_per_s", "", d.ess_per_s),
            ("median_ess_bulk", "", d.median_ess_bulk),
            ("median_ess_per_s", "", d.median_ess_bulk / max(d.compile_s + d.sample_s, 1e-9)),
        ]
    if "loo" in groups:
        out += _loo(result, train, payload)
    contributions = result.contributions(train)  # (S, T, G, C)
    total = contributions.sum(axis=(1, 2))  # (S, C)
    spend = train.spend.sum(axis=(0, 1))
    roas = total / np.where(spend > 0, spend, np.nan)
    if "robyn" in groups:
        from mmmlab.metrics.robyn import decomp_rssd

        out.append(("decomp_rssd", "", decomp_rssd(total.mean(axis=0), spend)))
    if "channels" in groups:
        share = total.mean(axis=0) / max(float(total.mean(axis=0).sum()), 1e-300)
        for c, ch in enumerate(train.channels):
            out.append(("roas", ch, float(np.nanmean(roas[:, c]))))
            out.append(("effect_share", ch, float(share[c])))
    if "recovery" in groups and truth is not None:
        from mmmlab.bench.score.answer_key import recovery_metrics

        params = result.parameters() if hasattr(result, "parameters") else None
        out += recovery_metrics(contributions, roas, train, truth, params)
    tests = lift_tests_for(payload["dataset"].get("lift_tests"), train, truth)
    if tests:
        out += lift_metrics(result, train, tests)
    return [(m, k, float(v)) for m, k, v in out]


def _loo(result, train: Dataset, payload: dict) -> list[Metric]:
    from mmmlab.metrics.loo import loo

    log_lik = result.log_likelihood(train)
    s = log_lik.shape[0]
    found = loo(log_lik.reshape(s, -1), num_chains=result.num_chains)
    if payload["artifacts"]:
        folder = Path(payload["artifacts"])
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "loo_pointwise.npy", found["pointwise"])
    return [(k, "", found[k]) for k in ("elpd_loo", "p_loo", "pareto_k_bad")] + [
        ("elpd_loo_se", "", found["se"])
    ]
