"""Checks of a data file's table, each failing with the file, the column and the row.

Every check reads a `pandas.DataFrame` (or Series) whose index holds the row numbers of the
file: the 1-based line for CSV (header = line 1, first data row = line 2) and the 1-based row
for Parquet. Errors are `DataFileError`, formatted as::

    <file>, column '<column>', line <n>: <what is wrong>. <what to do>.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from mmmlab.data.dataset import MAGNITUDE_ADVICE, MAX_MAGNITUDE, DatasetError, infer_frequency

NA_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "#n/a", "<na>"})
Rows = int | tuple[int, int] | None


class DataFileError(DatasetError):
    """A value or layout problem at a known place in a data file.

    Attributes
    ----------
    path : the file, as given.
    column : the column (or MFF variable) at fault, or None.
    row : the row number (CSV line, Parquet row), a (first, last) range, or None.
    """

    def __init__(self, message: str, path: str, column: str | None, row: Rows) -> None:
        super().__init__(message)
        self.path, self.column, self.row = path, column, row


@dataclass(frozen=True)
class SourceFile:
    """Where a table came from, to name places in error messages.

    Attributes
    ----------
    path : the file as the user gave it.
    row_word : "line" for CSV (numbers are file lines), "row" for Parquet and in-memory frames.
    labels : optional ``{column: description}`` for columns that are not literal file columns
        (the MFF reader labels pivoted columns ``VariableName 'tv_spend'``).
    sha256 : hash of the file's bytes, or "" when unknown.
    """

    path: str
    row_word: str = "line"
    labels: Mapping[str, str] = field(default_factory=dict)
    sha256: str = ""

    def column(self, name: str) -> str:
        """How to name column `name` in a message."""
        return self.labels.get(name, f"column {name!r}")

    def rows(self, rows: Rows) -> str:
        """How to name a row number or a (first, last) range in a message."""
        if isinstance(rows, tuple):
            return f"{self.row_word}s {rows[0]}-{rows[1]}"
        return f"{self.row_word} {rows}"

    def error(self, column: str | None, rows: Rows, message: str) -> DataFileError:
        """A `DataFileError` whose message starts with the file, column and row."""
        parts = [self.path]
        if column is not None:
            parts.append(self.column(column))
        if rows is not None:
            parts.append(self.rows(rows))
        return DataFileError(f"{', '.join(parts)}: {message}", self.path, column, rows)

    def warn(self, column: str, message: str) -> None:
        """A `UserWarning` naming the file and column."""
        warnings.warn(f"{self.path}, {self.column(column)}: {message}", UserWarning, stacklevel=3)


def _first(mask: pd.Series) -> int:
    """Row number of the first True in `mask` (in row-number order)."""
    return int(mask.index[mask.to_numpy()].min())


def require_columns(
    frame: pd.DataFrame,
    wanted: Iterable[str],
    source: SourceFile,
    todo: str = "Fix the column map (or the header) so the names agree.",
) -> None:
    """Fail on the first column of `wanted` the table lacks, suggesting close matches."""
    available = [str(c) for c in frame.columns]
    for name in wanted:
        if name in available:
            continue
        close = difflib.get_close_matches(name, available, n=3, cutoff=0.6)
        close += [c for c in available if c.lower() == name.lower() and c not in close]
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        if len(available) == 1 and any(sep in available[0] for sep in ";\t|"):
            hint += " The header has one column only: write the file comma-separated."
        raise source.error(
            name,
            1 if source.row_word == "line" else None,
            f"no such column. The file has: {', '.join(available)}.{hint} {todo}",
        )


def parse_numeric(frame: pd.DataFrame, column: str, source: SourceFile) -> pd.Series:
    """Column `column` as float64 with NaN where empty; fails on text, infinite values and
    magnitudes beyond `MAX_MAGNITUDE`."""
    raw = frame[column]
    if is_bool_dtype(raw) or is_numeric_dtype(raw):
        values = raw.astype(np.float64)
    else:
        text = raw.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
        missing = text.map(lambda v: pd.isna(v) or (isinstance(v, str) and v.lower() in NA_TOKENS))
        values = pd.to_numeric(text.where(~missing.astype(bool)), errors="coerce")
        bad = values.isna() & ~missing.astype(bool)
        if bad.any():
            row = _first(bad)
            raise source.error(
                column,
                row,
                f"non-numeric value {raw[row]!r}. Write a plain number (no currency signs, "
                "units or thousands separators) or leave the cell empty if it is missing.",
            )
        values = values.astype(np.float64)
    infinite = pd.Series(np.isinf(values.to_numpy()), index=values.index)
    if infinite.any():
        row = _first(infinite)
        raise source.error(column, row, f"value {raw[row]!r} is not a finite number. Fix it.")
    huge = values.abs() > MAX_MAGNITUDE
    if huge.any():
        row = _first(huge)
        raise source.error(column, row, f"value {raw[row]!r} is too large. {MAGNITUDE_ADVICE}.")
    return values


def parse_dates(
    frame: pd.DataFrame, column: str, source: SourceFile, date_format: str | None
) -> pd.Series:
    """Column `column` as datetime64 (time-zone free); fails on blank or unreadable dates."""
    raw = frame[column]
    if is_datetime64_any_dtype(raw):
        parsed = raw
    else:
        if is_numeric_dtype(raw) and date_format is None:
            raise source.error(
                column,
                int(raw.index[0]),
                f"dates are numbers ({raw.iloc[0]!r}). Set date_format in the column map "
                "(for example '%Y%m%d') or store the dates as text or dates.",
            )
        text = raw.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
        text = text.map(lambda v: str(v) if isinstance(v, int | np.integer) else v)
        blank = text.map(lambda v: pd.isna(v) or v == "").astype(bool)
        if blank.any():
            raise source.error(column, _first(blank), "missing date. Every row needs a date.")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pandas' format-inference notes
            parsed = pd.to_datetime(text, format=date_format, errors="coerce")
        bad = parsed.isna()
        if bad.any():
            row = _first(bad)
            how = (
                f"it does not match date_format {date_format!r}; fix the value or the format"
                if date_format
                else "use ISO dates (YYYY-MM-DD) or set date_format in the column map "
                "(for example '%d/%m/%Y')"
            )
            raise source.error(column, row, f"cannot read date {raw[row]!r}; {how}.")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed


def parse_labels(frame: pd.DataFrame, column: str, source: SourceFile, what: str) -> pd.Series:
    """Column `column` as stripped strings; fails on blank cells (`what` names the role)."""
    text = frame[column].astype(object).map(lambda v: v if pd.isna(v) else str(v).strip())
    blank = text.map(lambda v: pd.isna(v) or v == "").astype(bool)
    if blank.any():
        raise source.error(
            column, _first(blank), f"missing {what}. Fill in the {what} on every row."
        )
    return text.astype(str)


def check_missing(
    values: pd.Series, column: str, source: SourceFile, role: str, fill_zero: bool = False
) -> pd.Series:
    """Fail on the first NaN of `values`, or fill NaN with 0 (with a warning) when `fill_zero`."""
    missing = values.isna()
    if not missing.any():
        return values
    row = _first(missing)
    if fill_zero:
        source.warn(
            column,
            f"{int(missing.sum())} missing {role} value(s), the first at {source.rows(row)}, "
            "read as 0 (fill_missing_spend='zero').",
        )
        return values.fillna(0.0)
    todo = {
        "spend": "Enter 0 where nothing was spent, or read with fill_missing_spend='zero'.",
        "exposure": "Enter 0 where nothing ran, or read with fill_missing_spend='zero'.",
    }.get(role, "Fill in the value, or cut the file to the dates that have it.")
    raise source.error(column, row, f"missing {role} value. {todo}")


def check_non_negative(values: pd.Series, column: str, source: SourceFile, role: str) -> None:
    """Fail on the first negative value (spend and exposure cannot be negative)."""
    negative = values < 0
    if negative.any():
        row = _first(negative)
        why = " (book refunds and credits elsewhere)" if role == "spend" else ""
        raise source.error(
            column,
            row,
            f"negative {role} {values[row]:g}. {role.capitalize()} must be 0 or more; "
            f"correct the value{why}.",
        )


def check_unique_rows(
    dates: pd.Series, geos: pd.Series, date_column: str, source: SourceFile, panel: bool
) -> None:
    """Fail on a date that appears twice (twice for the same geo in a panel)."""
    keys = pd.DataFrame({"date": dates, "geo": geos})
    repeated = keys.duplicated(keep=False)
    if not repeated.any():
        return
    first = _first(keys.duplicated(keep="first"))
    date, geo = keys.loc[first, "date"], keys.loc[first, "geo"]
    same = keys.index[(keys["date"] == date) & (keys["geo"] == geo)].tolist()
    of = f" for geo {geo!r}" if panel else ""
    raise source.error(
        date_column,
        first,
        f"duplicate date {date.date()}{of} (also at {source.rows(min(same))}). "
        "Keep one row per date" + (" and geo" if panel else "") + "; sum or drop the repeat.",
    )


def check_same_dates(
    dates: pd.Series, geos: pd.Series, geo_column: str, source: SourceFile
) -> None:
    """Fail when a geo of a panel lacks a date that other geos have."""
    every = set(dates)
    for geo in sorted(set(geos)):
        have = set(dates[geos == geo])
        if have == every:
            continue
        lacking = min(every - have)
        elsewhere = _first(dates == lacking)
        raise source.error(
            geo_column,
            elsewhere,
            f"geo {geo!r} has no row for {lacking.date()}, which other geos have here "
            f"({len(every - have)} date(s) missing for {geo!r} in all). Every geo needs the "
            "same dates: add the rows or drop the geo.",
        )


def check_min_rows(
    n_periods: int, min_rows: int, rows: Rows, column: str, source: SourceFile
) -> None:
    """Fail when fewer than `min_rows` distinct dates are left."""
    if n_periods < min_rows:
        raise source.error(
            column,
            rows,
            f"only {n_periods} distinct date(s); at least {min_rows} are needed to fit a "
            "model. Supply a longer history (or pass a smaller min_rows).",
        )


def check_frequency(
    dates: pd.DatetimeIndex, rows: Sequence[int], column: str, source: SourceFile
) -> str:
    """Frequency of sorted unique `dates` ('daily', 'weekly', 'monthly') or fail at the gap.

    `rows[i]` is the row number of `dates[i]`.
    """
    try:
        return infer_frequency(dates, source="dates")
    except DatasetError as exc:
        message = str(exc).removeprefix("dates: ")
        days = np.diff(dates.values).astype("timedelta64[D]").astype(int)
        median = int(np.median(days))
        if median in (1, 7):
            bad = days != median
        elif 28 <= median <= 31:
            bad = (days < 28) | (days > 31)
        else:
            raise source.error(column, (rows[0], rows[-1]), message) from None
        i = int(np.argmax(bad))
        raise source.error(column, int(rows[i + 1]), message) from None


def check_target_varies(
    target: pd.Series, geos: pd.Series, column: str, source: SourceFile, panel: bool
) -> None:
    """Fail when the target takes a single value (within a geo, for panels)."""
    for geo in sorted(set(geos)):
        values = target[geos == geo]
        if values.nunique() <= 1:
            of = f" for geo {geo!r}" if panel else ""
            span = (int(values.index.min()), int(values.index.max()))
            raise source.error(
                column,
                span,
                f"the target is constant ({values.iloc[0]:g}){of}, so there is nothing to "
                "explain. Check that the target column is the right one.",
            )


def warn_zero_channel(values: pd.Series, column: str, channel: str, source: SourceFile) -> None:
    """Warn (not fail) when a channel's spend is zero on every row."""
    if (values == 0).all():
        source.warn(
            column,
            f"channel {channel!r} has zero spend on every row; its effect cannot be "
            "estimated. Drop it from the column map or check the column.",
        )


def check_population(
    values: pd.Series, geos: pd.Series, column: str, source: SourceFile
) -> dict[str, float]:
    """``{geo: population}``; fails when it varies within a geo or is not positive."""
    out = {}
    for geo in sorted(set(geos)):
        per_geo = values[geos == geo]
        first = per_geo.loc[per_geo.index.min()]
        differs = per_geo != first
        if differs.any():
            row = _first(differs)
            raise source.error(
                column,
                row,
                f"population of geo {geo!r} changes from {first:g} to {per_geo[row]:g}. "
                "Give one population per geo (the same value on each of its rows).",
            )
        if first <= 0:
            raise source.error(
                column, int(per_geo.index.min()), f"population {first:g} must be positive."
            )
        out[geo] = float(first)
    return out
