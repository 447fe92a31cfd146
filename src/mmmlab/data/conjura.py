"""Read e-commerce data in the Conjura schema: one national daily `Dataset` per organisation.

A Conjura file (CSV or Parquet) has one row per ``organisation_id`` × ``territory_name`` ×
``date_day``, the target ``all_purchases`` (purchases per day) and spend columns named
``<channel>_spend`` (any number of them; a blank spend cell means nothing was spent). The rows
of territory "All Territories" are each organisation's totals; the rows of single countries are
left out, so their numbers never enter a dataset. This is the data of the published Hill-mixture
real-data benchmark, which sums spend over the channels and uses the organisations with the
most days of data.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from mmmlab.data.dataset import Dataset, DatasetError
from mmmlab.data.readers import read_table
from mmmlab.data.validation import (
    SourceFile,
    check_non_negative,
    parse_dates,
    parse_labels,
    parse_numeric,
)

ORGANISATION = "organisation_id"
TERRITORY = "territory_name"
DATE = "date_day"
TARGET = "all_purchases"
SPEND_SUFFIX = "_spend"
REQUIRED = (ORGANISATION, TERRITORY, DATE, TARGET)
ALL_TERRITORIES = "All Territories"
MAX_INTERPOLATED = 0.02  # largest share of days whose target is filled by interpolation
SCHEMA = (
    "A Conjura file has one row per organisation_id, territory_name and date_day, the target "
    "all_purchases and one or more spend columns named <channel>_spend."
)


class TerritoryRows(NamedTuple):
    """The rows of one territory, indexed by file row number (CSV line, Parquet row).

    Attributes
    ----------
    frame : the file's columns, shape (N, columns).
    source : the file, for error messages.
    spend_columns : the ``*_spend`` columns, in file order (length C).
    organisation : organisation id of each row (N,), as text.
    date : date of each row (N,), datetime64.
    """

    frame: pd.DataFrame
    source: SourceFile
    spend_columns: tuple[str, ...]
    organisation: pd.Series
    date: pd.Series


def read_conjura(
    path: str | Path,
    n_organisations: int | None = None,
    organisations: list[str] | None = None,
    territory: str = ALL_TERRITORIES,
    sum_channels: bool = True,
    min_days: int = 60,
) -> list[Dataset]:
    """Read a Conjura file into one daily `Dataset` per organisation.

    Parameters
    ----------
    path : a ``.csv``, ``.parquet`` or ``.pq`` file; only ever read.
    n_organisations : keep the organisations with the most days of data (rows of `territory`
        with a distinct date); ties go to the smaller organisation id. None keeps all.
    organisations : the organisation ids to read, in this order; overrides the ranking, so it
        cannot be given together with `n_organisations`.
    territory : the ``territory_name`` whose rows are read; every other row is ignored.
    sum_channels : True sums the ``*_spend`` columns into one channel "spend"; False keeps
        one channel per column, named without the ``_spend`` suffix.
    min_days : organisations with fewer days of data are left out, with a warning.

    Returns
    -------
    list of Dataset, most days first (or in the order of `organisations`). Each is daily over
    the organisation's full calendar span (T days), geos ``(territory,)``, spend (T, 1, C),
    target (T, 1), no controls, name ``org_<organisation_id>``.

    Ids and dates are checked on every row of `territory`, numbers only on the rows of the
    organisations read: a non-numeric or negative value in another organisation's rows does not
    stop the read. Days without a row get 0 spend; their
    target (and a blank target cell) is linearly interpolated, with a warning, when at most 2% of
    an organisation's days lack it, and is an error otherwise.

    Raises
    ------
    DataFileError (a `DatasetError`) naming the file, the column, the row and what to do.
    """
    if n_organisations is not None and organisations is not None:
        raise DatasetError(
            f"{path}: give n_organisations or organisations, not both (the list already says "
            "which organisations to read)."
        )
    if n_organisations is not None and n_organisations < 1:
        raise DatasetError(f"{path}: n_organisations must be at least 1, not {n_organisations}")
    rows = territory_rows(path, territory)
    chosen = _choose(rows, territory, n_organisations, organisations, min_days)
    datasets = []
    for org in chosen:  # a loop, not a comprehension, keeps warnings' stacklevel right
        datasets.append(_organisation_dataset(rows, org, territory, sum_channels))
    return datasets


def organisations(path: str | Path, territory: str = ALL_TERRITORIES) -> pd.DataFrame:
    """One row per organisation of `territory`, most days first (the order `read_conjura` ranks).

    Returns
    -------
    pd.DataFrame with columns organisation_id, n_days (distinct dates with a row), first_date,
    last_date, total_spend (over every ``*_spend`` column, blanks as 0) and total_purchases.
    Unlike `read_conjura`, it checks the numbers of every organisation.
    """
    rows = territory_rows(path, territory)
    frame, source = rows.frame, rows.source
    spend = sum(_spend_values(frame, col, source).to_numpy() for col in rows.spend_columns)  # (N,)
    table = pd.DataFrame(
        {
            "organisation_id": rows.organisation.to_numpy(),
            "date": rows.date.to_numpy(),
            "spend": spend,
            "purchases": parse_numeric(frame, TARGET, source).to_numpy(),
        }
    )
    out = table.groupby("organisation_id", sort=False).agg(
        n_days=("date", "nunique"),
        first_date=("date", "min"),
        last_date=("date", "max"),
        total_spend=("spend", "sum"),
        total_purchases=("purchases", "sum"),
    )
    order = _ranked(out["n_days"])
    return out.loc[order].reset_index()


def territory_rows(path: str | Path, territory: str = ALL_TERRITORIES) -> TerritoryRows:
    """Read the file (read-only), check the schema and keep the rows of `territory`."""
    frame, source = read_table(path)
    spend_columns = _check_schema(frame, source)
    names = frame[TERRITORY].astype("string").str.strip()
    keep = (names == territory).fillna(False).astype(bool)
    if not keep.any():
        present = sorted(set(names.dropna()))
        raise source.error(
            TERRITORY,
            None,
            f"no rows for territory {territory!r}. The file has: {', '.join(present)}. "
            "Pass one of them as territory.",
        )
    frame = frame[keep.to_numpy()]
    return TerritoryRows(
        frame=frame,
        source=source,
        spend_columns=spend_columns,
        organisation=parse_labels(frame, ORGANISATION, source, "organisation id"),
        date=parse_dates(frame, DATE, source, None),
    )


def _check_schema(frame: pd.DataFrame, source: SourceFile) -> tuple[str, ...]:
    """The ``*_spend`` columns; fails naming every required column the file lacks."""
    columns = [str(c) for c in frame.columns]
    missing = [c for c in REQUIRED if c not in columns]
    spend = tuple(c for c in columns if c.endswith(SPEND_SUFFIX) and len(c) > len(SPEND_SUFFIX))
    if not spend:
        missing.append(f"<channel>{SPEND_SUFFIX}")
    if missing:
        raise source.error(
            missing[0] if missing[0] in REQUIRED else None,
            1 if source.row_word == "line" else None,
            f"not a Conjura file: missing column(s) {', '.join(missing)}. {SCHEMA} "
            f"The file has: {', '.join(columns)}. Rename the columns or read the file with "
            "read_dataset and a column map.",
        )
    return spend


def _ranked(n_days: pd.Series) -> list[str]:
    """Organisation ids sorted by days (most first), then by id."""
    return sorted(n_days.index, key=lambda org: (-int(n_days[org]), str(org)))


def _choose(
    rows: TerritoryRows,
    territory: str,
    n_organisations: int | None,
    wanted: list[str] | None,
    min_days: int,
) -> list[str]:
    """The organisation ids to read, after the explicit list or the ranking and `min_days`."""
    source = rows.source
    n_days = rows.date.groupby(rows.organisation).nunique()  # (organisations,)
    ranked = _ranked(n_days)
    if wanted is not None:
        wanted = [str(org).strip() for org in wanted]
        unknown = [org for org in wanted if org not in n_days.index]
        if unknown:
            raise source.error(
                ORGANISATION,
                None,
                f"unknown organisation id(s) {', '.join(map(repr, unknown))} in territory "
                f"{territory!r}. Known ids ({len(ranked)}, most days first): "
                f"{', '.join(ranked)}. Pick ids from this list.",
            )
        chosen = list(dict.fromkeys(wanted))
    else:
        chosen = ranked if n_organisations is None else ranked[:n_organisations]
    short = [org for org in chosen if n_days[org] < min_days]
    if len(short) == len(chosen):
        longest = max(chosen, key=lambda org: int(n_days[org]))
        raise source.error(
            DATE,
            None,
            f"no organisation left with at least min_days={min_days} days of data in territory "
            f"{territory!r} (the longest chosen, {longest!r}, has {int(n_days[longest])}). "
            "Pass a smaller min_days.",
        )
    if short:
        _warn(
            source,
            f"left out organisation(s) with fewer than min_days={min_days} days of data: "
            + ", ".join(f"{org!r} ({int(n_days[org])} days)" for org in short)
            + ". Pass a smaller min_days to keep them.",
        )
    return [org for org in chosen if org not in short]


def _warn(source: SourceFile, message: str, stacklevel: int = 4) -> None:
    """A `UserWarning` naming the file; `stacklevel` points it at the caller of `read_conjura`."""
    warnings.warn(f"{source.path}: {message}", UserWarning, stacklevel=stacklevel)


def _spend_values(frame: pd.DataFrame, column: str, source: SourceFile) -> pd.Series:
    """Spend column as float64 (N,), blanks as 0; fails on text and negative values."""
    values = parse_numeric(frame, column, source).fillna(0.0)
    check_non_negative(values, column, source, "spend")
    return values


def _check_unique_dates(date: pd.Series, org: str, territory: str, source: SourceFile) -> None:
    """Fail on the first row that repeats a date of the same organisation."""
    repeat = date.duplicated(keep="first")
    if not repeat.any():
        return
    row = int(date.index[repeat.to_numpy()].min())
    day = date[row]
    first = int(date.index[(date == day).to_numpy()].min())
    raise source.error(
        DATE,
        row,
        f"organisation {org!r} has a second row for {day.date()} in territory {territory!r} "
        f"(the first is at {source.rows(first)}). Keep one row per organisation, territory "
        "and day: sum or drop the repeat.",
    )


def _daily_target(
    target: pd.Series, date: pd.Series, calendar: pd.DatetimeIndex, org: str, source: SourceFile
) -> np.ndarray:
    """Target on every day of `calendar` (T,); fills up to 2% missing days by interpolation.

    `target` and `date` are the organisation's rows (N,) with file row numbers as index.
    """
    daily = pd.Series(target.to_numpy(), index=date.to_numpy()).reindex(calendar)  # (T,)
    missing = daily.isna().to_numpy()
    n_missing, n_total = int(missing.sum()), len(calendar)
    if n_missing == 0:
        return daily.to_numpy()
    first = calendar[missing][0]
    at_row = date.index[(date == first).to_numpy()]
    row = int(at_row[0]) if len(at_row) else None
    blank = int(target.isna().sum())
    what = (
        f"{n_missing} of {n_total} days ({n_missing / n_total:.1%}) have no {TARGET} "
        f"({n_missing - blank} without a row, {blank} blank), the first on {first.date()}"
    )
    if n_missing > MAX_INTERPOLATED * n_total:
        raise source.error(
            TARGET,
            row,
            f"organisation {org!r}: {what}. At most {MAX_INTERPOLATED:.0%} of the days may lack "
            "the target; add the missing rows or values, or leave this organisation out "
            "(organisations=[...]).",
        )
    _warn(
        source,
        f"column {TARGET!r}: organisation {org!r}: {what}; filled by linear interpolation "
        "(spend on days without a row read as 0).",
        stacklevel=5,
    )
    return daily.interpolate(method="linear", limit_direction="both").to_numpy()


def _organisation_dataset(
    rows: TerritoryRows, org: str, territory: str, sum_channels: bool
) -> Dataset:
    """Check one organisation's rows and build its daily `Dataset`."""
    source = rows.source
    mask = (rows.organisation == org).to_numpy()
    frame, date = rows.frame[mask], rows.date[mask]
    _check_unique_dates(date, org, territory, source)
    calendar = pd.date_range(date.min(), date.max(), freq="D")  # (T,)
    by_day = pd.Index(date.to_numpy())
    spend = np.stack(
        [
            pd.Series(_spend_values(frame, col, source).to_numpy(), index=by_day)
            .reindex(calendar, fill_value=0.0)
            .to_numpy()
            for col in rows.spend_columns
        ],
        axis=-1,
    )  # (T, C)
    target = _daily_target(parse_numeric(frame, TARGET, source), date, calendar, org, source)
    unused = [
        col for col, total in zip(rows.spend_columns, spend.sum(axis=0), strict=True) if total == 0
    ]
    if len(unused) == len(rows.spend_columns):
        _warn(source, f"organisation {org!r} has zero spend on every day; no effect to estimate.")
    elif unused and not sum_channels:
        _warn(
            source,
            f"organisation {org!r} has zero spend on every day in {', '.join(unused)}; "
            "those channels' effects cannot be estimated.",
        )
    channels = tuple(col.removesuffix(SPEND_SUFFIX) for col in rows.spend_columns)
    if sum_channels:
        spend, channels = spend.sum(axis=1, keepdims=True), ("spend",)
    return Dataset(
        dates=calendar,
        geos=(territory,),
        channels=channels,
        spend=spend[:, None, :],
        target=target[:, None],
        frequency="daily",
        name=f"org_{org}",
        source={
            "file": source.path,
            "sha256": source.sha256,
            "organisation_id": org,
            "territory": territory,
            "schema": "conjura",
            "spend_columns": list(rows.spend_columns),
        },
    )
