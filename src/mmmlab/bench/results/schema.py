"""The results store's SQLite schema, and the migration of a store of an older schema.

Version 2 keys each finished cell by what produced it besides its spec: the code version
(`environment.code_version`) and the fingerprint of the data it was fitted to. A version-1
store (mmmlab before that) gains the two columns, empty for the cells it already holds.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

STATUSES = ("pending", "running", "done", "failed", "skipped")
SCHEMA_VERSION = "2"
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS cells (
    name TEXT PRIMARY KEY, dataset TEXT, model TEXT, variant TEXT, seed INTEGER,
    cell_seed INTEGER,
    status TEXT NOT NULL CHECK(status IN ({", ".join(repr(s) for s in STATUSES)})),
    attempts INTEGER DEFAULT 0, started REAL, finished REAL, seconds REAL, error TEXT,
    skip_reason TEXT, worker TEXT, position INTEGER, code_version TEXT, data_fingerprint TEXT
);
CREATE INDEX IF NOT EXISTS cells_status ON cells(status, position);
CREATE TABLE IF NOT EXISTS metrics (
    cell TEXT NOT NULL, metric TEXT NOT NULL, key TEXT NOT NULL DEFAULT '', value REAL,
    PRIMARY KEY (cell, metric, key)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""
WAL = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
KEY_COLUMNS = ("code_version", "data_fingerprint")  # added by version 2


def create_store(db: Path) -> None:
    """Create the store's file `db` with its tables: made beside it, then moved into place,
    so a reader polling a starting run (`mmmlab bench status`) never opens a half-made store
    and calls it damaged."""
    fresh = db.with_name(db.name + ".new")
    fresh.unlink(missing_ok=True)
    conn = sqlite3.connect(fresh)
    try:
        conn.executescript(WAL + SCHEMA)
    finally:
        conn.close()  # checkpoints the write-ahead log into the file
    os.replace(fresh, db)


class StoreError(ValueError):
    """A run directory that cannot be used as asked (another spec, missing, read-only)."""


class CellKey(NamedTuple):
    """What produced a finished cell besides its spec: the code (`environment.code_version`)
    and the fingerprint of the data it was fitted to (`Dataset.fingerprint`); None: unknown."""

    code_version: str | None = None
    data_fingerprint: str | None = None


NO_KEY = CellKey()


def migrate(conn: sqlite3.Connection, db: str) -> str | None:
    """Bring the store on `conn` (file `db`) to `SCHEMA_VERSION` in one transaction; the note
    that says what changed, or None when it already was (or is a new store)."""
    (stored,) = conn.execute(
        "SELECT COALESCE((SELECT value FROM meta WHERE key = 'schema_version'), '')"
    ).fetchone()
    if stored in ("", SCHEMA_VERSION):
        return None
    columns = {row[1] for row in conn.execute("PRAGMA table_info(cells)")}
    conn.execute("BEGIN IMMEDIATE")
    try:
        for column in KEY_COLUMNS:
            if column not in columns:
                conn.execute(f"ALTER TABLE cells ADD COLUMN {column} TEXT")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,))
        (finished,) = conn.execute(
            "SELECT COUNT(*) FROM cells WHERE status IN ('done', 'failed')"
        ).fetchone()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return (
        f"{db}: results schema {stored} -> {SCHEMA_VERSION}: cells are now keyed by the code "
        f"version and data fingerprint that produced them; the {finished} finished cell(s) "
        "stored before carry neither"
    )


def metric_rows(cell: str, metrics: Iterable[tuple[str, str, float]]) -> Iterator[tuple]:
    """The metrics table's rows of `cell`: NaN and None as NULL; a value that is no number
    raises `StoreError`."""
    for metric, key, value in metrics:
        try:
            number = None if value is None else float(value)
        except (TypeError, ValueError) as err:
            raise StoreError(
                f"cell {cell!r}: metric {metric!r} (key {key!r}) has value {value!r}, "
                "which is not a number; report NaN for a metric that cannot be computed"
            ) from err
        number = None if number is None or math.isnan(number) else number
        yield cell, str(metric), "" if key is None else str(key), number


def connect(target: str, uri: bool = False) -> sqlite3.Connection:
    """A connection as the store uses it: autocommit, shared across threads, patient."""
    conn = sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")  # a monitor's read never fails the driver's write
    return conn
