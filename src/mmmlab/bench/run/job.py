"""What a worker is given and gives back for one cell."""

from __future__ import annotations

from dataclasses import dataclass

from mmmlab.bench.grid.cells import Cell

Metric = tuple[str, str, float]


@dataclass(frozen=True)
class CellJob:
    """A cell as its worker runs it: the cell, its artifact folder (None: keep nothing) and
    the interpreter of its backend's own environment (None: the worker's)."""

    cell: Cell
    artifacts: str | None = None
    python: str | None = None


@dataclass(frozen=True)
class CellResult:
    """What became of a fitted cell: its metrics ``(metric, key, value)``, or the reason it
    was skipped; and the fingerprint of the data it was given (`Dataset.fingerprint` of its
    dataset as loaded, before any data variant), None when they never loaded."""

    metrics: tuple[Metric, ...] = ()
    skipped: str | None = None
    data_fingerprint: str | None = None
