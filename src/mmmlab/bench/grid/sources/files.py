"""The ``file`` and ``files`` dataset kinds: one CSV/Parquet file, or a glob of files (one
dataset per file, e.g. one per organisation), read with a column map."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mmmlab.bench.grid.sources.source import DataSource
from mmmlab.bench.grid.spec import canonical


@dataclass(frozen=True, kw_only=True)
class FileSource(DataSource):
    """A data file and its column map (a column map file, or the mapping itself)."""

    file: str
    columns: str | dict[str, Any]


def check_columns(columns: str | dict[str, Any], where: str) -> None:
    """Raise ValueError naming `where` if `columns` is no valid column map (file or mapping)."""
    from mmmlab.data import ColumnMap
    from mmmlab.data.columns import describe_validation_error

    if isinstance(columns, str):
        if not Path(columns).is_file():
            raise ValueError(f"{where}: {columns}: no such column map file")
        try:
            ColumnMap.from_yaml(columns)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        return
    try:
        ColumnMap.model_validate(columns)
    except ValidationError as err:
        raise ValueError(f"{where}: {describe_validation_error(err, ColumnMap)}") from None


def _check_file(path: str, where: str) -> None:
    if not Path(path).is_file():
        raise ValueError(f"{where}: {path}: no such file (paths are relative to the spec)")


class FileKind:
    key = "file"
    reads_files = True

    def check(self, entry: Any, where: str) -> None:
        _check_file(entry.file, f"{where}.file")

    def expand(self, entry: Any) -> list[DataSource]:
        name = entry.name or Path(entry.file).stem
        return [self.source(name, entry.file, entry)]

    def source(self, name: str, path: str, entry: Any) -> FileSource:
        return FileSource(
            kind="file",
            name=name,
            file=path,
            columns=canonical(entry.columns),
            sum_channels=entry.sum_channels,
        )

    def load(self, source: FileSource, seed: int):
        from mmmlab.data import ColumnMap, read_dataset

        columns = source.columns
        column_map = (
            ColumnMap.from_yaml(columns) if isinstance(columns, str) else ColumnMap(**columns)
        )
        return read_dataset(source.file, column_map, name=source.name), None


class FileGroupKind(FileKind):
    """``files``: every file the glob matches, in sorted order, named by its stem (after
    ``name:`` when the entry has a name); each loads as a ``file`` dataset."""

    key = "files"

    def check(self, entry: Any, where: str) -> None:
        if not glob.glob(entry.files):
            raise ValueError(f"{where}.files: no file matches {entry.files!r}")

    def expand(self, entry: Any) -> list[DataSource]:
        prefix = f"{entry.name}:" if entry.name else ""
        paths = sorted(glob.glob(entry.files or ""))
        return [self.source(prefix + Path(p).stem, p, entry) for p in paths]
