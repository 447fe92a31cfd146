"""The benchmark result store on real SQLite files: records, recovery, resets, exports, monitors."""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mmmlab.bench.results.export import export
from mmmlab.bench.results.runs import list_runs
from mmmlab.bench.results.schema import SCHEMA_VERSION, CellKey
from mmmlab.bench.results.store import CellRow, Store, StoreError, open_readonly

SPEC = "name: tiny\ndatasets: [a, b]\n"


def grid(n: int = 4) -> list[CellRow]:
    return [
        CellRow(f"d{i % 2}/m[v=1]/seed={i}", f"d{i % 2}", "m", "v=1", i, 1000 + i) for i in range(n)
    ]


def skipped(row: CellRow) -> CellRow:
    return replace(row, status="skipped", skip_reason="model cannot fit geo data")


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "run", SPEC, spec_hash="aaa111", name="tiny") as s:
        yield s


def names(n: int = 4) -> list[str]:
    return [row.name for row in grid(n)]


def test_creation_writes_spec_environment_database_and_artifacts(tmp_path):
    run = tmp_path / "runs" / "r1"
    with Store.open(run, SPEC, spec_hash="aaa111", name="tiny") as s:
        meta = s.meta()
        folder = s.artifact_dir("small_business/single_hill[adstock=weibull_cdf]/seed=3")
    assert (run / "spec.yaml").read_text() == SPEC
    env = json.loads((run / "environment.json").read_text())
    assert {"python", "platform", "cpu_count", "packages", "git_commit", "jax_devices"} <= set(env)
    assert set(env["packages"]) >= {"mmmlab", "jax", "numpyro", "numpy", "pandas", "arviz"}
    assert (run / "results.sqlite").is_file() and (run / "artifacts").is_dir()
    assert meta["spec_hash"] == "aaa111" and meta["name"] == "tiny" and meta["created"]
    assert folder.is_dir() and folder.parent == run / "artifacts" and "/" not in folder.name
    assert folder.name.startswith("small_business__single_hill[adstock=weibull_cdf]__seed=3-")


def test_artifact_folders_of_similar_names_stay_apart(store):
    assert store.artifact_dir("a/b") != store.artifact_dir("a__b")
    assert store.artifact_dir("a/b") == store.artifact_dir("a/b")


def test_add_cells_is_idempotent_and_keeps_grid_order(store):
    rows = grid(4)
    assert store.add_cells(rows[:2]) == 2
    assert store.add_cells(reversed(rows)) == 2  # the two new ones, after the first two
    assert store.add_cells(rows) == 0
    assert store.pending() == [rows[0].name, rows[1].name, rows[3].name, rows[2].name]
    cells = store.cells_frame()
    assert list(cells["position"]) == [0, 1, 2, 3]
    assert cells.loc[0, "cell_seed"] == 1000 and cells.loc[0, "attempts"] == 0
    assert store.counts() == {"pending": 4, "running": 0, "done": 0, "failed": 0, "skipped": 0}


def test_add_cells_leaves_existing_rows_untouched(store):
    rows = grid(2)
    store.add_cells(rows)
    store.mark_running(rows[0].name)
    store.record_done(rows[0].name, [("rmse", "", 1.0)])
    assert store.add_cells([skipped(rows[0])]) == 0
    assert store.counts()["done"] == 1


def test_numpy_seeds_are_stored_and_a_worker_thread_may_record(store):
    row = CellRow("a/m/seed=0", "a", "m", "", np.int64(0), np.uint32(2**31 + 5))
    store.add_cells([row])
    done = threading.Thread(target=store.record_done, args=(row.name, [("rmse", "", 1.0)]))
    done.start()
    done.join()
    assert store.cells_frame().loc[0, "cell_seed"] == 2**31 + 5
    assert store.counts()["done"] == 1


def test_cell_row_rejects_bad_status_and_seed():
    with pytest.raises(ValueError, match="'done' is not 'pending' or 'skipped'"):
        CellRow("a/m/seed=0", "a", "m", "", 0, 1, status="done")
    with pytest.raises(ValueError, match="64-bit"):
        CellRow("a/m/seed=0", "a", "m", "", 0, 2**64 - 1)


