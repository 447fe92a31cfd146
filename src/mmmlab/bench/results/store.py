"""The result store of a benchmark run: one directory, one SQLite file, written by the driver only.

A run directory holds ``spec.yaml`` (the spec text as given), ``environment.json`` (versions, git
commit, JAX devices), ``results.sqlite`` (cells, long metrics, meta; WAL) and ``artifacts/``.
Every record is one transaction, so a crash or Ctrl-C loses at most the cells in flight; cells
left ``running`` go back to ``pending`` when the store is opened again, and a rerun resumes.
Monitors in other processes open the same file read-only (`open_readonly`) while the driver writes.
A damaged file, or one empty or missing beside cell folders, raises `DamagedStore` (`damage`)
and is never reset; `bench doctor` builds a new one (`doctor.rebuild_store`). Each finished
cell is keyed by the code and data that produced it (`schema.CellKey`); a store of an older
schema is migrated as it is opened for writing, with a note (`Store.notes`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import astuple
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import yaml

from mmmlab.bench.results.damage import (
    STORE_FILE,
    DamagedStore,
    damaged,
    integrity_problem,
    lost_store,
    named,
)
from mmmlab.bench.results.environment import describe_environment, package_version
from mmmlab.bench.results.rows import CellRow
from mmmlab.bench.results.schema import (
    NO_KEY,
    SCHEMA,
    SCHEMA_VERSION,
    STATUSES,
    WAL,
    CellKey,
    StoreError,
    connect,
    create_store,
    metric_rows,
    migrate,
)
from mmmlab.files import strict_json

_FLOATS = {"started": "float64", "finished": "float64", "seconds": "float64", "value": "float64"}


class Store:
    """A benchmark run directory and its SQLite results; build with `Store.open`.

    Attributes
    ----------
    run_dir : Path
    readonly : bool
        Opened for reading only (monitors); write methods raise `StoreError`.
    recovered : int
        Cells found ``running`` at open (a crash or Ctrl-C in flight), put back to ``pending``.
    notes : list of str
        What opening changed besides: a schema migrated, a spec hash taken over.
    """

    def __init__(self, run_dir: Path, conn: sqlite3.Connection, readonly: bool, db: Path):
        self.run_dir = run_dir
        self.db = db
        self.readonly = readonly
        self.recovered = 0
        self.notes: list[str] = []
        self._conn = conn
        # The driver may record from an executor's callback thread: one lock per transaction.
        self._lock = threading.RLock()

    @classmethod
    def open(
        cls,
        run_dir: str | Path,
        spec_text: str | None = None,
        spec_hash: str | None = None,
        name: str = "",
        readonly: bool = False,
    ) -> Store:
        """Create a run directory, or open an existing one.

        `run_dir` is created with its files unless it holds a ``results.sqlite`` already.
        `spec_text` (snapshot to ``spec.yaml``), `spec_hash` and `name` are kept for a new run; an
        existing run whose stored hash differs from `spec_hash` raises `StoreError`. `readonly`
        opens with ``mode=ro`` (a missing run raises): nothing is created, reset or recovered.
        A damaged store, or one empty or missing beside cell folders, raises `DamagedStore`.
        """
        run_dir = Path(run_dir)
        db = run_dir / STORE_FILE
        lost = lost_store(run_dir) if run_dir.is_dir() else None
        if lost:
            raise DamagedStore(lost)
        if readonly:
            if not db.is_file() or db.stat().st_size == 0:
                raise StoreError(
                    f"no benchmark run at {run_dir} (no results.sqlite there); "
                    "list the runs with `mmmlab bench list`"
                )
            store = cls(run_dir, connect(f"{db.resolve().as_uri()}?mode=ro", True), True, db)
        else:
            if run_dir.exists() and not run_dir.is_dir():
                raise StoreError(f"{run_dir} is a file, not a run directory; pass another --out")
            problem = integrity_problem(db) if db.is_file() and db.stat().st_size else None
            if problem:
                raise damaged(db, problem)
            (run_dir / "artifacts").mkdir(parents=True, exist_ok=True)
            if not (db.is_file() and db.stat().st_size):
                create_store(db)  # a reader never meets a file without its tables
            store = cls(run_dir, connect(str(db)), False, db)
            with named(db):
                store._conn.executescript(WAL + SCHEMA)
                store.notes += filter(None, [migrate(store._conn, str(db))])
        try:
            store._check_hash(spec_hash, spec_text)
            if not readonly:
                store._init(spec_text, spec_hash, name)
        except BaseException:
            store.close()
            raise
        return store

    def _init(self, spec_text: str | None, spec_hash: str | None, name: str) -> None:
        meta = self.meta()
        is_new = "created" not in meta  # also a file left empty by a crash during creation
        if spec_text is not None and (is_new or not (self.run_dir / "spec.yaml").exists()):
            _write_atomic(self.run_dir / "spec.yaml", spec_text)
        if is_new or not (self.run_dir / "environment.json").exists():
            text = strict_json(describe_environment(), indent=2, sort_keys=True)
            _write_atomic(self.run_dir / "environment.json", text + "\n")
        with self._write() as conn:
            if is_new:
                created = datetime.now(UTC).isoformat(timespec="seconds")
                values = {"created": created, "name": name, "schema_version": SCHEMA_VERSION}
                values["mmmlab_version"] = package_version("mmmlab")
                conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())
            if spec_hash is not None and meta.get("spec_hash") is None:
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('spec_hash', ?)", (spec_hash,))
            sql = "UPDATE cells SET status = 'pending', worker = NULL WHERE status = 'running'"
            self.recovered = conn.execute(sql).rowcount

    def _check_hash(self, spec_hash: str | None, spec_text: str | None) -> None:
        """Refuse another spec; the same spec read from another place (its relative data paths
        then resolve elsewhere, so the hash differs) takes over with a note."""
        stored = self.meta().get("spec_hash")
        if spec_hash is None or stored is None or stored == spec_hash:
            return
        snapshot = self.run_dir / "spec.yaml"
        if not _same_spec(snapshot, spec_text) or self.readonly:
            raise StoreError(
                f"run directory {self.run_dir} holds another spec (stored spec hash {stored}, "
                f"this spec hash {spec_hash}); pass another --out directory, or move this one "
                "away (its results stay in it) to start afresh here"
            )
        with self._write() as conn:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'spec_hash'", (spec_hash,))
        self.notes.append(
            f"{snapshot} is this spec, read from another place (its data paths, relative to the "
            f"spec file, resolve anew): the run's spec hash {stored} is now {spec_hash}; "
            "finished cells keep their results, and a cell whose data changed is named below"
        )

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        if self.readonly:
            raise StoreError(f"the store at {self.run_dir} is read-only; only the driver writes")
        with self._lock, named(self.db):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:  # Ctrl-C included: never leave a half-written cell
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock, named(self.db):
            return self._conn.execute(sql, args).fetchall()

    def _frame(self, sql: str) -> pd.DataFrame:
        with self._lock, named(self.db):
            frame = pd.read_sql_query(sql, self._conn)
        # An all-NULL REAL column would come back as object: keep NaN floats.
        return frame.astype({c: t for c, t in _FLOATS.items() if c in frame.columns})

    def add_cells(self, rows: Iterable[CellRow]) -> int:
        """Insert the cells not yet stored, in order after the existing ones; returns how many.

        Existing rows (whatever their status) are left untouched, so adding the same grid to a
        resumed run is a no-op.
        """
        added = 0
        with self._write() as conn:
            (last,) = conn.execute("SELECT COALESCE(MAX(position), -1) FROM cells").fetchone()
            for row in rows:
                added += conn.execute(
                    "INSERT OR IGNORE INTO cells (name, dataset, model, variant, seed, cell_seed,"
                    " status, skip_reason, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*astuple(row), last + added + 1),
                ).rowcount
        return added

    def mark_running(self, name: str, worker: str = "") -> None:
        """Mark cell `name` running: one more attempt, started now, by `worker`."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE cells SET status = 'running', attempts = attempts + 1, started = ?,"
                " finished = NULL, seconds = NULL, error = NULL, worker = ? WHERE name = ?",
                (time.time(), worker, name),
            )
            self._require(cur.rowcount, name)

    def record_done(
        self,
        name: str,
        metrics: Iterable[tuple[str, str, float]],
        seconds: float | None = None,
        key: CellKey = NO_KEY,
    ) -> None:
        """Record cell `name` done with its metrics (replacing earlier ones), in one transaction.

        `metrics` holds ``(metric, key, value)``: key ``""`` for a cell-level metric, e.g. a channel
        name otherwise; NaN and None are stored as NULL and read back as NaN. `seconds` defaults to
        the time since `mark_running`; `key` is the code and data that produced the cell. An
        unknown cell, a value that is not a number or a (metric,
        key) given twice raise `StoreError`, and the cell is left as it was.
        """
        with self._write() as conn:
            self._finish(name, "done", None, seconds, key)
            try:
                conn.executemany(
                    "INSERT INTO metrics (cell, metric, key, value) VALUES (?, ?, ?, ?)",
                    metric_rows(name, metrics),
                )
            except sqlite3.IntegrityError as err:
                raise StoreError(
                    f"cell {name!r} reports the same (metric, key) twice ({err}); "
                    "each metric and key must appear once per cell"
                ) from err

    def record_failed(
        self, name: str, error: str, seconds: float | None = None, key: CellKey = NO_KEY
    ) -> None:
        """Record cell `name` failed with its whole error text; its metrics are deleted."""
        with self._write():
            self._finish(name, "failed", str(error), seconds, key)

    def record_skipped(self, name: str, reason: str, key: CellKey = NO_KEY) -> None:
        """Record cell `name` skipped at run time (its backend cannot apply), with the reason."""
        with self._write() as conn:
            self._finish(name, "skipped", None, None, key)
            conn.execute("UPDATE cells SET skip_reason = ? WHERE name = ?", (reason, name))

    def apply_exclusions(self, excluded: dict[str, str], marker: str) -> tuple[int, int]:
        """Skip the pending cells of `excluded` (``{name: reason}``) with their reasons, and
        put back to pending the cells skipped with a reason starting with `marker` that are
        no longer excluded. Finished and failed cells keep their results. Returns (skipped,
        restored)."""
        with self._write() as conn:
            rows = conn.execute(
                "SELECT name, status, skip_reason FROM cells WHERE status IN ('pending', 'skipped')"
            ).fetchall()
            skip = [
                (excluded[n], n)
                for n, status, reason in rows
                if n in excluded and (status == "pending" or (reason or "").startswith(marker))
            ]
            restore = [
                (n,)
                for n, status, reason in rows
                if status == "skipped" and n not in excluded and (reason or "").startswith(marker)
            ]
            conn.executemany(
                "UPDATE cells SET status = 'skipped', skip_reason = ? WHERE name = ?", skip
            )
            conn.executemany(
                "UPDATE cells SET status = 'pending', skip_reason = NULL WHERE name = ?", restore
            )
        return len(skip), len(restore)

    def add_metrics(self, name: str, metrics: Iterable[tuple[str, str, float]]) -> None:
        """Add or replace some metrics of a finished cell (e.g. comparisons computed after the
        grid ran), in one transaction."""
        rows = list(metric_rows(name, metrics))
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO metrics (cell, metric, key, value) VALUES (?, ?, ?, ?)",
                rows,
            )

    def _finish(
        self, name: str, status: str, error: str | None, seconds: float | None, key: CellKey
    ) -> None:
        """Within a `_write` transaction: set a final status and the cell's key, and delete
        the cell's metrics."""
        now, conn = time.time(), self._conn
        cur = conn.execute(
            "UPDATE cells SET status = ?, finished = ?, error = ?,"
            " seconds = COALESCE(?, ? - started), code_version = ?, data_fingerprint = ?"
            " WHERE name = ?",
            (status, now, error, seconds, now, *key, name),
        )
        self._require(cur.rowcount, name)
        conn.execute("DELETE FROM metrics WHERE cell = ?", (name,))

    def reset(
        self, names: Iterable[str] | None = None, statuses: tuple[str, ...] = ("done", "failed")
    ) -> int:
        """Put cells back to pending and delete their metrics; returns how many.

        ``--force`` resets all done and failed cells (the default), ``--retry-failed`` passes
        ``statuses=("failed",)``; `names` restricts the reset to those cells. Skipped cells are
        never reset (the spec decides them). Attempts are kept."""
        unknown = set(statuses) - set(STATUSES)
        if unknown:
            raise ValueError(f"unknown status {sorted(unknown)}; choose from {list(STATUSES)}")
        wanted = [s for s in statuses if s != "skipped"]
        only = None if names is None else set(names)
        with self._write() as conn:
            marks = ", ".join("?" * len(wanted))
            rows = conn.execute(f"SELECT name FROM cells WHERE status IN ({marks})", wanted)
            chosen = [(n,) for (n,) in rows.fetchall() if only is None or n in only]
            conn.executemany("DELETE FROM metrics WHERE cell = ?", chosen)
            conn.executemany(
                "UPDATE cells SET status = 'pending', started = NULL, finished = NULL,"
                " seconds = NULL, error = NULL, worker = NULL WHERE name = ?",
                chosen,
            )
        return len(chosen)

    def _require(self, rowcount: int, name: str) -> None:
        if rowcount == 0:
            raise StoreError(
                f"no cell named {name!r} in {self.run_dir / 'results.sqlite'}; "
                "add it with add_cells first (is the name spelled as the grid names it?)"
            )

    def cell(self, name: str) -> dict:
        """The stored row of cell `name`: every column of the cells table."""
        with self._lock, named(self.db):
            cursor = self._conn.execute("SELECT * FROM cells WHERE name = ?", (name,))
            values = cursor.fetchone()
        self._require(0 if values is None else 1, name)
        return dict(zip([d[0] for d in cursor.description], values, strict=True))

    def meta(self) -> dict[str, str]:
        """The run's meta table: created, name, spec_hash, mmmlab_version, schema_version."""
        return dict(self._query("SELECT key, value FROM meta"))

    def pending(self) -> list[str]:
        """Names of the pending cells, in grid order."""
        rows = self._query("SELECT name FROM cells WHERE status = 'pending' ORDER BY position")
        return [n for (n,) in rows]

    def counts(self) -> dict[str, int]:
        """Number of cells per status, all five statuses included."""
        found = dict(self._query("SELECT status, COUNT(*) FROM cells GROUP BY status"))
        return {s: int(found.get(s, 0)) for s in STATUSES}

    def cells_frame(self) -> pd.DataFrame:
        """All columns of the cells table, one row per cell, in grid order."""
        return self._frame("SELECT * FROM cells ORDER BY position")

    def metrics_frame(self) -> pd.DataFrame:
        """Long metrics in grid order: cell, dataset, model, variant, seed, status, metric, key,
        value (NaN for NULL)."""
        return self._frame(
            "SELECT m.cell, c.dataset, c.model, c.variant, c.seed, c.status, m.metric, m.key,"
            " m.value FROM metrics m JOIN cells c ON c.name = m.cell"
            " ORDER BY c.position, m.metric, m.key"
        )

    def metric_table(self, metric_names: Iterable[str] | None = None) -> pd.DataFrame:
        """Wide table of the cell-level metrics (key ``""``): one row per cell, grid order.

        Every cell appears (failed and pending ones with NaN metrics), with columns cell,
        dataset, model, variant, seed, status, then one column per metric: `metric_names` in the
        order given (a name no cell reports is a column of NaN), or all stored ones sorted.
        """
        cells = self.cells_frame().rename(columns={"name": "cell"})
        cells = cells[["cell", "dataset", "model", "variant", "seed", "status"]]
        long = self._frame("SELECT cell, metric, value FROM metrics WHERE key = ''")
        wide = long.pivot(index="cell", columns="metric", values="value")
        names = sorted(wide.columns) if metric_names is None else list(metric_names)
        wide = wide.reindex(columns=names).astype("float64").rename_axis(columns=None)
        return cells.merge(wide, left_on="cell", right_index=True, how="left")

    def artifact_dir(self, cell_name: str) -> Path:
        """The artifact folder of a cell (created unless read-only), with a filesystem-safe name:
        ``/`` becomes ``__``, other unsafe characters ``_``, then a short hash of the full name."""
        safe = re.sub(r"[^A-Za-z0-9._=,+\[\]-]", "_", cell_name.replace("/", "__"))[:120]
        digest = hashlib.sha1(cell_name.encode()).hexdigest()[:8]
        folder = self.run_dir / "artifacts" / f"{safe}-{digest}"
        if not self.readonly:
            folder.mkdir(parents=True, exist_ok=True)
        return folder


def open_readonly(run_dir: str | Path) -> Store:
    """Open a run read-only, for monitors in another process; running cells stay running."""
    return Store.open(run_dir, readonly=True)


def _same_spec(snapshot: Path, spec_text: str | None) -> bool:
    """Whether `spec_text` says what the run's snapshot says (comments and layout aside)."""
    if spec_text is None or not snapshot.is_file():
        return False
    try:
        return yaml.safe_load(snapshot.read_text(encoding="utf-8")) == yaml.safe_load(spec_text)
    except yaml.YAMLError:
        return False


def _write_atomic(path: Path, text: str) -> None:
    path.with_name(path.name + ".tmp").write_text(text, encoding="utf-8")
    os.replace(path.with_name(path.name + ".tmp"), path)
