"""A damaged results store is named by every command, never reset or replaced, and
`bench doctor` rebuilds it from the cells' records beside their artifacts, cell by cell."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mmmlab.bench.grid.spec import load_spec
from mmmlab.bench.results.store import Store
from mmmlab.bench.run.runner import run_benchmark
from mmmlab.cli import app

pytestmark = pytest.mark.xdist_group("bench")
COLUMNS = {"date": "date", "target": "revenue", "spend": ["tv"]}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path, pd.DataFrame, pd.DataFrame]:
    """A real run: two models on a simulated world (done, delta_loo against the reference)
    and on a file with a bad cell (failed). Returns (spec file, run, cells, metrics)."""
    folder = tmp_path_factory.mktemp("doctor")
    (folder / "bad.csv").write_text("date,revenue,tv\n2024-01-07,1,1\n2024-01-14,2,x\n")
    spec = {
        "name": "doctor",
        "datasets": [{"preset": "hill_single"}, {"file": "bad.csv", "columns": COLUMNS}],
        "models": [{"name": "logistic"}, {"name": "hill", "params": {"saturation": "hill"}}],
        "metrics": ["predictive", "loo", "convergence"],
        "inference": {"num_warmup": 100, "num_samples": 100},
        "reference_model": "logistic",
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = folder / "run"
    result = run_benchmark(*load_spec(path), out, workers=1)
    assert (result.counts["done"], result.counts["failed"]) == (2, 2), result.counts
    with Store.open(out, readonly=True) as store:
        cells, metrics = store.cells_frame(), store.metrics_frame()
    assert "delta_loo" in set(metrics["metric"])
    return path, out, cells, metrics


def _copy(finished, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(finished[1], out)
    return out


def _invoke(*args: str):
    result = CliRunner().invoke(app, ["bench", *args])
    return result, " ".join(result.output.split())


def _aside(out: Path) -> list[Path]:
    """The damaged stores moved aside (without the -wal and -shm that go with them)."""
    return [p for p in out.glob("results.sqlite.damaged-*") if p.name[-4:] not in ("-wal", "-shm")]


def _records(out: Path) -> dict[str, Path]:
    return {f.parent.name: f for f in (out / "artifacts").glob("*/result.json")}


def test_a_damaged_store_is_named_by_every_command_and_left_as_it_is(finished, tmp_path):
    spec = str(finished[0])
    out = _copy(finished, tmp_path)
    db = out / "results.sqlite"
    for damage in ("truncated", "overwritten"):
        data = db.read_bytes()
        broken = data[: len(data) // 2] if damage == "truncated" else b"\x17" * len(data)
        db.write_bytes(broken)
        for command in (
            ["run", spec, "--out", str(out)],
            ["status", str(out)],
            ["summary", str(out)],
            ["export", str(out)],
            ["report", str(out)],
        ):
            result, flat = _invoke(*command)
            assert result.exit_code == 2, (damage, command, result.output)
            assert f"{db} is damaged" in flat and f"mmmlab bench doctor {out}" in flat, flat
            assert "Traceback" not in result.output
        assert db.read_bytes() == broken, damage  # never reset, overwritten or replaced
        listed, flat = _invoke("list", "--root", str(tmp_path))
        assert listed.exit_code == 0 and f"skipping {db}: {db} is damaged" in flat, flat


def test_doctor_moves_the_damaged_store_aside_and_rebuilds_it_from_the_records(finished, tmp_path):
    spec, _, cells, metrics = finished
    out = _copy(finished, tmp_path)
    db = out / "results.sqlite"
    broken = db.read_bytes()[:5000]
    db.write_bytes(broken)
    records = _records(out)
    assert len(records) == 4  # every finished cell left its record
    lost = next(name for name in records if name.startswith("bad__hill"))
    records[lost].unlink()

    result, flat = _invoke("doctor", str(out))
    assert result.exit_code == 0, result.output
    aside = _aside(out)
    assert len(aside) == 1 and aside[0].read_bytes() == broken  # kept as it was
    assert f"moved aside: {aside[0]}" in flat
    assert "3 cell(s) recovered, 1 not" in flat, flat
    assert f"not recovered artifacts/{lost}: no result record" in flat, flat
    for name in ("hill_single/hill/seed=0", "hill_single/logistic/seed=0", "bad/logistic/seed=0"):
        assert f"recovered {name}" in flat, flat
    with Store.open(out, readonly=True) as store:
        rebuilt, rebuilt_metrics = store.cells_frame(), store.metrics_frame()
        assert store.meta()["spec_hash"]
    keep = ["name", "dataset", "model", "variant", "seed", "cell_seed", "status", "attempts"]
    keep += ["started", "finished", "seconds", "error", "skip_reason", "worker", "position"]
    expected = cells[cells["name"] != "bad/hill/seed=0"][keep].reset_index(drop=True)
    pd.testing.assert_frame_equal(rebuilt[keep].reset_index(drop=True), expected)
    pd.testing.assert_frame_equal(rebuilt_metrics, metrics)  # delta_loo recomputed too

    healthy, flat = _invoke("doctor", str(out))
    assert healthy.exit_code == 0 and "is healthy" in flat, flat
    assert len(_aside(out)) == 1
    rerun, flat = _invoke("run", str(spec), "--out", str(out), "--no-report")
    assert rerun.exit_code == 3 and "ran 1 cell(s)" in flat, flat  # the lost cell, again


def test_an_empty_store_beside_artifacts_is_refused_and_rebuilt_by_doctor(finished, tmp_path):
    spec, _, cells, _ = finished
    out = _copy(finished, tmp_path)
    db = out / "results.sqlite"
    db.write_bytes(b"")
    for command in (["run", str(spec), "--out", str(out)], ["status", str(out)]):
        result, flat = _invoke(*command)
        assert result.exit_code == 2, result.output
        assert f"{db} is empty (0 bytes), yet {out / 'artifacts'} holds 4 cell folder(s)" in flat
        assert f"mmmlab bench doctor {out}" in flat, flat
    assert db.stat().st_size == 0  # not taken for a new run
    result, flat = _invoke("doctor", str(out))
    assert result.exit_code == 0 and "4 cell(s) recovered, 0 not" in flat, flat
    assert [p.stat().st_size for p in _aside(out)] == [0]
    with Store.open(out, readonly=True) as store:
        assert store.cells_frame()["status"].tolist() == cells["status"].tolist()
    for path in out.glob("results.sqlite*"):  # now the store is lost altogether
        if ".damaged-" not in path.name:
            path.unlink()
    result, flat = _invoke("run", str(spec), "--out", str(out))
    assert result.exit_code == 2 and f"{db} is missing, yet" in flat, flat
    result, flat = _invoke("doctor", str(out))
    assert result.exit_code == 0 and "4 cell(s) recovered, 0 not" in flat, flat
    assert "moved aside" not in flat and len(_aside(out)) == 1
