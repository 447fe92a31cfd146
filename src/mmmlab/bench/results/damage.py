"""A run's ``results.sqlite`` that cannot be trusted, named instead of reset.

A damaged file (truncated, overwritten, corrupt pages) raises `DamagedStore` from whatever
reads it, naming the file and `mmmlab bench doctor`; so does a store that is empty or missing
beside the cell folders of an earlier run, which would otherwise pass for a new run. Nothing
here writes: `doctor` moves a damaged file aside and rebuilds the store.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

STORE_FILE = "results.sqlite"
_DAMAGE = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


class DamagedStore(ValueError):
    """The run's results store is damaged or lost; the message names it and the remedy."""


def doctor_hint(run_dir: Path, move: bool = True) -> str:
    """The remedy: `bench doctor`, which moves the file aside (when there is one) and rebuilds."""
    what = "moves it aside and rebuilds" if move else "rebuilds"
    return f"`mmmlab bench doctor {run_dir}` {what} the store from the cells' records in artifacts/"


def is_damage(err: sqlite3.Error) -> bool:
    """Whether `err` says the file is not a sound SQLite store (not a busy or misuse error)."""
    name = getattr(err, "sqlite_errorname", "")
    return name in _DAMAGE or "no such table" in str(err)


@contextlib.contextmanager
def named(db: Path) -> Iterator[None]:
    """Turn SQLite's damage errors inside the block into `DamagedStore` naming `db`."""
    try:
        yield
    except Exception as err:  # pandas wraps SQLite's errors in its own
        cause = err if isinstance(err, sqlite3.DatabaseError) else err.__cause__
        if not isinstance(cause, sqlite3.DatabaseError) or not is_damage(cause):
            raise
        raise damaged(db, str(cause)) from err


def damaged(db: Path, problem: str) -> DamagedStore:
    """The error for store file `db` found damaged, with SQLite's `problem`."""
    return DamagedStore(
        f"{db} is damaged ({problem}); nothing in it was changed. {doctor_hint(db.parent)}"
    )


def cell_folders(run_dir: Path) -> list[Path]:
    """The per-cell folders under ``artifacts/``, sorted."""
    folder = run_dir / "artifacts"
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def lost_store(run_dir: Path) -> str | None:
    """Why `run_dir` must not start afresh: its store is empty or missing while cell folders
    of an earlier run are there. None when the store has content or no cell ran."""
    db = run_dir / STORE_FILE
    if db.is_file() and db.stat().st_size > 0:
        return None
    folders = cell_folders(run_dir)
    if not folders:
        return None
    state = "is empty (0 bytes)" if db.is_file() else "is missing"
    return (
        f"{db} {state}, yet {run_dir / 'artifacts'} holds {len(folders)} cell folder(s) from "
        f"an earlier run, so this is no new run. {doctor_hint(run_dir, db.is_file())}; or pass "
        "another --out"
    )


def integrity_problem(db: Path) -> str | None:
    """SQLite's own check of `db` (read-only), or None when it passes."""
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        return str(err) if is_damage(err) else None  # busy or cannot open read-only: not damage
    found = [r[0] for r in rows]
    return None if found == ["ok"] else "; ".join(found[:3])