def test_done_and_failed_records_with_metrics_and_nan(store):
    a, b, c = names(3)
    store.add_cells(grid(3))
    store.mark_running(a, worker="w1")
    metrics = [
        ("rmse", "", 2.5),
        ("elpd_loo", "", float("nan")),
        ("roas", "tv", 1.5),
        ("roas", "search", None),
    ]
    store.record_done(a, metrics, seconds=3.0)
    store.mark_running(b)
    store.record_failed(b, "Traceback (most recent call last):\n  ...\nValueError: boom")
    cells = store.cells_frame().set_index("name")
    assert cells.loc[a, "status"] == "done" and cells.loc[a, "seconds"] == 3.0
    assert cells.loc[a, "attempts"] == 1 and cells.loc[a, "worker"] == "w1"
    assert cells.loc[b, "status"] == "failed" and cells.loc[b, "error"].endswith("boom")
    assert cells.loc[b, "seconds"] >= 0  # measured from mark_running
    long = store.metrics_frame()
    assert list(long.columns) == [
        "cell",
        "dataset",
        "model",
        "variant",
        "seed",
        "status",
        "metric",
        "key",
        "value",
    ]
    got = {(r.metric, r.key): r.value for r in long.itertuples()}
    assert got[("rmse", "")] == 2.5 and got[("roas", "tv")] == 1.5
    assert math.isnan(got[("elpd_loo", "")]) and math.isnan(got[("roas", "search")])
    wide = store.metric_table()
    assert list(wide["cell"]) == [a, b, c]
    assert list(wide.columns[6:]) == ["elpd_loo", "rmse"]
    assert wide.loc[0, "rmse"] == 2.5 and math.isnan(wide.loc[1, "rmse"])
    assert list(store.metric_table(["rmse", "nope"]).columns[6:]) == ["rmse", "nope"]


def test_record_done_replaces_old_metrics_and_failed_clears_them(store):
    a = names(1)[0]
    store.add_cells(grid(1))
    store.record_done(a, [("rmse", "", 1.0), ("mape", "", 0.1)])
    store.record_done(a, [("rmse", "", 2.0)])
    assert store.metrics_frame()[["metric", "value"]].values.tolist() == [["rmse", 2.0]]
    store.record_failed(a, "boom")
    assert store.metrics_frame().empty


def test_unknown_cell_names_the_cell(store):
    with pytest.raises(StoreError, match="no cell named 'nope/m/seed=0'"):
        store.mark_running("nope/m/seed=0")


def test_metrics_write_is_atomic(store):
    a, b = names(2)
    store.add_cells(grid(2))
    store.record_done(a, [("rmse", "", 1.0)])
    store.mark_running(b)
    bad = [("rmse", "", 1.0), ("mape", "", 0.2), ("r2", "", "not a number"), ("x", "", 3.0)]
    for name in (a, b):
        with pytest.raises(StoreError, match="'r2' .* not a number"):
            store.record_done(name, iter(bad))
    with pytest.raises(StoreError, match="same \\(metric, key\\) twice"):
        store.record_done(b, [("rmse", "", 1.0), ("rmse", "", 2.0)])
    cells = store.cells_frame().set_index("name")
    assert cells.loc[a, "status"] == "done" and cells.loc[b, "status"] == "running"
    long = store.metrics_frame()
    assert long[["cell", "metric", "value"]].values.tolist() == [[a, "rmse", 1.0]]


def test_reopen_with_another_spec_hash_raises(tmp_path):
    run = tmp_path / "run"
    Store.open(run, SPEC, spec_hash="aaa111").close()
    with pytest.raises(StoreError, match="aaa111.*bbb222.*another --out.*move this") as info:
        Store.open(run, SPEC.replace("[a, b]", "[a, c]"), spec_hash="bbb222")
    assert str(run) in str(info.value)
    Store.open(run, spec_hash="aaa111").close()  # the same spec resumes
    assert (run / "spec.yaml").read_text() == SPEC


def test_the_same_spec_read_from_another_place_takes_its_new_hash_with_a_note(tmp_path):
    """A spec moved or read by another path has another hash (its relative data paths resolve
    anew) but says the same (comments aside): the run goes on, saying so."""
    run = tmp_path / "run"
    Store.open(run, SPEC, spec_hash="aaa111").close()
    with Store.open(run, "# moved to examples/specs/\n" + SPEC, spec_hash="ccc333") as moved:
        assert moved.meta()["spec_hash"] == "ccc333"
        assert len(moved.notes) == 1 and "aaa111 is now ccc333" in moved.notes[0]
    with Store.open(run, SPEC, spec_hash="ccc333") as again:
        assert again.notes == []


def test_finished_cells_are_keyed_by_code_and_data(store):
    store.add_cells(grid(3))
    a, b, c = names(3)
    store.record_done(a, [("rmse", "", 1.0)], key=CellKey("0.1.0+src.aaa", "f" * 16))
    store.record_failed(b, "boom", key=CellKey("0.1.0+src.aaa", None))
    store.record_skipped(c, "no geos", key=CellKey("0.1.0+src.bbb", "e" * 16))
    rows = store.cells_frame().set_index("name")
    assert (
        rows.loc[a, "code_version"] == "0.1.0+src.aaa"
        and rows.loc[a, "data_fingerprint"] == "f" * 16
    )
    assert pd.isna(rows.loc[b, "data_fingerprint"]) and rows.loc[c, "code_version"].endswith("bbb")


