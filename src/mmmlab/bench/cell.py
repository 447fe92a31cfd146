"""One cell, start to finish, inside a worker process: load or simulate its dataset, split,
fit through its backend, and score it. Returns metrics in long form ``(metric, key, value)``.

`run_cell` is the executor's worker function (`mmmlab.bench.cell:run_cell`); its payload is
a plain dict (see `payload_of`), so it pickles for local processes and Ray alike.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from mmmlab.backends import Incompatible, get_backend
from mmmlab.bench.grid import Cell, expand_variants, thaw
from mmmlab.bench.isolated import peer_python
from mmmlab.bench.lift import lift_metrics, lift_tests_for
from mmmlab.bench.spec import BenchSpec
from mmmlab.bench.variants import NotApplicable, apply_data
from mmmlab.data import Dataset

Metric = tuple[str, str, float]


class Skipped(Exception):
    """Raised inside a worker when a cell cannot apply (the driver records it as skipped)."""


def payload_of(cell: Cell, spec: BenchSpec, artifacts: Path | None) -> dict[str, Any]:
    """Everything a worker needs to run `cell`, as plain data."""
    model = next(m for m in spec.models if m.name == cell.model)
    ref = cell.dataset
    return {
        "name": cell.name,
        "dataset": {
            "name": ref.name,
            "preset": ref.preset,
            "world": dict(ref.world),
            "data_seed": ref.data_seed,
            "file": ref.file,
            "columns": thaw(ref.columns) if isinstance(ref.columns, tuple) else ref.columns,
            "organisation": ref.organisation,
            "sum_channels": ref.sum_channels,
            "frequency": ref.frequency,
            "lift_tests": (
                [thaw(t) for t in ref.lift_tests]
                if isinstance(ref.lift_tests, tuple)
                else ref.lift_tests
            ),
        },
        "backend": model.backend,
        "params": model.params | thaw(cell.variant.model),
        "split": spec.split.model_dump() | thaw(cell.variant.split),
        "inference": spec.inference.model_dump() | thaw(cell.variant.inference),
        "data": thaw(cell.variant.data),
        "data_base": thaw(expand_variants(spec)[0].data),
        "seed": cell.seed,
        "cell_seed": cell.cell_seed,
        "metrics": list(spec.metrics),
        "convergence": spec.convergence.model_dump(),
        "artifacts": None if artifacts is None else str(artifacts),
        "save_posterior": spec.run.save_posterior,
        "memory_gb": spec.run.memory_gb,
        "python": peer_python(model.backend),
    }


def load_dataset(d: dict[str, Any], seed: int):
    """(Dataset, Truth or None) of a cell. Presets are simulated with the grid seed (not the
    cell seed), so every model of a seed-cell sees the same data."""
    dataset, truth = _load(d, seed)
    if d.get("sum_channels") and dataset.n_channels > 1:
        dataset, truth = summed(dataset), None  # a per-channel truth no longer applies
    return dataset, truth


def summed(dataset: Dataset) -> Dataset:
    """One channel "spend": the sum of every channel's spend (exposure dropped)."""
    from dataclasses import replace

    return replace(
        dataset,
        channels=("spend",),
        spend=dataset.spend.sum(axis=2, keepdims=True),
        exposure=None,
        history_spend=dataset.history_spend.sum(axis=2, keepdims=True),
        history_exposure=None,
    )


def _load(d: dict[str, Any], seed: int):
    if d.get("organisation") is not None:
        from mmmlab.data.conjura import read_conjura

        return read_conjura(d["file"], organisations=[d["organisation"]])[0], None
    if d["preset"] is not None:
        from mmmlab.synth import simulate
        from mmmlab.synth.presets import PRESETS
        from mmmlab.synth.world import simulate_world

        data_seed = seed if d["data_seed"] is None else d["data_seed"]
        daily = d.get("frequency") == "daily"
        if d["world"] or daily:
            if d["preset"] not in PRESETS:
                raise ValueError(
                    f"dataset {d['name']!r}: params and frequency apply to business presets "
                    f"only ({', '.join(PRESETS)}), not {d['preset']!r}"
                )
            world = PRESETS[d["preset"]]().model_copy(update=d["world"])
            world = type(world).model_validate(world.model_dump())
            if daily:
                from mmmlab.synth import as_daily

                world = as_daily(world)
            dataset, truth = simulate_world(world, data_seed)
        else:
            dataset, truth = simulate(d["preset"], data_seed)
        return dataset, truth
    from mmmlab.data import ColumnMap, read_dataset

    columns = d["columns"]
    column_map = ColumnMap.from_yaml(columns) if isinstance(columns, str) else ColumnMap(**columns)
    return read_dataset(d["file"], column_map, name=d["name"]), None


