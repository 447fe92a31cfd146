"""The stored tables as the report reads them: the columns of ``cells`` and of the long
``metrics``, and the wide table of each cell's cell-level metrics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

CELL_COLUMNS = ["name", "dataset", "model", "variant", "seed", "status", "seconds", "error"]
METRIC_COLUMNS = ["cell", "dataset", "model", "variant", "seed", "status", "metric", "key", "value"]
ID_COLUMNS = ["cell", "dataset", "model", "variant", "seed", "status"]
SEED_CELL = ["dataset", "variant", "seed"]


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise a ValueError naming the columns ``frame`` (the ``what`` table) lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} frame lacks column(s) {missing}; it has {list(frame.columns)}. "
            f"Pass the store's {what} table (columns {list(columns)})."
        )


def wide(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per cell with a column per cell-level metric (``key == ''``).

    Parameters
    ----------
    metrics : DataFrame
        Long metrics, columns ``METRIC_COLUMNS``. Per-channel rows are ignored.

    Returns
    -------
    DataFrame
        Columns ``cell, dataset, model, variant, seed, status, converged`` then one column per
        cell-level metric in sorted order; ``converged`` is NaN where it was not recorded.
        A repeated (cell, metric) keeps its last row, as an upsert would.
    """
    require_columns(metrics, METRIC_COLUMNS, "metrics")
    ids = (
        metrics[ID_COLUMNS]
        .drop_duplicates("cell", keep="last")
        .assign(variant=lambda f: f["variant"].fillna("").astype(str))
        .set_index("cell")
    )
    level = metrics[metrics["key"].fillna("") == ""]
    level = level.drop_duplicates(["cell", "metric"], keep="last")
    values = level.pivot(index="cell", columns="metric", values="value")
    values = values.reindex(index=ids.index, columns=sorted(values.columns))
    if "converged" not in values.columns:
        values["converged"] = np.nan
    out = ids.join(values.astype(float)).reset_index()
    out.columns.name = None
    rest = [c for c in out.columns if c not in ID_COLUMNS and c != "converged"]
    return out[[*ID_COLUMNS, "converged", *rest]]


def done_wide(metrics: pd.DataFrame) -> pd.DataFrame:
    """``wide`` restricted to cells whose status is ``'done'``: the runs summaries describe."""
    table = wide(metrics)
    return table[table["status"] == "done"].reset_index(drop=True)
