"""Batched cells: a worker fits the cells of one shape together (`inference.batch`).

`group_tasks` (in the driver) puts the pending cells that differ only by seed (same dataset
source, model, variant, split and inference; in-process `mmmlab` NUTS cells) into batch tasks
of at most `size` cells; every other cell stays a task of its own. `run_cells`, the worker
function of a batch task, loads each cell's data, fits the cells whose bound models share a
shape in one program (`fit_batch`) and scores each cell as `fit_cell.run_here` does, returning
one ``(status, value)`` per cell: ``("done", CellResult)`` or ``("failed", traceback)``. A
cell that fails to score fails alone; a batch fit that raises is redone cell by cell, so one
bad cell cannot fail its companions. `split_outcome` (in the driver) turns a batch task's
`Outcome` back into one per cell, so the store, the records and resuming see cells as ever.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import replace
from typing import Any

from mmmlab.bench.run.executor import Outcome, Task
from mmmlab.bench.run.job import CellJob, CellResult

BATCH_PREFIX = "batch:"  # a batch task's name: this and its cells' names, joined by " | "


def batch_key(job: CellJob) -> str | None:
    """What cells batched together share (everything but the seed), or None when the cell
    runs alone: another backend, another method than NUTS, or a peer's interpreter."""
    cell = job.cell
    if job.python or cell.backend != "mmmlab" or cell.inference.get("method", "nuts") != "nuts":
        return None
    same = {
        "dataset": cell.dataset.name,
        "model": cell.model,
        "variant": cell.variant,
        "params": cell.params,
        "data": cell.data,
        "split": cell.split,
        "inference": cell.inference,
        "metrics": cell.metrics,
    }
    return json.dumps(same, sort_keys=True, default=str)


def group_tasks(tasks: list[Task], size: int) -> list[Task]:
    """`tasks` with the cells of one batch key in tasks of at most `size` cells (payload: a
    list of `CellJob`s), each where its first cell was; others as they were."""
    if size <= 1:
        return list(tasks)
    groups: dict[str, list[Task]] = {}
    order: list[Task | str] = []
    for task in tasks:
        key = batch_key(task.payload)
        if key is None:
            order.append(task)
            continue
        if key not in groups:
            order.append(key)
        groups.setdefault(key, []).append(task)
    out: list[Task] = []
    for item in order:
        if isinstance(item, Task):
            out.append(item)
            continue
        members = groups[item]
        for i in range(0, len(members), size):
            chunk = members[i : i + size]
            if len(chunk) == 1:
                out.append(chunk[0])
            else:
                name = BATCH_PREFIX + " | ".join(t.name for t in chunk)
                out.append(Task(name, [t.payload for t in chunk]))
    return out


def cell_names(task_name: str) -> list[str]:
    """The cells of a task: itself, or a batch task's cells."""
    if task_name.startswith(BATCH_PREFIX):
        return task_name.removeprefix(BATCH_PREFIX).split(" | ")
    return [task_name]


def split_outcome(outcome: Outcome) -> list[Outcome]:
    """One `Outcome` per cell of a batch task's outcome (a cell's own outcome unchanged).

    A batch that failed as a whole (timed out, its worker died) fails every cell with its
    error; each cell's seconds are the batch's shared equally."""
    names = cell_names(outcome.name)
    if not outcome.name.startswith(BATCH_PREFIX):
        return [outcome]
    seconds = outcome.seconds / len(names)
    if outcome.status != "done":
        error = f"in a batch of {len(names)} cells: {outcome.error}"
        return [Outcome(n, "failed", None, error, seconds, outcome.worker) for n in names]
    out = []
    for name, (status, value) in zip(names, outcome.result, strict=True):
        if status == "done":
            out.append(Outcome(name, "done", value, "", seconds, outcome.worker))
        else:
            out.append(Outcome(name, "failed", None, value, seconds, outcome.worker))
    return out


def run_cells(jobs: list[CellJob]) -> list[tuple[str, Any]]:
    """The worker function of a batch task: fit the cells of one shape together and score
    each; ``peak_memory_gb`` is the batch's peak (the cells share the process)."""
    from mmmlab.bench.run.resources import PeakMemory

    with PeakMemory() as peak:
        results = _run_cells(jobs)
    return [
        (s, replace(v, metrics=(*v.metrics, ("peak_memory_gb", "", peak.gib))))
        if s == "done" and v.skipped is None
        else (s, v)
        for s, v in results
    ]


def _run_cells(jobs: list[CellJob]) -> list[tuple[str, Any]]:
    from mmmlab.backends import Incompatible
    from mmmlab.backends.mmm import MmmFit
    from mmmlab.bench.run.fit_cell import prepare, run_here, score
    from mmmlab.inference.batch import fit_batch
    from mmmlab.models import ModelConfig

    t0 = time.perf_counter()
    results: list[tuple[str, Any] | None] = [None] * len(jobs)
    ready: dict[int, Any] = {}
    for i, job in enumerate(jobs):
        try:
            one = prepare(job)
        except Exception:  # noqa: BLE001  (this cell's failure)
            results[i] = ("failed", traceback.format_exc())
            continue
        if isinstance(one, CellResult):
            results[i] = ("done", one)
        else:
            ready[i] = one
    if ready:
        first = jobs[next(iter(ready))].cell  # the batch key makes params and inference equal
        inference = dict(first.inference)
        inference.pop("method", None)
        fits = None
        try:
            config = ModelConfig.model_validate(dict(first.params))
            missing = set(config.channels) - set(ready[next(iter(ready))].train.channels)
            if missing:
                raise Incompatible(f"config names channels {sorted(missing)} the data lacks")
            items = [
                (r.train, jobs[i].cell.cell_seed, r.extra.get("lift_tests", ()))
                for i, r in ready.items()
            ]
            fits = fit_batch(items, config, **inference)
        except Exception:  # noqa: BLE001  (redo the cells one by one: each fails alone)
            fits = None
        shared = (time.perf_counter() - t0) / len(jobs)
        for n, (i, r) in enumerate(ready.items()):
            try:
                if fits is None:
                    results[i] = ("done", run_here(jobs[i]))
                else:
                    results[i] = ("done", score(jobs[i], r, MmmFit(fits[n]), shared))
            except Exception:  # noqa: BLE001  (this cell's failure)
                results[i] = ("failed", traceback.format_exc())
    return results  # type: ignore[return-value]


def run_task(payload: CellJob | list[CellJob]) -> Any:
    """The worker function of a batched run: a batch task's cells (`run_cells`) or one
    cell (`cell.run_cell`)."""
    if isinstance(payload, list):
        return run_cells(payload)
    from mmmlab.bench.run.cell import run_cell

    return run_cell(payload)
