"""One cell in a worker: `run_cell`, the executor's worker function
(`mmmlab.bench.run.cell:run_cell`), fits and scores it in this process (`fit_cell`) or, for a
backend that lives in another environment, under that environment's interpreter (`isolated`).

Its payload is a plain dict (see `payload_of`), so it pickles for local processes and Ray alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmmlab.bench.grid.cells import Cell, expand_variants, thaw
from mmmlab.bench.grid.spec import BenchSpec
from mmmlab.bench.run.fit_cell import run_here
from mmmlab.bench.run.isolated import peer_python, run_isolated
from mmmlab.bench.run.resources import PeakMemory


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


def run_cell(payload: dict[str, Any]) -> dict[str, Any]:
    """Fit and score one cell. Returns {"metrics": [(metric, key, value)], "skipped": reason}.

    A cell whose backend lives in another environment (``payload["python"]``, a peer library's
    interpreter) runs there in a child process (`bench.isolated`). ``peak_memory_gb`` is the
    highest resident memory of this process and its children while the cell ran.
    """
    with PeakMemory() as peak:
        out = run_isolated(payload) if payload.get("python") else run_here(payload)
    if out["skipped"] is None:
        out["metrics"].append(("peak_memory_gb", "", peak.gib))
    return out
