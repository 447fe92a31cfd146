"""`mmmlab bench doctor RUN`: check a run's ``results.sqlite`` and, when it is damaged, or empty
or missing beside the cells' artifacts, rebuild it from what the run directory still holds.

Rebuilt: every cell with a readable record (``artifacts/<cell>/result.json``, `records`:
its status, timings, error or skip reason and metrics), the run's meta, and delta_loo against
the spec's reference model (from ``spec.yaml`` and each cell's ``loo_pointwise.npy``). Not
rebuilt: a cell without a record (it had not finished, or finished before mmmlab kept
records), which the next `bench run` of the spec runs again, and the pending and excluded
cells, which that run adds back. The damaged file is moved aside as
``results.sqlite.damaged-<UTC time>`` (with its ``-wal`` and ``-shm``), never changed or deleted.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from mmmlab.bench.results.damage import STORE_FILE, cell_folders, integrity_problem, lost_store
from mmmlab.bench.results.environment import package_version
from mmmlab.bench.results.lock import hold
from mmmlab.bench.results.records import RecordError, read_record
from mmmlab.bench.results.reference import compare_to_reference
from mmmlab.bench.results.schema import SCHEMA, SCHEMA_VERSION, StoreError, connect, metric_rows
from mmmlab.bench.results.store import Store


@dataclass
class CellNote:
    """What became of one cell folder: `name` and `status` when recovered, else why not."""

    folder: str
    name: str | None
    status: str | None
    note: str


@dataclass
class Repair:
    """What `repair` found and did: `problem` None means the store was healthy."""

    run_dir: Path
    problem: str | None
    moved: list[Path] = field(default_factory=list)
    cells: list[CellNote] = field(default_factory=list)
    compared: int = 0
    spec_note: str = ""

    @property
    def recovered(self) -> int:
        return sum(c.name is not None for c in self.cells)


def diagnose(run_dir: Path) -> str | None:
    """What is wrong with the store of `run_dir`, or None when it reads whole."""
    db = run_dir / STORE_FILE
    lost = lost_store(run_dir)
    if lost:
        return lost
    if not db.is_file() or db.stat().st_size == 0:
        raise StoreError(f"no benchmark run at {run_dir} (no results.sqlite there, no cells)")
    problem = integrity_problem(db)
    if problem:
        return f"{db} is damaged ({problem})"
    try:
        with Store.open(run_dir, readonly=True) as store:
            store.counts()
            store.metrics_frame()
    except ValueError as err:  # a sound SQLite file that is no store
        return str(err)
    return None


def repair(run_dir: str | Path) -> Repair:
    """Diagnose `run_dir` and, when its store is damaged or lost, rebuild it (holding the run
    directory, so no run writes meanwhile)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise StoreError(f"no benchmark run at {run_dir} (no such directory)")
    with hold(run_dir):
        out = Repair(run_dir, diagnose(run_dir))
        if out.problem is None:
            return out
        out.moved = _move_aside(run_dir)
        found, out.cells = _records(run_dir)
        spec = _spec(run_dir)
        out.spec_note = spec.get("note", "")
        meta = _meta(run_dir, spec, [r["spec_hash"] for r in found], out.moved)
        rows = sorted(found, key=lambda r: r["cell"].get("position") or 0)
        cells = [(r["cell"], r["metrics"]) for r in rows]
        with rebuild_store(run_dir, meta, cells) as store:
            if spec.get("reference_model") and "loo" in spec.get("metrics", ["loo"]):
                out.compared = compare_to_reference(store, spec["reference_model"])
        return out


