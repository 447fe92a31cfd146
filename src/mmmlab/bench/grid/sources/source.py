"""A concrete dataset of the grid (`DataSource`) and the interface of a dataset kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mmmlab.data import Dataset
    from mmmlab.data.lift_tests import LiftExperiment
    from mmmlab.metrics.robyn import LiftTest


@dataclass(frozen=True, kw_only=True)
class DataSource:
    """One concrete dataset of the grid, as its kind expanded it from the spec.

    kind : the key of the dataset kind that made it and loads it (`registry.DATASET_KINDS`)
    name : the dataset's name in cell names
    sum_channels : sum spend over channels into one channel "spend" once loaded
    lift_tests : ``"from_truth"``, the spec's tests (Robyn-style and experiments), or None
    """

    kind: str
    name: str
    sum_channels: bool = False
    lift_tests: str | tuple[LiftTest | LiftExperiment, ...] | None = None


class DatasetKind(Protocol):
    """A kind of dataset source, selected in a spec by its `key` (``preset: ...``).

    reads_files : its data are read from files, which can change under an unchanged spec (a
        resumed run reads them again to compare each finished cell's data fingerprint)
    """

    key: str
    reads_files: bool

    def check(self, entry: Any, where: str) -> None:
        """Raise ValueError naming `where` (the entry's key path) if `entry` cannot load."""
        ...

    def expand(self, entry: Any) -> list[DataSource]:
        """The concrete datasets of one spec entry (`grid.spec.DatasetSpec`)."""
        ...

    def load(self, source: DataSource, seed: int) -> tuple[Dataset, Any]:
        """(Dataset, Truth or None) of `source` for the grid seed `seed`."""
        ...
