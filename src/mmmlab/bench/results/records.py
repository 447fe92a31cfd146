"""Each finished cell's record beside its artifacts: ``result.json``, its row of the store
(status, timings, error or skip reason) and its metrics, with the run's spec hash.

The driver writes it right after the store commits the cell, so a damaged ``results.sqlite``
can be rebuilt from the records (`doctor`); every command reads the store, never these.
A cell reset by ``--force`` or ``--retry-failed`` keeps its last record until it finishes again.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

from mmmlab.files import strict_json

RECORD_FILE = "result.json"
FORMAT = 1


class RecordError(ValueError):
    """A cell's record cannot be read; the message names the file."""


def write_record(
    folder: Path, row: dict, metrics: Iterable[tuple[str, str, float]], spec_hash: str | None
) -> Path:
    """Write `folder`/result.json (atomically: a crash leaves the old record or the new)."""
    numbers = [[m, k, float(v) if _finite(v) else None] for m, k, v in metrics]
    record = {"format": FORMAT, "spec_hash": spec_hash, "cell": row, "metrics": numbers}
    path = folder / RECORD_FILE
    side = path.with_name(RECORD_FILE + ".tmp")
    side.write_text(strict_json(record, indent=1) + "\n", encoding="utf-8")
    os.replace(side, path)
    return path


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def read_record(folder: Path) -> dict | None:
    """The record in `folder`, None when there is none.

    Returns ``{"spec_hash", "cell": row, "metrics": [(metric, key, value)]}``; raises
    `RecordError` naming the file when it is not a whole record.
    """
    path = folder / RECORD_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        row, metrics = record["cell"], [(m, k, v) for m, k, v in record["metrics"]]
        if not isinstance(row, dict) or not row.get("name") or not row.get("status"):
            raise ValueError("its cell row has no name or status")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RecordError(f"{path}: not a readable cell record ({err})") from None
    return {"spec_hash": record.get("spec_hash"), "cell": row, "metrics": metrics}
