"""Run a benchmark: expand the grid, resume from the store, execute the pending cells with a
live progress view, compare against the reference model, and write the report.

The driver process alone writes the store, one transaction per finished cell: a crash or
Ctrl-C loses at most the cells in flight, and a rerun of the same spec resumes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from mmmlab.bench.grid.cells import EXCLUDED, excluded_cells, expand
from mmmlab.bench.grid.spec import BenchSpec, spec_hash
from mmmlab.bench.results.environment import code_version
from mmmlab.bench.results.lock import hold
from mmmlab.bench.results.records import write_record
from mmmlab.bench.results.reference import compare_to_reference
from mmmlab.bench.results.schema import CellKey
from mmmlab.bench.results.store import CellRow, Store
from mmmlab.bench.run.batched import cell_names, group_tasks, split_outcome
from mmmlab.bench.run.executor import Outcome, Task
from mmmlab.bench.run.executors import make_executor
from mmmlab.bench.run.isolated import peer_python
from mmmlab.bench.run.job import CellJob
from mmmlab.bench.run.resume import stale_cells
from mmmlab.runtime import host_device_count

WORKER = "mmmlab.bench.run.cell:run_cell"
BATCH_WORKER = "mmmlab.bench.run.batched:run_task"


class RunResult(NamedTuple):
    """Where the run lives and how its cells ended."""

    run_dir: Path
    counts: dict[str, int]
    ran: int
    recovered: int


def worker_env(n_workers: int) -> dict[str, str]:
    """Split the cores between workers: each JAX process gets host devices for its share
    (at least `MIN_HOST_DEVICES`, so a cell's chains still run side by side)."""
    per_worker = host_device_count((os.cpu_count() or 1) // max(n_workers, 1))
    return {"XLA_FLAGS": f"--xla_force_host_platform_device_count={per_worker}"}


def run_benchmark(
    spec: BenchSpec,
    spec_text: str,
    out: str | Path,
    executor: str = "local",
    address: str | None = None,
    workers: int | None = None,
    timeout_s: float | None = None,
    force: bool = False,
    retry_failed: bool = False,
    rerun_stale: bool = False,
    only: str | None = None,
    progress: Callable[[dict[str, int], int, float], None] | None = None,
    on_event: Callable[[str, str], None] | None = None,
    batch: int = 1,
) -> RunResult:
    """Run every pending cell of `spec` into the run directory `out`.

    force : rerun finished and failed cells; retry_failed : rerun only failed ones
    rerun_stale : rerun the finished cells of other code or changed data (`resume`)
    only : run (and with a rerun flag, reset) only cells whose name contains this text
    progress : ``progress(counts, total, eta_seconds)`` after each change
    on_event : ``on_event(kind, text)`` for 'failed' / 'skipped' / 'recovered' / 'stale' /
        'note' notes
    batch : fit up to this many cells that differ only by seed in one program
        (`run.batched`; 1: every cell alone); a batch's time limit is `batch` cells' worth

    The run holds `out` (`bench.results.lock`): another live run there raises `RunDirectoryHeld`.
    """
    out = Path(out)
    cells = expand(spec)
    note = None if on_event is None else (lambda text: on_event("note", text))
    by_name = {c.name: c for c in cells}
    digest = spec_hash(spec)
    with hold(out, note), Store.open(out, spec_text, digest, spec.name) as store:
        for text in store.notes if note else ():
            note(text)
        if store.recovered and on_event:
            on_event(
                "recovered",
                f"{store.recovered} cell(s) in flight when the last run stopped are pending again",
            )
        store.add_cells(
            CellRow(
                c.name,
                c.dataset.name,
                c.model,
                c.variant,
                c.seed,
                c.cell_seed,
                "pending",
                None,
            )
            for c in cells
        )
        store.apply_exclusions(excluded_cells(spec, cells), EXCLUDED)
        chosen = None if only is None else [n for n in by_name if only in n]  # --only narrows
        version = code_version()
        if force:
            store.reset(chosen)
        else:
            stale = stale_cells(store, cells, version)
            if rerun_stale:
                store.reset([n for n in stale.names if chosen is None or n in chosen])
            elif stale.names and on_event:
                on_event("stale", stale.message())
            if retry_failed:
                store.reset(chosen, statuses=("failed",))
        wanted = by_name if chosen is None else set(chosen)
        pending = [n for n in store.pending() if n in wanted]
        python = {m.backend: peer_python(m.backend) for m in spec.models}
        tasks = [
            Task(n, CellJob(by_name[n], str(store.artifact_dir(n)), python[by_name[n].backend]))
            for n in pending
        ]
        n_cells = len(tasks)
        tasks = group_tasks(tasks, batch)
        n_workers = min(workers or spec.run.workers or os.cpu_count() or 1, max(len(tasks), 1))
        timeout = timeout_s if timeout_s is not None else spec.run.timeout_s
        if timeout is not None and len(tasks) < n_cells:
            timeout *= batch
        runner = make_executor(
            executor,
            n_workers=n_workers,
            timeout_s=timeout,
            address=address,
            env=worker_env(n_workers),
            memory_gb=spec.run.memory_gb if executor == "local" else None,
        )
        started = time.monotonic()
        finished = 0

        def report() -> None:
            if progress is None:
                return
            done = max(finished, 1)
            left = n_cells - finished
            eta = (time.monotonic() - started) / done * left if finished else float("nan")
            progress(store.counts(), len(cells), eta)

        def on_start(name: str, worker: str) -> None:
            for cell in cell_names(name):
                store.mark_running(cell, worker)
            report()

        def on_outcome(outcome: Outcome) -> None:
            nonlocal finished
            for each in split_outcome(outcome):
                finished += 1
                _record(store, each, on_event, digest, version)
            report()

        report()
        worker_fn = WORKER if len(tasks) == n_cells else BATCH_WORKER
        runner.run(tasks, worker_fn, on_start=on_start, on_outcome=on_outcome)
        if spec.reference_model is not None and "loo" in spec.metrics:
            compare_to_reference(store, spec.reference_model)
        return RunResult(out, store.counts(), n_cells, store.recovered)


def _record(store: Store, outcome: Outcome, on_event, digest: str, version: str) -> None:
    """Store the outcome keyed by the code and data that produced it, then its record beside
    the cell's artifacts (`results.records`)."""
    metrics = []
    done = outcome.status == "done"
    key = CellKey(version, outcome.result.data_fingerprint if done else None)
    if done and outcome.result.skipped:
        reason = outcome.result.skipped
        store.record_skipped(outcome.name, reason, key)
        if on_event:
            on_event("skipped", f"{outcome.name}: {reason}")
    elif done:
        metrics = outcome.result.metrics
        store.record_done(outcome.name, metrics, outcome.seconds, key)
    else:
        store.record_failed(outcome.name, outcome.error, outcome.seconds, key)
        if on_event:
            first = outcome.error.strip().splitlines()[-1] if outcome.error.strip() else "?"
            on_event("failed", f"{outcome.name}: {first}")
    row = store.cell(outcome.name)
    write_record(store.artifact_dir(outcome.name), row, metrics, digest)
