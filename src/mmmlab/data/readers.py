"""Read wide CSV and Parquet files into a `Dataset`, through the checks of `validation`."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from mmmlab.data.columns import ColumnMap
from mmmlab.data.dataset import Dataset, DatasetError
from mmmlab.data.validation import (
    SourceFile,
    check_frequency,
    check_min_rows,
    check_missing,
    check_non_negative,
    check_population,
    check_same_dates,
    check_target_varies,
    check_unique_rows,
    parse_dates,
    parse_labels,
    parse_numeric,
    require_columns,
    warn_zero_channel,
)

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
MissingSpend = Literal["error", "zero"]


def read_table(path: str | Path) -> tuple[pd.DataFrame, SourceFile]:
    """Read a CSV or Parquet file (read-only) into a table indexed by row number.

    CSV cells are read as text (numbers are parsed later, so a bad cell can be shown as
    written); the index is the file line (header = line 1). Parquet keeps its column types;
    the index is the 1-based row. Blank CSV lines are skipped but still counted.

    Returns
    -------
    frame : pd.DataFrame, one row per data row.
    source : SourceFile naming the file, for error messages.
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DatasetError(
            f"{path}: unknown file type {path.suffix or '(no extension)'!r}; mmmlab reads "
            f"{', '.join(FORMATS)} files. Save the data as CSV or Parquet."
        )
    try:
        data = path.read_bytes()  # the file is only ever opened for reading
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the file ({exc.strerror})") from None
    try:
        if kind == "csv":
            frame = pd.read_csv(
                io.BytesIO(data),
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                encoding="utf-8-sig",
            )
        else:
            frame = pd.read_parquet(io.BytesIO(data))
    except (ValueError, OSError) as exc:
        raise DatasetError(f"{path}: cannot read it as {kind}: {exc}") from None
    first = 2 if kind == "csv" else 1
    frame = frame.set_axis(pd.RangeIndex(first, first + len(frame)), axis=0)
    frame.columns = [str(c).strip() for c in frame.columns]
    if kind == "csv":
        blank = frame.map(lambda v: pd.isna(v) or str(v).strip() == "").all(axis=1)
        frame = frame[~blank]
    if frame.empty:
        raise DatasetError(f"{path}: the file has no data rows")
    source = SourceFile(
        str(path), "line" if kind == "csv" else "row", sha256=hashlib.sha256(data).hexdigest()
    )
    return frame, source


def read_dataset(
    path: str | Path,
    columns: ColumnMap,
    *,
    name: str | None = None,
    fill_missing_spend: MissingSpend = "error",
    min_rows: int = 12,
) -> Dataset:
    """Read a wide CSV or Parquet file: one row per date (per date × geo for panels).

    Parameters
    ----------
    path : a ``.csv``, ``.parquet`` or ``.pq`` file; never modified.
    columns : which column plays which role.
    name : the dataset's label; defaults to the file name without extension.
    fill_missing_spend : "error" fails on a blank spend/exposure cell; "zero" reads it as 0
        and warns.
    min_rows : the fewest distinct dates accepted.

    Returns
    -------
    Dataset with T dates, G geos (sorted; ``("national",)`` without a geo column), the
    channels in column-map order, exposure (T, G, C) when any channel maps one, and controls
    (T, G, K): the numeric controls, then the one-hot columns ``col=level``.

    Raises
    ------
    DataFileError (a `DatasetError`) naming the file, the column and the row.
    """
    frame, source = read_table(path)
    return dataset_from_frame(
        frame,
        columns,
        source=source,
        name=name or Path(path).stem,
        fill_missing_spend=fill_missing_spend,
        min_rows=min_rows,
    )