V1_CELLS = """CREATE TABLE cells (
    name TEXT PRIMARY KEY, dataset TEXT, model TEXT, variant TEXT, seed INTEGER,
    cell_seed INTEGER, status TEXT NOT NULL, attempts INTEGER DEFAULT 0, started REAL,
    finished REAL, seconds REAL, error TEXT, skip_reason TEXT, worker TEXT, position INTEGER
);
CREATE TABLE metrics (
    cell TEXT NOT NULL, metric TEXT NOT NULL, key TEXT NOT NULL DEFAULT '', value REAL,
    PRIMARY KEY (cell, metric, key)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"""


def test_a_store_of_the_first_schema_is_migrated_with_a_note(tmp_path):
    """A run directory from before cells were keyed by code and data: its cells keep their
    results and gain empty keys; the note says how many finished cells that concerns."""
    run = tmp_path / "old"
    run.mkdir()
    (run / "spec.yaml").write_text(SPEC)
    conn = sqlite3.connect(run / "results.sqlite")
    conn.executescript(V1_CELLS)
    meta = {"created": "2026-01-01T00:00:00+00:00", "name": "tiny", "schema_version": "1"}
    conn.executemany("INSERT INTO meta VALUES (?, ?)", (meta | {"spec_hash": "aaa111"}).items())
    conn.execute(
        "INSERT INTO cells (name, dataset, model, variant, seed, cell_seed, status, attempts,"
        " position) VALUES ('d0/m/seed=0', 'd0', 'm', '', 0, 7, 'done', 1, 0)"
    )
    conn.execute("INSERT INTO metrics VALUES ('d0/m/seed=0', 'rmse', '', 2.5)")
    conn.commit()
    conn.close()
    with open_readonly(run) as monitor:  # reading never migrates
        assert "code_version" not in monitor.cells_frame()
    with Store.open(run, SPEC, spec_hash="aaa111") as store:
        assert len(store.notes) == 1 and "schema 1 -> 2" in store.notes[0]
        assert "the 1 finished cell(s) stored before carry neither" in store.notes[0]
        assert store.meta()["schema_version"] == SCHEMA_VERSION == "2"
        row = store.cell("d0/m/seed=0")
        assert row["status"] == "done" and row["code_version"] is None
        assert store.metrics_frame()["value"].tolist() == [2.5]
    with Store.open(run, SPEC, spec_hash="aaa111") as store:
        assert store.notes == []


def test_running_cell_is_recovered_as_pending_on_reopen(tmp_path):
    run = tmp_path / "run"
    a, b, c = names(3)
    s = Store.open(run, SPEC, spec_hash="h")
    s.add_cells(grid(3))
    s.record_done(a, [("rmse", "", 1.0)])
    s.mark_running(b)  # the driver dies here, before recording
    s.close()
    with open_readonly(run) as monitor:  # a monitor never touches in-flight cells
        assert monitor.counts()["running"] == 1 and monitor.recovered == 0
    with Store.open(run, spec_hash="h") as s:
        assert s.recovered == 1
        assert s.pending() == [b, c]
        assert s.counts()["done"] == 1
        assert s.cells_frame().set_index("name").loc[b, "attempts"] == 1
    with Store.open(run, spec_hash="h") as s:
        assert s.recovered == 0


def test_reset_for_force_and_retry_failed(store):
    rows = grid(5)
    rows[4] = skipped(rows[4])
    a, b, c, d, e = (r.name for r in rows)
    store.add_cells(rows)
    store.record_done(a, [("rmse", "", 1.0)])
    store.record_failed(b, "boom")
    store.record_done(c, [("rmse", "", 2.0)])
    store.record_failed(d, "bang")

    assert store.reset([d, e], statuses=("failed",)) == 1  # names restrict; skipped e stays
    assert store.reset(statuses=("failed",)) == 1  # --retry-failed: b
    assert store.counts() == {"pending": 2, "running": 0, "done": 2, "failed": 0, "skipped": 1}
    assert store.pending() == [b, d]
    assert store.cells_frame().set_index("name").loc[b, "error"] is None

    assert store.reset() == 2  # --force: every done and failed cell
    assert store.metrics_frame().empty
    assert store.reset(statuses=("skipped",)) == 0
    assert store.counts() == {"pending": 4, "running": 0, "done": 0, "failed": 0, "skipped": 1}
    with pytest.raises(ValueError, match="unknown status \\['finished'\\]"):
        store.reset(statuses=("finished",))


