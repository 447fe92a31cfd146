"""Fit and score one cell in this process: load or simulate its dataset, apply its data
variant, split, check the memory budget, fit through its backend and score the fit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mmmlab.backends import Incompatible, get_backend
from mmmlab.bench.grid.variants import NotApplicable, apply_data
from mmmlab.bench.score.scores import score
from mmmlab.data import Dataset


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
    from mmmlab.bench.run.resources import output_gib

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