def dataset_from_frame(
    frame: pd.DataFrame,
    columns: ColumnMap,
    *,
    source: SourceFile | None = None,
    name: str = "dataset",
    fill_missing_spend: MissingSpend = "error",
    min_rows: int = 12,
) -> Dataset:
    """Validate a wide table and build the `Dataset`; rows may come in any order.

    With `source` given, ``frame.index`` must hold the file's row numbers (as `read_table`
    returns them); without it the rows are numbered 1, 2, ... and the file is "<DataFrame>".
    """
    if fill_missing_spend not in ("error", "zero"):
        raise DatasetError(
            f"fill_missing_spend must be 'error' or 'zero', not {fill_missing_spend!r}"
        )
    if source is None:
        source = SourceFile("<DataFrame>", "row")
        frame = frame.set_axis(pd.RangeIndex(1, len(frame) + 1), axis=0)
    require_columns(frame, columns.required_columns, source)
    panel = columns.geo is not None
    dates = parse_dates(frame, columns.date, source, columns.date_format)
    if columns.geo is None:
        geos = pd.Series("national", index=frame.index, dtype=object)
    else:
        geos = parse_labels(frame, columns.geo, source, "geo")
    fill = fill_missing_spend == "zero"

    def numeric(column: str, role: str) -> pd.Series:
        values = check_missing(parse_numeric(frame, column, source), column, source, role, fill)
        if role in ("spend", "exposure"):
            check_non_negative(values, column, source, role)
        return values

    spend = {ch: numeric(col, "spend") for ch, col in columns.channel_columns.items()}
    exposure = {ch: numeric(col, "exposure") for ch, col in columns.exposure.items()}
    target = check_missing(
        parse_numeric(frame, columns.target, source), columns.target, source, "target"
    )
    controls = {
        col: check_missing(parse_numeric(frame, col, source), col, source, "control")
        for col in columns.controls
    }
    references = {}
    for col in columns.categorical_controls:
        dummies, references[col] = one_hot(parse_labels(frame, col, source, "category"), col)
        for key, values in dummies.items():
            if key in controls:
                raise source.error(col, None, f"level name {key!r} clashes with a control column")
            controls[key] = values
        if not dummies:
            source.warn(col, f"has the single level {references[col]!r}; it adds no control.")

    check_unique_rows(dates, geos, columns.date, source, panel)
    order = pd.DataFrame({"d": dates, "g": geos}).sort_values(["d", "g"], kind="stable").index
    dates, geos = dates.loc[order], geos.loc[order]
    if columns.geo is not None:
        check_same_dates(dates, geos, columns.geo, source)
    rows_by_date = pd.Series(dates.index.to_numpy(), index=dates.to_numpy()).groupby(level=0).min()
    unique_dates = pd.DatetimeIndex(rows_by_date.index)
    span = (int(frame.index.min()), int(frame.index.max()))
    check_min_rows(len(unique_dates), min_rows, span, columns.date, source)
    frequency = check_frequency(unique_dates, rows_by_date.to_numpy(), columns.date, source)
    check_target_varies(target.loc[order], geos, columns.target, source, panel)
    for ch, col in columns.channel_columns.items():
        warn_zero_channel(spend[ch], col, ch, source)
    population = None
    if columns.population is not None:
        values = check_missing(
            parse_numeric(frame, columns.population, source),
            columns.population,
            source,
            "population",
        )
        per_geo = check_population(values, geos, columns.population, source)
        population = np.array([per_geo[g] for g in sorted(per_geo)])

    geo_names = sorted(set(geos))
    T, G = len(unique_dates), len(geo_names)

    def grid(values: pd.Series) -> np.ndarray:
        return values.loc[order].to_numpy(dtype=np.float64).reshape(T, G)

    channels = list(columns.channel_columns)
    exposure_grid = None
    if exposure:
        exposure_grid = np.stack([grid(exposure.get(ch, spend[ch])) for ch in channels], axis=-1)
    control_names = list(controls)
    control_grid = (
        np.stack([grid(controls[k]) for k in control_names], axis=-1)
        if control_names
        else np.zeros((T, G, 0))
    )
    return Dataset(
        dates=unique_dates,
        geos=tuple(geo_names),
        channels=tuple(channels),
        spend=np.stack([grid(spend[ch]) for ch in channels], axis=-1),
        target=grid(target),
        exposure=exposure_grid,
        controls=control_grid,
        control_names=tuple(control_names),
        population=population,
        frequency=frequency,
        name=name,
        source={
            "path": source.path,
            "sha256": source.sha256,
            "columns": columns.model_dump(mode="json"),
            "reference_levels": references,
        },
    )


def one_hot(labels: pd.Series, column: str) -> tuple[dict[str, pd.Series], str]:
    """One-hot encode a categorical control, dropping the most frequent level.

    Parameters
    ----------
    labels : text labels, shape (N,).
    column : the column name, used as the prefix of ``column=level``.

    Returns
    -------
    dummies : ``{"column=level": 0/1 float Series (N,)}`` for every level but the reference,
        levels in sorted order.
    reference : the dropped level (most frequent; ties go to the first in sorted order).
    """
    counts = labels.value_counts()
    levels = sorted(counts.index)
    reference = max(levels, key=lambda level: counts[level])
    dummies = {
        f"{column}={level}": (labels == level).astype(np.float64)
        for level in levels
        if level != reference
    }
    return dummies, reference
