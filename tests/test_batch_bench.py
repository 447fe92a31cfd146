"""Batched bench cells (`bench.run.batched`): the same store with and without batching, a
resumable run, and a failure that stays with its own cell (real sampler, tiny settings)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmmlab.bench.grid.cells import expand
from mmmlab.bench.grid.spec import parse_spec
from mmmlab.bench.results.store import Store
from mmmlab.bench.run.batched import cell_names, group_tasks, run_cells, split_outcome
from mmmlab.bench.run.executor import Outcome, Task
from mmmlab.bench.run.job import CellJob, CellResult
from mmmlab.bench.run.runner import run_benchmark

pytestmark = pytest.mark.xdist_group("bench")
SPEC = {
    "name": "batched",
    "datasets": [{"preset": "small_business"}],
    "models": [{"name": "mmm"}],
    "seeds": 3,
    "inference": {"num_warmup": 100, "num_samples": 100},
    "metrics": ["convergence", "fit", "cost"],
}


def _frames(out):
    with Store.open(out, readonly=True) as store:
        return store.cells_frame(), store.metrics_frame()


def test_batched_run_gives_the_store_of_a_cell_by_cell_run(tmp_path):
    spec = parse_spec(SPEC)
    alone = run_benchmark(spec, "", tmp_path / "alone", workers=1)
    batched = run_benchmark(spec, "", tmp_path / "batched", workers=1, batch=8)
    assert alone.counts == batched.counts and alone.counts["done"] == 3
    assert batched.ran == 3
    cells_a, metrics_a = _frames(tmp_path / "alone")
    cells_b, metrics_b = _frames(tmp_path / "batched")
    same = ["name", "dataset", "model", "variant", "seed", "cell_seed", "status", "attempts"]
    same += ["code_version", "data_fingerprint", "error", "skip_reason"]
    assert cells_a[same].equals(cells_b[same])
    assert cells_a["worker"].tolist() == cells_b["worker"].tolist() == ["local-1"] * 3
    keys = ["cell", "metric", "key"]
    assert metrics_a[keys].equals(metrics_b[keys])  # the same rows, in the same order
    a = metrics_a.set_index(keys)["value"]
    b = metrics_b.set_index(keys)["value"]
    for (cell, metric, key), value in a.items():
        if metric in ("divergences", "rhat_threshold", "ess_threshold"):
            assert b[cell, metric, key] == value
        elif metric.startswith("r2_"):  # the same posterior, not the same draws
            assert abs(b[cell, metric, key] - value) < 0.05, (cell, metric)
    # Per-cell records beside the artifacts, as a cell-by-cell run writes them.
    records = {}
    for run in ("alone", "batched"):
        found = sorted((tmp_path / run / "artifacts").rglob("result.json"))
        records[run] = [json.loads(p.read_text()) for p in found]
        assert len(found) == 3
    for ra, rb in zip(records["alone"], records["batched"], strict=True):
        assert ra.keys() == rb.keys()
    # Resumable: nothing pending, nothing runs.
    again = run_benchmark(spec, "", tmp_path / "batched", workers=1, batch=8)
    assert again.ran == 0 and again.counts == alone.counts


def test_a_failing_cell_fails_alone_and_a_dead_batch_fails_its_cells(tmp_path):
    good = expand(parse_spec(SPEC | {"inference": {"num_warmup": 30, "num_samples": 30}}))
    bad_spec = SPEC | {
        "datasets": [
            {
                "file": str(tmp_path / "x.csv"),
                "columns": {"date": "d", "target": "y", "spend": ["tv"]},
            }
        ]
    }
    (tmp_path / "x.csv").write_text("d,y,tv\n2024-01-07,1,x\n")
    bad = expand(parse_spec(bad_spec))[0]
    jobs = [CellJob(good[0]), CellJob(bad), CellJob(good[1])]
    out = run_cells(jobs)
    assert [s for s, _ in out] == ["done", "failed", "done"]
    assert isinstance(out[0][1], CellResult) and out[0][1].metrics
    assert "Traceback" in out[1][1]
    metrics = dict(((m, k), v) for m, k, v in out[2][1].metrics)
    assert metrics["peak_memory_gb", ""] > 0 and ("max_rhat", "") in metrics

    tasks = group_tasks([Task(j.cell.name, j) for j in jobs], 8)
    batches = [t for t in tasks if isinstance(t.payload, list)]
    assert len(tasks) == 2 and len(batches) == 1 and len(batches[0].payload) == 2
    names = cell_names(batches[0].name)
    assert names == [good[0].name, good[1].name]
    dead = Outcome(batches[0].name, "failed", None, "timed out after 5 s", 10.0, "local-1")
    split = split_outcome(dead)
    assert [o.name for o in split] == names
    assert all(o.status == "failed" and "timed out" in o.error for o in split)
    assert [o.seconds for o in split] == [5.0, 5.0]
    assert group_tasks(tasks[:1], 1) == tasks[:1]
    assert np.isfinite(metrics["max_rhat", ""])
