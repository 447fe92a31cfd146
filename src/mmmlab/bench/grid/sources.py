"""Each dataset source of a spec checked before anything runs: its files exist, its column
map is valid, its preset is a known simulator and its settings grid names real settings.

A source that fails here would fail every one of its cells; the `SpecError` names the key
(``datasets.1.preset``) and what to give instead.
"""

from __future__ import annotations

import difflib
import glob
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mmmlab.bench.grid.spec import BenchSpec, DatasetSpec, SpecError


def check_sources(spec: BenchSpec) -> None:
    """Raise `SpecError` for the first dataset source of `spec` that cannot load."""
    for i, dataset in enumerate(spec.datasets):
        check_source(dataset, f"datasets.{i}")


def check_source(d: DatasetSpec, where: str) -> None:
    """Raise `SpecError` naming `where` (the source's key path) if `d` cannot load."""
    for key in ("file", "conjura"):
        path = getattr(d, key)
        if path is not None and not Path(path).is_file():
            raise SpecError(f"{where}.{key}: {path}: no such file (paths are relative to the spec)")
    if d.files is not None and not glob.glob(d.files):
        raise SpecError(f"{where}.files: no file matches {d.files!r}")
    if d.columns is not None:
        _check_columns(d.columns, f"{where}.columns")
    if d.preset is not None:
        _check_preset(d, where)


def _check_columns(columns: str | dict[str, Any], where: str) -> None:
    from mmmlab.data import ColumnMap
    from mmmlab.data.columns import describe_validation_error

    if isinstance(columns, str):
        if not Path(columns).is_file():
            raise SpecError(f"{where}: {columns}: no such column map file")
        try:
            ColumnMap.from_yaml(columns)
        except ValueError as err:
            raise SpecError(f"{where}: {err}") from None
        return
    try:
        ColumnMap.model_validate(columns)
    except ValidationError as err:
        raise SpecError(f"{where}: {describe_validation_error(err, ColumnMap)}") from None


def _check_preset(d: DatasetSpec, where: str) -> None:
    from mmmlab.synth.catalog import SIMULATORS
    from mmmlab.synth.presets import PRESETS

    name = d.preset or ""
    if name not in SIMULATORS and not Path(name).is_file():
        close = difflib.get_close_matches(name, SIMULATORS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SpecError(
            f"{where}.preset: {name!r} is not a built-in simulator nor a world spec file.{hint} "
            f"Built-in ones (`mmmlab synth --list`): {', '.join(SIMULATORS)}"
        )
    if not d.params and d.frequency != "daily":
        return
    if name not in PRESETS:
        raise SpecError(
            f"{where}: params and frequency apply to the business presets "
            f"({', '.join(PRESETS)}), not {name!r}; leave them out"
        )
    world = PRESETS[name]()
    fields = type(world).model_fields
    for key, values in d.params.items():
        if key not in fields:
            raise SpecError(
                f"{where}.params: {key!r} is not a setting of {name}; settings: {', '.join(fields)}"
            )
        for value in values:
            try:
                type(world).model_validate(world.model_dump() | {key: value})
            except ValidationError as err:
                first = err.errors()[0]["msg"]
                raise SpecError(f"{where}.params.{key}: {value!r}: {first}") from None
