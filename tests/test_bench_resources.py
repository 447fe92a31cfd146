"""The resource guard and isolated cells: memory of a process tree, a memory budget that
fails a cell (never the run), a posterior too large for the budget skipped up front, and a cell
run under another interpreter and brought back."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace

import pytest
import yaml

from mmmlab.bench.grid.cells import expand
from mmmlab.bench.grid.spec import parse_spec
from mmmlab.bench.results.store import Store
from mmmlab.bench.run.executor import Task
from mmmlab.bench.run.isolated import peer_python, run_isolated
from mmmlab.bench.run.job import CellJob
from mmmlab.bench.run.local import LocalExecutor
from mmmlab.bench.run.resources import GIB, PeakMemory, output_gib, tree_rss
from mmmlab.bench.run.runner import run_benchmark

pytestmark = pytest.mark.xdist_group("bench")
MIB = 1024**2


def test_tree_memory_counts_children_and_the_peak_sees_a_short_spike():
    before = tree_rss()
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; b = b'x' * (300 * 2**20); time.sleep(30)"]
    )
    try:
        deadline = time.monotonic() + 20
        while tree_rss() - before < 250 * MIB and time.monotonic() < deadline:
            time.sleep(0.1)
        assert tree_rss() - before >= 250 * MIB
        assert tree_rss(child.pid) >= 250 * MIB
    finally:
        child.kill()
        child.wait()
    with PeakMemory(interval_s=0.02) as peak:
        block = b"y" * (200 * MIB)
        time.sleep(0.3)
        del block
    assert peak.peak - before >= 150 * MIB
    assert tree_rss() - before < 150 * MIB  # freed again, yet the peak remembers it


def test_a_cell_over_the_memory_budget_fails_with_the_figures_and_the_rest_finish():
    tasks = [
        Task("hog", ("hold", (600 * MIB, 30.0))),
        Task("small", ("return", 7)),
    ]
    hog, small = LocalExecutor(n_workers=1, memory_gb=0.4).run(tasks, "bench_tasks:act")
    assert hog.status == "failed" and hog.seconds < 20
    assert "memory budget exceeded" in hog.error and "over the budget of 0.4 GiB" in hog.error
    assert small.status == "done" and small.result == 7


def test_a_posterior_too_big_for_the_budget_is_skipped_before_it_fits(tmp_path):
    spec = {
        "name": "tight",
        "datasets": [{"preset": "small_business"}],
        "models": [{"name": "m", "params": {"saturation": "hill"}}],
        "inference": {"num_warmup": 20, "num_samples": 200_000, "num_chains": 2},
        "run": {"memory_gb": 1.2},  # above a worker's own memory, below what scoring needs
    }
    need = output_gib(400_000, 83, 1, 4)  # the draws of the 80% training window
    assert need > 1.2
    result = run_benchmark(parse_spec(spec), yaml.safe_dump(spec), tmp_path / "run", workers=1)
    assert result.counts["skipped"] == 1, result.counts
    with Store.open(tmp_path / "run", readonly=True) as store:
        reason = store.cells_frame().iloc[0]["skip_reason"]
    assert "would exceed the memory budget" in reason and "run.memory_gb = 1.2" in reason
    assert f"{need:.1f} GiB" in reason


def _job(python: str = sys.executable, **params) -> CellJob:
    """A small MAP cell of small_business, to run under `python`."""
    spec = {
        "name": "iso",
        "datasets": [{"preset": "small_business"}],
        "models": [{"name": "m", "params": {"saturation": "hill", "yearly_seasonality": 1}}],
        "inference": {"method": "map", "num_samples": 50},
        "metrics": ["predictive", "fit", "recovery", "cost"],
    }
    cell = expand(parse_spec(spec))[0]
    return CellJob(replace(cell, params=cell.params | params), None, python)


def test_a_cell_runs_under_another_interpreter_and_its_metrics_come_back():
    out = run_isolated(_job())
    assert out.skipped is None and len(out.data_fingerprint) == 16
    metrics = {(m, k): v for m, k, v in out.metrics}
    assert 0 < metrics[("r2_train", "")] <= 1
    assert 0 < metrics[("durbin_watson_train", "")] < 4
    assert ("roas_cover90", "search_ads") in metrics
    assert not any(m == "peak_memory_gb" for m, _, _ in out.metrics)  # the caller adds it


def test_an_isolated_cell_that_fails_or_cannot_start_says_why():
    with pytest.raises(RuntimeError, match="no_such_site|not a valid ModelConfig"):
        run_isolated(_job(no_such_site=1))
    with pytest.raises(RuntimeError, match="cannot start the interpreter"):
        run_isolated(_job("/nonexistent/bin/python"))


def test_peer_interpreters_are_chosen_by_env_then_install_then_venv(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert peer_python("mmmlab") is None  # only peer libraries run elsewhere
    monkeypatch.setenv("MMMLAB_PYTHON_PYMC", "/opt/py/bin/python")
    assert peer_python("pymc-marketing") == "/opt/py/bin/python"
    monkeypatch.setenv("MMMLAB_PYTHON_PYMC", "none")
    assert peer_python("pymc-marketing") is None
    monkeypatch.delenv("MMMLAB_PYTHON_PYMC")
    venv = tmp_path / ".venv-meridian" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text("")
    import importlib.util

    if importlib.util.find_spec("meridian") is None:
        assert peer_python("meridian") == str(venv / "python")


def test_the_output_estimate_counts_contributions_and_two_series_per_draw():
    assert output_gib(4000, 208, 50, 30) == pytest.approx(4000 * 208 * 50 * 32 * 8 / GIB)
