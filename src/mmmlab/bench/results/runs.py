"""The benchmark runs under a folder, one row each, for `mmmlab bench list`."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from mmmlab.bench.results.store import STATUSES, open_readonly


def list_runs(root: str | Path = "runs/bench") -> pd.DataFrame:
    """One row per run directory under `root` that holds a ``results.sqlite``.

    Columns: run (directory name), path, name, created (UTC), a count per status, total, and
    last_activity (UTC: latest start or finish of a cell, else the creation time); sorted by
    creation. A store that cannot be read (damaged, empty) is skipped with a warning.
    """
    columns = ["run", "path", "name", "created", *STATUSES, "total", "last_activity"]
    root, rows = Path(root), []
    for db in sorted(root.glob("*/results.sqlite")) if root.is_dir() else []:
        try:
            with open_readonly(db.parent) as store:
                meta, counts, cells = store.meta(), store.counts(), store.cells_frame()
        except ValueError as err:  # StoreError, DamagedStore
            warnings.warn(f"skipping {db}: {err}", stacklevel=2)
            continue
        latest = cells["finished"].fillna(cells["started"]).max()  # finished: NULL while running
        created = pd.to_datetime(meta.get("created"), utc=True)
        last = created if pd.isna(latest) else pd.to_datetime(latest, unit="s", utc=True)
        head = [db.parent.name, str(db.parent), meta.get("name", ""), created]
        rows.append([*head, *counts.values(), sum(counts.values()), last])
    return pd.DataFrame(rows, columns=columns).sort_values(["created", "run"], ignore_index=True)
