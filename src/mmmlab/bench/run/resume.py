"""What a resumed run finds in its store: finished cells (done or failed) that other code
produced than this run's, or that were fitted to data files that have changed since. They are
kept and named; `--rerun-stale` runs them again."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from mmmlab.bench.grid.cells import Cell
from mmmlab.bench.grid.sources.registry import DATASET_KINDS, load_source
from mmmlab.bench.results.store import Store


@dataclass(frozen=True)
class Stale:
    """Finished cells by why they are not this run's: `other_code` (cell -> its code
    version), `unrecorded` (finished before cells recorded their code) and `other_data`
    (cell -> its dataset, whose files have changed since)."""

    version: str
    other_code: dict[str, str]
    unrecorded: list[str]
    other_data: dict[str, str]

    @property
    def names(self) -> list[str]:
        return sorted({*self.other_code, *self.unrecorded, *self.other_data})

    def message(self) -> str:
        """How many came from where, and how to rerun them; empty when none."""
        parts = [f"{n} from {v}" for v, n in sorted(Counter(self.other_code.values()).items())]
        if self.unrecorded:
            parts.append(f"{len(self.unrecorded)} from before cells recorded their code")
        lines = []
        if parts:
            n = len(self.other_code) + len(self.unrecorded)
            lines.append(
                f"{n} finished cell(s) came from other code than this run's ({self.version}): "
                + ", ".join(parts)
            )
        if self.other_data:
            datasets = ", ".join(sorted(set(self.other_data.values())))
            lines.append(
                f"{len(self.other_data)} finished cell(s) were fitted to data that have changed "
                f"since ({datasets})"
            )
        if not lines:
            return ""
        return (
            "; ".join(lines)
            + ". They are kept beside this run's cells; rerun them with the same command and "
            "--rerun-stale"
        )


def stale_cells(store: Store, cells: list[Cell], version: str) -> Stale:
    """The finished cells of `store` that `version` of the code would not have produced as
    they are, or whose data files have changed (each dataset read once, here in the driver)."""
    frame = store.cells_frame()
    finished = frame[frame["status"].isin(["done", "failed"])]
    recorded_code = finished.dropna(subset=["code_version"])
    other = recorded_code[recorded_code["code_version"] != version]
    other_code = dict(zip(other["name"], other["code_version"], strict=True))
    unrecorded = finished.loc[finished["code_version"].isna(), "name"].tolist()
    by_name = {c.name: c for c in cells}
    current: dict[str, str | None] = {}
    other_data = {}
    for name, recorded in zip(finished["name"], finished["data_fingerprint"], strict=True):
        cell = by_name.get(name)
        if not isinstance(recorded, str) or cell is None:
            continue
        if not DATASET_KINDS[cell.dataset.kind].reads_files:
            continue
        if cell.dataset.name not in current:
            current[cell.dataset.name] = _fingerprint(cell)
        if current[cell.dataset.name] not in (None, recorded):
            other_data[name] = cell.dataset.name
    return Stale(version, other_code, unrecorded, other_data)


def _fingerprint(cell: Cell) -> str | None:
    """The fingerprint of `cell`'s dataset as it loads now; None when it does not load (the
    cell's own run then says why)."""
    try:
        dataset, _ = load_source(cell.dataset, cell.seed)
    except Exception:  # noqa: BLE001  (a file that no longer reads is not this check's to report)
        return None
    return dataset.fingerprint
