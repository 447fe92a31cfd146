"""One cell in a worker: `run_cell`, the executor's worker function
(`mmmlab.bench.run.cell:run_cell`), fits and scores a `job.CellJob` in this process
(`fit_cell`) or, for a backend that lives in another environment, under that environment's
interpreter (`isolated`)."""

from __future__ import annotations

from dataclasses import replace

from mmmlab.bench.run.fit_cell import run_here
from mmmlab.bench.run.isolated import run_isolated
from mmmlab.bench.run.job import CellJob, CellResult
from mmmlab.bench.run.resources import PeakMemory


def run_cell(job: CellJob) -> CellResult:
    """Fit and score one cell. ``peak_memory_gb`` is the highest resident memory of this
    process and its children (a peer's interpreter included) while the cell ran."""
    with PeakMemory() as peak:
        out = run_isolated(job) if job.python else run_here(job)
    if out.skipped is None:
        out = replace(out, metrics=(*out.metrics, ("peak_memory_gb", "", peak.gib)))
    return out