def test_exclusions_skip_pending_cells_and_are_undone_when_dropped(store):
    rows = grid(4)
    rows[3] = skipped(rows[3])  # skipped at run time: not the spec's, left alone
    a, b, c, d = (r.name for r in rows)
    store.add_cells(rows)
    store.record_done(a, [("rmse", "", 1.0)])
    mark = "excluded by the spec: "

    assert store.apply_exclusions({a: mark + "x", b: mark + "slow", d: mark + "x"}, mark) == (1, 0)
    frame = store.cells_frame().set_index("name")
    assert list(frame["status"]) == ["done", "skipped", "pending", "skipped"]  # a keeps results
    assert frame.loc[b, "skip_reason"] == mark + "slow"
    assert frame.loc[d, "skip_reason"] == "model cannot fit geo data"
    assert len(store.metrics_frame()) == 1
    assert store.reset(statuses=("done", "failed", "skipped")) == 1  # --force keeps b skipped
    assert store.pending() == [a, c]

    store.apply_exclusions({b: mark + "slower"}, mark)  # a reason edited in the spec
    assert store.cells_frame().set_index("name").loc[b, "skip_reason"] == mark + "slower"
    assert store.apply_exclusions({}, mark) == (0, 1)  # the rule dropped: b runs again
    assert store.pending() == [a, b, c]
    assert pd.isna(store.cells_frame().set_index("name").loc[b, "skip_reason"])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_round_trip(store, tmp_path, fmt):
    a, b, _ = names(3)
    store.add_cells(grid(3))
    store.record_done(a, [("rmse", "", 1.5), ("roas", "tv", float("nan")), ("roas", "radio", 2)])
    store.record_failed(b, "boom")
    read = pd.read_csv if fmt == "csv" else pd.read_parquet

    paths = export(store, tmp_path / "out" / f"results.{fmt}", fmt)
    assert [p.name for p in paths] == [f"results_cells.{fmt}", f"results_metrics.{fmt}"]
    cells, long = (read(p) for p in paths)
    expect_cells, expect_long = store.cells_frame(), store.metrics_frame()
    if fmt == "csv":  # an empty field is NaN in CSV
        long["key"] = long["key"].fillna("")
    assert cells["name"].tolist() == expect_cells["name"].tolist()
    assert cells["status"].tolist() == expect_cells["status"].tolist()
    pd.testing.assert_frame_equal(long, expect_long, check_dtype=False)

    folder = tmp_path / "folder"
    folder.mkdir()
    paths = export(store, folder, fmt)
    assert [p.name for p in paths] == [f"cells.{fmt}", f"metrics.{fmt}"]
    assert len(read(paths[1])) == 3


def test_export_rejects_unknown_format(store, tmp_path):
    with pytest.raises(ValueError, match="'xlsx'.*'csv', 'parquet'"):
        export(store, tmp_path / "x", "xlsx")


def test_readonly_monitor_reads_while_writer_is_open(tmp_path):
    run = tmp_path / "run"
    a, b, _ = names(3)
    with Store.open(run, SPEC, spec_hash="h") as writer:
        writer.add_cells(grid(3))
        writer.mark_running(a)
        with open_readonly(run) as monitor:
            assert monitor.counts() == writer.counts()
            assert monitor.counts()["running"] == 1
            writer.record_done(a, [("rmse", "", 1.0)])
            writer.record_failed(b, "boom")
            assert monitor.counts() == {
                "pending": 1,
                "running": 0,
                "done": 1,
                "failed": 1,
                "skipped": 0,
            }
            assert len(monitor.metrics_frame()) == 1
            with pytest.raises(StoreError, match="read-only"):
                monitor.mark_running(a)
        writer.mark_running(b)  # the monitor left the writer working


def test_readonly_of_missing_run_names_path_and_list_command(tmp_path):
    with pytest.raises(StoreError, match="mmmlab bench list") as info:
        open_readonly(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)
    assert not (tmp_path / "nowhere").exists()


def test_list_runs(tmp_path):
    root = tmp_path / "runs"
    assert list_runs(root).empty
    with Store.open(root / "first", SPEC, spec_hash="h1", name="tiny") as s:
        s.add_cells(grid(3))
        s.record_done(names(1)[0], [("rmse", "", 1.0)])
    Store.open(root / "second", SPEC, spec_hash="h2", name="other").close()
    (root / "not_a_run").mkdir()
    runs = list_runs(root)
    assert runs["run"].tolist() == ["first", "second"]
    first = runs.iloc[0]
    assert first["name"] == "tiny" and first["done"] == 1 and first["pending"] == 2
    assert first["total"] == 3 and first["last_activity"] >= first["created"]
    assert runs.iloc[1]["total"] == 0 and runs.iloc[1]["last_activity"] == runs.iloc[1]["created"]
