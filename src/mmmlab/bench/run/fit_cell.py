"""Fit and score one cell in this process: load or simulate its dataset, apply its data
variant, split, check the memory budget, fit through its backend (calibrated on the
dataset's lift experiments when the backend takes them) and score the fit."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmmlab.backends import Incompatible, get_backend
from mmmlab.bench.grid.cells import Cell
from mmmlab.bench.grid.sources.registry import load_source
from mmmlab.bench.grid.variants import NotApplicable, apply_data
from mmmlab.bench.run.job import CellJob, CellResult
from mmmlab.bench.run.resources import output_gib
from mmmlab.bench.score.fitted import FittedCell
from mmmlab.bench.score.groups import score_cell
from mmmlab.bench.score.lift import experiments
from mmmlab.data import Dataset


def run_here(job: CellJob) -> CellResult:
    """Fit and score `job`'s cell in this process (what `cell.run_cell` does without its
    wrapping)."""
    t0 = time.perf_counter()
    ready = prepare(job)
    if isinstance(ready, CellResult):
        return ready
    try:
        fit = ready.backend.fit(
            ready.train,
            dict(job.cell.params),
            job.cell.cell_seed,
            dict(job.cell.inference),
            **ready.extra,
        )
    except Incompatible as err:
        return CellResult(skipped=str(err), data_fingerprint=ready.fingerprint)
    return score(job, ready, fit, time.perf_counter() - t0)


@dataclass(frozen=True)
class Prepared:
    """A cell ready to fit: its windows, answer key, backend and lift experiments."""

    train: Dataset
    val: Dataset | None
    test: Dataset | None
    truth: Any
    backend: Any
    extra: dict  # keyword arguments of the backend's fit (its lift experiments)
    fingerprint: str


def prepare(job: CellJob) -> Prepared | CellResult:
    """Load `job`'s data and windows; a CellResult when the cell is skipped before fitting."""
    cell = job.cell
    dataset, truth = load_source(cell.dataset, cell.seed)
    fingerprint = dataset.fingerprint
    try:
        (train, val, test), truth = fit_windows(cell, dataset, truth)
    except NotApplicable as err:
        return CellResult(skipped=str(err), data_fingerprint=fingerprint)
    too_big = _over_budget(cell, train)
    if too_big:
        return CellResult(skipped=too_big, data_fingerprint=fingerprint)
    backend = get_backend(cell.backend)
    caps = backend.capabilities
    calibration = experiments(cell.dataset.lift_tests) if caps.lift_calibration else ()
    extra = {"lift_tests": calibration} if calibration else {}  # lift experiments calibrate
    return Prepared(train, val, test, truth, backend, extra, fingerprint)


def score(job: CellJob, ready: Prepared, fit: Any, seconds: float) -> CellResult:
    """Score a fitted cell and keep its files; `seconds` so far join ``cell_seconds``."""
    t0 = time.perf_counter()
    cell, caps = job.cell, ready.backend.capabilities
    artifacts = Path(job.artifacts) if job.artifacts else None
    fitted = FittedCell(
        fit=fit,
        capabilities=caps,
        windows={"train": ready.train, "validation": ready.val, "test": ready.test},
        truth=ready.truth,
        cell_seed=cell.cell_seed,
        convergence=cell.convergence,
        artifacts=artifacts,
        lift_tests=cell.dataset.lift_tests,
    )
    metrics = score_cell(fitted, cell.metrics)
    if caps.extra_metrics:
        metrics += [(m, k, float(v)) for m, k, v in fit.extra_metrics()]
    if artifacts and caps.pareto:
        fit.save_pareto(artifacts / "pareto.csv")
    if cell.save_posterior and artifacts and caps.save_posterior:
        fit.save_posterior(str(artifacts / "fit"))
    metrics.append(("cell_seconds", "", seconds + time.perf_counter() - t0))
    return CellResult(tuple(metrics), None, ready.fingerprint)


def _over_budget(cell: Cell, train: Dataset) -> str | None:
    """The skip reason when scoring the posterior alone would exceed the memory budget."""
    budget, inference = cell.memory_gb, cell.inference
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


def fit_inputs(cell: Cell):
    """((train, validation, test) windows, truth or None): what the cell's model is fitted to
    and scored on, with its data variant applied. Raises NotApplicable (see `data_variant`)."""
    dataset, truth = load_source(cell.dataset, cell.seed)
    return fit_windows(cell, dataset, truth)


def fit_windows(cell: Cell, dataset: Dataset, truth):
    """`fit_inputs` of a dataset already loaded."""
    dataset, truth = data_variant(dataset, truth, cell)
    split = cell.split
    windows = dataset.split(train=split["train"], validation=split["validation"] or None)
    return windows, truth


def data_variant(dataset: Dataset, truth, cell: Cell):
    """The cell's data variant applied (`grid.variants`). Raises NotApplicable when it
    cannot apply, or when it is not the base yet leaves the data exactly as the base's."""
    data, base = cell.data, cell.data_base
    if not data:
        return dataset, truth
    out = apply_data(dataset, data, cell.split)
    if data != base:
        try:
            same = apply_data(dataset, base, cell.split).fingerprint == out.fingerprint
        except NotApplicable:
            same = False
        if same:
            changed = ", ".join(f"{k}={v}" for k, v in data.items() if base.get(k) != v)
            raise NotApplicable(f"variant {changed} leaves dataset {dataset.name!r} unchanged")
    if out.frequency != dataset.frequency:
        truth = None  # the answer key is per original period
    return out, truth
