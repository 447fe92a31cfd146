"""The ``conjura`` dataset kind: an e-commerce export in the Conjura schema, one dataset per
organisation (the `n_organisations` with the most days, or all), spend summed over channels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmmlab.bench.grid.sources.source import DataSource


@dataclass(frozen=True, kw_only=True)
class ConjuraSource(DataSource):
    """One organisation of a Conjura file."""

    file: str
    organisation: str


class ConjuraKind:
    key = "conjura"
    reads_files = True

    def check(self, entry: Any, where: str) -> None:
        if not Path(entry.conjura).is_file():
            raise ValueError(
                f"{where}.conjura: {entry.conjura}: no such file (paths are relative to the spec)"
            )

    def expand(self, entry: Any) -> list[DataSource]:
        from mmmlab.data.conjura import organisations

        ids = organisations(entry.conjura)["organisation_id"].astype(str).tolist()
        ids = ids[: entry.n_organisations] if entry.n_organisations else ids
        prefix = f"{entry.name}:" if entry.name else ""
        return [
            ConjuraSource(
                kind=self.key,
                name=f"{prefix}org_{i}",
                file=entry.conjura,
                organisation=i,
                sum_channels=True,
            )
            for i in ids
        ]

    def load(self, source: ConjuraSource, seed: int):
        from mmmlab.data.conjura import read_conjura

        return read_conjura(source.file, organisations=[source.organisation])[0], None