def run_cell(payload: dict[str, Any]) -> dict[str, Any]:
    """Fit and score one cell. Returns {"metrics": [(metric, key, value)], "skipped": reason}.

    A cell whose backend lives in another environment (``payload["python"]``, a peer library's
    interpreter) runs there in a child process (`bench.isolated`). ``peak_memory_gb`` is the
    highest resident memory of this process and its children while the cell ran.
    """
    from mmmlab.bench.resources import PeakMemory

    with PeakMemory() as peak:
        if payload.get("python"):
            from mmmlab.bench.isolated import run_isolated

            out = run_isolated(payload)
        else:
            out = run_here(payload)
    if out["skipped"] is None:
        out["metrics"].append(("peak_memory_gb", "", peak.gib))
    return out


def run_here(payload: dict[str, Any]) -> dict[str, Any]:
    """Fit and score one cell in this process (what `run_cell` does without its wrapping)."""
    t0 = time.perf_counter()
    try:
        windows, truth = fit_inputs(payload)
    except NotApplicable as err:
        return {"metrics": [], "skipped": str(err)}
    train, val, test = windows
    too_big = _over_budget(payload, train)
    if too_big:
        return {"metrics": [], "skipped": too_big}
    backend = get_backend(payload["backend"])
    inference = dict(payload["inference"])
    try:
        result = backend.fit(train, payload["params"], payload["cell_seed"], inference)
    except Incompatible as err:
        return {"metrics": [], "skipped": str(err)}
    metrics = score(result, {"train": train, "validation": val, "test": test}, truth, payload)
    if hasattr(result, "extra_metrics"):
        metrics += [(m, k, float(v)) for m, k, v in result.extra_metrics()]
    if payload["artifacts"] and hasattr(result, "save_pareto"):
        result.save_pareto(Path(payload["artifacts"]) / "pareto.csv")
    if payload.get("save_posterior") and payload["artifacts"] and hasattr(result, "fit"):
        result.fit.save(str(Path(payload["artifacts"]) / "fit"))
    metrics.append(("cell_seconds", "", time.perf_counter() - t0))
    return {"metrics": metrics, "skipped": None}


def _over_budget(payload: dict[str, Any], train: Dataset) -> str | None:
    """The skip reason when scoring the posterior alone would exceed the memory budget."""
    from mmmlab.bench.resources import output_gib

    budget = payload.get("memory_gb")
    inference = payload["inference"]
    if budget is None or inference.get("method", "nuts") != "nuts":
        return None
    draws = inference["num_chains"] * inference["num_samples"]
    need = output_gib(draws, train.n_time, train.n_geos, train.n_channels)
    if need <= budget:
        return None
    return (
        f"would exceed the memory budget: {draws} draws of {train.n_time} periods × "
        f"{train.n_geos} geos × {train.n_channels} channels need {need:.1f} GiB to score, over "
        f"run.memory_gb = {budget:g}"
    )


def fit_inputs(payload: dict[str, Any]):
    """((train, validation, test) windows, truth or None): what the cell's model is fitted to
    and scored on, with its data variant applied. Raises NotApplicable (see `data_variant`)."""
    dataset, truth = load_dataset(payload["dataset"], payload["seed"])
    dataset, truth = data_variant(dataset, truth, payload)
    split = payload["split"]
    windows = dataset.split(train=split["train"], validation=split["validation"] or None)
    return windows, truth


def data_variant(dataset: Dataset, truth, payload: dict[str, Any]):
    """The cell's data variant applied (`bench.variants`). Raises NotApplicable when it
    cannot apply, or when it is not the base yet leaves the data exactly as the base's."""
    data, base = payload.get("data") or {}, payload.get("data_base") or {}
    if not data:
        return dataset, truth
    out = apply_data(dataset, data, payload["split"])
    if data != base:
        try:
            same = apply_data(dataset, base, payload["split"]).fingerprint == out.fingerprint
        except NotApplicable:
            same = False
        if same:
            changed = ", ".join(f"{k}={v}" for k, v in data.items() if base.get(k) != v)
            raise NotApplicable(f"variant {changed} leaves dataset {dataset.name!r} unchanged")
    if out.frequency != dataset.frequency:
        truth = None  # the answer key is per original period
    return out, truth


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
        from mmmlab.bench.recovery_scores import recovery_metrics

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
