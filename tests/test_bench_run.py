"""The benchmark end to end with the real sampler: run, fail a cell, interrupt, resume, report."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from bench_tasks import ctrl_c_as_in_a_terminal  # tests/ is on sys.path (pytest rootdir)
from mmmlab.bench.grid.spec import parse_spec
from mmmlab.bench.results.store import Store
from mmmlab.bench.run.runner import run_benchmark
from mmmlab.cli import app

pytestmark = pytest.mark.xdist_group("bench")
ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "name": "tiny",
    "datasets": [{"preset": "hill_single"}, {"preset": "small_business"}],
    "models": [{"name": "logistic"}, {"name": "hill", "params": {"saturation": "hill"}}],
    "seeds": 1,
    "inference": {"num_warmup": 150, "num_samples": 150},
    "convergence": {"rhat": 1.05, "ess_bulk": 50},
    "reference_model": "logistic",
    "run": {"save_posterior": True},
}


def _spec_file(tmp_path: Path, spec: dict) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_grid_runs_records_a_failing_cell_and_writes_the_report(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("date,revenue,tv\n2024-01-07,1,1\n2024-01-14,2,x\n")
    spec = dict(TINY) | {
        "datasets": TINY["datasets"]
        + [{"file": str(bad), "columns": {"date": "date", "target": "revenue", "spend": ["tv"]}}],
        # a configuration that names a channel no simulated dataset has: skipped, not failed
        "models": TINY["models"]
        + [{"name": "tv_delayed", "params": {"channels": {"tv": {"adstock": "delayed"}}}}],
    }
    path = _spec_file(tmp_path, spec)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["bench", "run", str(path), "--out", str(out)])
    assert result.exit_code == 3, result.output  # some cells failed, not all
    assert "3 of 9 cell(s) failed" in result.output and "--retry-failed" in result.output
    with Store.open(out, readonly=True) as store:
        cells = store.cells_frame().set_index("name")
        metrics = store.metrics_frame()
    assert len(cells) == 9
    failed = cells[cells["status"] == "failed"]
    assert sorted(failed.index) == [
        "bad/hill/seed=0",
        "bad/logistic/seed=0",
        "bad/tv_delayed/seed=0",
    ]
    skipped = cells[cells["status"] == "skipped"]
    assert sorted(skipped.index) == [
        "hill_single/tv_delayed/seed=0",
        "small_business/tv_delayed/seed=0",
    ]
    assert all("tv" in r for r in skipped["skip_reason"])
    assert all("bad.csv" in e and "tv" in e for e in failed["error"])
    assert (cells["status"] == "done").sum() == 4
    wide = metrics[metrics["key"] == ""].pivot(index="cell", columns="metric", values="value")
    for column in ("test_rmse", "elpd_loo", "max_rhat", "compile_s", "r2_train", "decomp_rssd"):
        assert np.isfinite(wide[column]).all(), column
    # delta_loo against the reference model, for the other model of each seed-cell
    assert np.isfinite(wide.loc["small_business/hill/seed=0", "delta_loo"])
    assert "delta_loo" not in wide or np.isnan(
        wide.loc["small_business/logistic/seed=0", "delta_loo"]
    )
    truth_metrics = metrics[metrics["metric"] == "roas_true"]
    assert set(truth_metrics["key"]) >= {"search_ads", "spend"}
    with Store.open(out, readonly=True) as store:
        saved = store.artifact_dir("small_business/hill/seed=0") / "fit"
    assert (saved / "posterior.nc").exists()
    html = (out / "report.html").read_text()
    assert "http://" not in html and "Convergence" in html
    assert (out / "report.md").exists() and (out / "environment.json").exists()
    summary = CliRunner().invoke(app, ["bench", "summary", str(out)])
    assert summary.exit_code == 0 and "convergence" in summary.output
    exported = CliRunner().invoke(app, ["bench", "export", str(out), "--format", "parquet"])
    assert exported.exit_code == 0 and (out / "metrics.parquet").exists()
    listed = CliRunner().invoke(app, ["bench", "list", "--root", str(tmp_path)])
    assert listed.exit_code == 0 and "run" in listed.output
    again = CliRunner().invoke(app, ["bench", "run", str(path), "--out", str(out)])
    assert again.exit_code == 3 and "ran 0 cell(s)" in again.output
    only = run_benchmark(parse_spec(spec), path.read_text(), out, retry_failed=True, only="/hill/")
    assert only.ran == 1 and only.counts["failed"] == 3  # the other failures stay recorded
    retry = run_benchmark(parse_spec(spec), path.read_text(), out, retry_failed=True)
    assert retry.ran == 3 and retry.counts["failed"] == 3
    status = CliRunner().invoke(app, ["bench", "status", str(out)])
    # Rich wraps and elides long error lines at the terminal width (the tmp path's length
    # varies): look for the cell and the error's kind, without whitespace.
    flat = "".join(status.output.split())
    assert status.exit_code == 0 and "failed" in flat
    assert "bad/logistic/seed=0" in flat and "DataFileError" in flat


def test_a_run_where_every_cell_failed_exits_1(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("date,revenue,tv\n2024-01-07,1,1\n2024-01-14,2,x\n")
    columns = {"date": "date", "target": "revenue", "spend": ["tv"]}
    spec = TINY | {"datasets": [{"file": str(bad), "columns": columns}], "run": {}}
    path, out = _spec_file(tmp_path, spec), tmp_path / "run"
    args = ["bench", "run", str(path), "--out", str(out), "--workers", "1", "--no-report"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "2 of 2 cell(s) failed" in result.output


def test_a_timed_out_cell_is_recorded_and_the_grid_goes_on(tmp_path):
    spec = parse_spec(TINY | {"datasets": [{"preset": "hill_single"}]})
    result = run_benchmark(spec, yaml.safe_dump(TINY), tmp_path / "r", timeout_s=0.5, workers=1)
    assert result.counts["failed"] == 2, result.counts
    with Store.open(tmp_path / "r", readonly=True) as store:
        errors = store.cells_frame()["error"].tolist()
    assert all("timed out" in e for e in errors)


def test_excluded_cells_are_skipped_with_the_reason_until_the_rule_goes(tmp_path):
    one = TINY | {"datasets": [{"preset": "hill_single"}], "run": {}}
    rule = {"models": ["hill"], "reason": "slow on 2 cores"}
    out = tmp_path / "r"
    first = run_benchmark(parse_spec(one | {"exclude": [rule]}), "", out, workers=1)
    assert (first.ran, first.counts["done"], first.counts["skipped"]) == (1, 1, 1)
    with Store.open(out, readonly=True) as store:
        cells = store.cells_frame().set_index("name")
    assert cells.loc["hill_single/hill/seed=0", "skip_reason"] == (
        "excluded by the spec: slow on 2 cores"
    )
    again = run_benchmark(parse_spec(one), "", out, workers=1)  # same run directory
    assert (again.ran, again.counts["done"], again.counts["skipped"]) == (1, 2, 0)


def test_interrupted_run_resumes_without_losing_or_repeating_cells(tmp_path):
    # 10 cells: on a loaded machine the check below can see 2 done when several more are,
    # so enough must be left for the interrupt to land mid-run
    spec = TINY | {"seeds": 5, "datasets": [{"preset": "hill_single"}]}
    path = _spec_file(tmp_path, spec)
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "mmmlab.cli",
        "bench",
        "run",
        str(path),
        "--out",
        str(out),
        "--workers",
        "1",
        "--no-report",
    ]
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )
    deadline = time.monotonic() + 240
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(1)
        if (out / "results.sqlite").exists():
            with Store.open(out, readonly=True) as store:
                done = store.counts()["done"]
            if done >= 2:
                break
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    with Store.open(out, readonly=True) as store:
        before = store.counts()
    assert 2 <= before["done"] < 10, before
    finished_before = before["done"]
    result = CliRunner().invoke(app, ["bench", "run", str(path), "--out", str(out), "--no-report"])
    assert result.exit_code == 0, result.output
    with Store.open(out, readonly=True) as store:
        cells = store.cells_frame()
    assert len(cells) == 10 and (cells["status"] == "done").all()
    assert cells["name"].is_unique
    assert f"ran {10 - finished_before} cell(s)" in result.output
    assert (cells["attempts"] <= 2).all()


@pytest.mark.xdist_group("ray")
def test_ray_executor_runs_a_grid(tmp_path):
    spec = parse_spec(TINY | {"datasets": [{"preset": "hill_single"}]})
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env_path) if p)
    try:
        result = run_benchmark(spec, "tiny", tmp_path / "ray", executor="ray", workers=2)
    finally:
        os.environ["PYTHONPATH"] = env_path
    assert result.counts["done"] == 2, result.counts


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_ray_executor_runs_the_quick_suite(tmp_path):
    result = CliRunner().invoke(
        app, ["bench", "run", "--executor", "ray", "--out", str(tmp_path / "quick")]
    )
    assert result.exit_code == 0, result.output
    with Store.open(tmp_path / "quick", readonly=True) as store:
        assert store.counts()["done"] == 8
    assert (tmp_path / "quick" / "report.html").exists()
