"""`CellRow`: a grid cell as the result store first records it, checked before it is written."""

from __future__ import annotations

from dataclasses import dataclass

_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class CellRow:
    """One grid cell as the store first records it.

    Attributes
    ----------
    name : str
        Canonical name, e.g. ``small_business/single_hill[adstock=weibull_cdf]/seed=3``; the key.
    dataset, model, variant, seed : str, str, str, int
        What the cell combines (variant is the bracketed label, "" for the base configuration).
    cell_seed : int
        The random seed hashed from the name; must fit SQLite's signed 64-bit INTEGER.
    status, skip_reason : str, str or None
        ``"pending"``, or ``"skipped"`` with the reason the spec excludes the cell.
    """

    name: str
    dataset: str
    model: str
    variant: str
    seed: int
    cell_seed: int
    status: str = "pending"
    skip_reason: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("CellRow.name is empty; every cell needs its canonical name")
        if self.status not in ("pending", "skipped"):
            raise ValueError(
                f"cell {self.name!r}: status {self.status!r} is not 'pending' or 'skipped'; "
                "other statuses are set by the store as the cell runs"
            )
        for field in ("seed", "cell_seed"):
            value = int(getattr(self, field))  # numpy integers: sqlite3 binds only Python ints
            if not _INT64[0] <= value <= _INT64[1]:
                raise ValueError(
                    f"cell {self.name!r}: {field}={value} does not fit SQLite's signed 64-bit "
                    "INTEGER; derive it modulo 2**63"
                )
            object.__setattr__(self, field, value)