def rebuild_store(
    run_dir: Path,
    meta: dict[str, str],
    cells: Iterable[tuple[dict, Iterable[tuple[str, str, float]]]],
) -> Store:
    """A new store in `run_dir`, whose own was moved aside: `meta`, and whole cells as their
    records keep them (``(row, metrics)``: every column of the row).

    It is built in a side file that becomes ``results.sqlite`` complete or not at all;
    nothing else in `run_dir` is written. Returns it opened for writing.
    """
    db, side = run_dir / STORE_FILE, run_dir / f"{STORE_FILE}.rebuilding"
    if db.exists():
        raise StoreError(f"{db} exists; move it aside before rebuilding the store")
    side.unlink(missing_ok=True)  # a rebuild that stopped half way
    conn = connect(str(side))
    try:
        conn.executescript(SCHEMA)
        known = {r[1] for r in conn.execute("PRAGMA table_info(cells)")}
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        for row, metrics in cells:
            if not set(row) <= known:
                raise StoreError(f"cell {row.get('name')!r}: unknown columns in its row")
            marks = ", ".join("?" * len(row))
            conn.execute(
                f"INSERT INTO cells ({', '.join(row)}) VALUES ({marks})", tuple(row.values())
            )
            conn.executemany(
                "INSERT INTO metrics (cell, metric, key, value) VALUES (?, ?, ?, ?)",
                metric_rows(row["name"], metrics),
            )
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
    os.replace(side, db)
    return Store.open(run_dir)


def _move_aside(run_dir: Path) -> list[Path]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = run_dir / f"{STORE_FILE}{suffix}"
        if path.exists():
            target = run_dir / f"{STORE_FILE}.damaged-{stamp}{suffix}"
            os.rename(path, target)  # the same directory: a rename, never a copy
            moved.append(target)
    return moved


def _records(run_dir: Path) -> tuple[list[dict], list[CellNote]]:
    found, notes = [], []
    for folder in cell_folders(run_dir):
        where = f"artifacts/{folder.name}"
        try:
            record = read_record(folder)
        except RecordError as err:
            notes.append(CellNote(where, None, None, f"{err}; it is kept, and the cell runs again"))
            continue
        if record is None:
            kept = sorted(p.name for p in folder.iterdir())
            left = f" (its files are kept: {', '.join(kept)})" if kept else ""
            why = f"no result record{left}: it had not finished, or finished before records "
            why += "were kept; it runs again with the next `bench run`"
            notes.append(CellNote(where, None, None, why))
            continue
        row = dict(record["cell"])
        if row["status"] not in ("done", "failed", "skipped"):
            row["status"] = "pending"  # a record is written at the end: never seen in practice
        found.append(record | {"cell": row})
        n = len(record["metrics"])
        notes.append(CellNote(where, row["name"], row["status"], f"{n} metric(s)"))
    return found, notes


def _spec(run_dir: Path) -> dict:
    """Name, reference model and metrics from the spec snapshot, with a note when unreadable."""
    from mmmlab.bench.grid.spec import parse_spec

    path = run_dir / "spec.yaml"
    try:
        spec = parse_spec(yaml.safe_load(path.read_text()), str(path))
    except (OSError, ValueError, yaml.YAMLError) as err:
        return {"note": f"{path} could not be read ({err}): delta_loo is left to the next run"}
    return {"name": spec.name, "reference_model": spec.reference_model, "metrics": spec.metrics}


def _meta(run_dir: Path, spec: dict, hashes: list[str | None], moved: list[Path]) -> dict:
    """The rebuilt store's meta: its creation time from environment.json (written with it)."""
    created = None
    env = run_dir / "environment.json"
    if env.is_file():
        try:
            created = json.loads(env.read_text()).get("recorded")
        except (OSError, ValueError):
            created = None
    now = datetime.now(UTC).isoformat(timespec="seconds")
    meta = {
        "created": created or now,
        "name": spec.get("name", run_dir.name),
        "schema_version": SCHEMA_VERSION,
        "mmmlab_version": package_version("mmmlab") or "",
        "rebuilt": now,
        "rebuilt_from": moved[0].name if moved else "(no store: it was missing)",
    }
    known = Counter(h for h in hashes if h)
    if known:
        meta["spec_hash"] = known.most_common(1)[0][0]
    return meta
