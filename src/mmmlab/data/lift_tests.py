"""Lift tests: experiments that measured what a change of one channel's spend did to sales.

A lift-test file (CSV or Parquet) has one row per experiment:

- channel: the channel whose spend changed;
- start, end: first and last date of the spend change (the periods dated in [start, end]);
- spend_change: total change of that spend over [start, end] against what was actually
  spent (negative for a go-dark or holdout test);
- lift: the measured change of the target over [start, measure_end]; lift_se: its standard
  error (> 0);
- geo (optional): the geo the test ran in; blank or absent = every geo;
- measure_end (optional): last date the lift was measured over; blank = `end` plus the
  adstock's ``l_max - 1`` periods, the last period its carry-over reaches;
- spread (optional): ``even`` (default: the same change in every period and geo) or
  ``proportional`` (each period's change in proportion to its actual spend, e.g. -100% of
  it for a go-dark).

`read_lift_tests` reads a file, `as_lift_tests` takes a file or tests given in code, and
`check_lift_tests` checks them against a `Dataset` and lays each one out as a `TestDesign`.
Every error names the row (``lifts.csv, line 3: ...``) and what to do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from mmmlab.data.dataset import Dataset, DatasetError
from mmmlab.data.readers import read_table
from mmmlab.data.validation import parse_dates, parse_labels, parse_numeric, require_columns

REQUIRED = ("channel", "start", "end", "spend_change", "lift", "lift_se")
OPTIONAL = ("geo", "measure_end", "spread")
SPREADS = ("even", "proportional")


@dataclass(frozen=True)
class LiftExperiment:
    """One lift test: a change of one channel's spend and the lift it was measured to cause.

    channel : the channel; geo : the geo it ran in, None = every geo
    start, end : the periods dated in [start, end] had their spend changed
    spend_change : total change over [start, end] against the spend in the data (currency)
    lift, lift_se : measured change of the target over [start, measure_end] and its se
    measure_end : None = ``end`` plus ``l_max - 1`` periods (see the module docstring)
    spread : 'even' or 'proportional' (to each period's actual spend)
    where : how messages name the test, e.g. ``"lifts.csv, line 3"``
    """

    channel: str
    start: date
    end: date
    spend_change: float
    lift: float
    lift_se: float
    geo: str | None = None
    measure_end: date | None = None
    spread: Literal["even", "proportional"] = "even"
    where: str = field(default="lift test", compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for key in ("start", "end", "measure_end"):
            value = getattr(self, key)
            if key == "measure_end" and (value is None or value is pd.NaT or value == ""):
                set_(self, key, None)
            else:
                set_(self, key, _date(value, key, self.where))
        for key in ("spend_change", "lift", "lift_se"):
            set_(self, key, _number(getattr(self, key), key, self.where))
        set_(self, "geo", None if self.geo is None or self.geo == "" else str(self.geo))
        where = self.where
        if not str(self.channel).strip():
            raise DatasetError(f"{where}: channel is blank; name the channel the test changed")
        if self.start > self.end:
            raise DatasetError(f"{where}: start {self.start} is after end {self.end}")
        if self.measure_end is not None and self.measure_end < self.end:
            raise DatasetError(
                f"{where}: measure_end {self.measure_end} is before end {self.end}; the lift "
                "is measured from start to at least the end of the spend change"
            )
        if self.spend_change == 0:
            raise DatasetError(
                f"{where}: spend_change is 0; a test that changed no spend measures nothing. "
                "Give the change in spend (negative for a go-dark) or drop the row"
            )
        if not self.lift_se > 0:
            raise DatasetError(
                f"{where}: lift_se must be > 0 (the lift's standard error), got "
                f"{self.lift_se:g}; take it from the experiment's readout"
            )
        if self.spread not in SPREADS:
            raise DatasetError(
                f"{where}: spread must be one of {list(SPREADS)}, got {self.spread!r}"
            )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (dates as ISO text); `from_dict` reads them back."""
        out = asdict(self)
        for key in ("start", "end", "measure_end"):
            out[key] = None if out[key] is None else out[key].isoformat()
        return out

    @classmethod
    def from_dict(cls, raw: Any, where: str = "lift test") -> LiftExperiment:
        """A test from a mapping (a spec entry, a saved fit); unknown and missing keys named."""
        known = set(REQUIRED) | set(OPTIONAL) | {"where"}
        if not isinstance(raw, dict):
            raise DatasetError(f"{where}: give a mapping with keys {list(REQUIRED)}, got {raw!r}")
        unknown, missing = sorted(set(raw) - known), [k for k in REQUIRED if k not in raw]
        if unknown or missing:
            problems = [f"unknown key(s) {unknown}" if unknown else ""]
            problems.append(f"missing key(s) {missing}" if missing else "")
            raise DatasetError(
                f"{where}: {'; '.join(p for p in problems if p)}; a lift test takes "
                f"{list(REQUIRED)} and optionally {list(OPTIONAL)}"
            )
        return cls(**({"where": where} | raw))


def _date(value: Any, key: str, where: str) -> date:
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError):
        raise DatasetError(f"{where}: {key} {value!r} is not a date; write YYYY-MM-DD") from None


def _number(value: Any, key: str, where: str) -> float:
    try:
        out = float(value)
    except (ValueError, TypeError):
        raise DatasetError(f"{where}: {key} {value!r} is not a number") from None
    if not np.isfinite(out):
        raise DatasetError(f"{where}: {key} must be a finite number, got {value!r}")
    return out


def read_lift_tests(path: str | Path) -> tuple[LiftExperiment, ...]:
    """The tests of a lift-test file (CSV or Parquet), in file order; every error names the
    file, the column and the line."""
    frame, source = read_table(path)
    require_columns(frame, REQUIRED, source, "A lift-test file needs these columns.")
    extra = [c for c in frame.columns if c not in REQUIRED + OPTIONAL]
    if extra:
        raise DatasetError(
            f"{source.path}: unknown column(s) {extra}; a lift-test file has {list(REQUIRED)} "
            f"and optionally {list(OPTIONAL)}"
        )
    columns: dict[str, pd.Series] = {
        "channel": parse_labels(frame, "channel", source, "channel"),
        **{k: parse_dates(frame, k, source, None) for k in ("start", "end")},
    }
    for key in ("spend_change", "lift", "lift_se"):
        values = parse_numeric(frame, key, source)
        if values.isna().any():
            row = int(values.index[values.isna().to_numpy()].min())
            raise source.error(key, row, f"missing {key}. Every test needs one.")
        columns[key] = values
    for key in OPTIONAL:
        if key not in frame.columns:
            continue
        text = frame[key].astype(object).map(lambda v: "" if pd.isna(v) else str(v).strip())
        if key == "measure_end":
            given = text != ""
            dates = parse_dates(frame[given], key, source, None) if given.any() else None
            columns[key] = pd.Series(
                [dates[i] if ok else None for i, ok in given.items()],
                index=frame.index,
                dtype=object,
            )
        else:
            blank = None if key == "geo" else "even"
            columns[key] = pd.Series([v or blank for v in text], index=frame.index, dtype=object)
    return tuple(
        LiftExperiment(
            **{k: v[row] for k, v in columns.items()}, where=f"{source.path}, {source.rows(row)}"
        )
        for row in frame.index.tolist()
    )


def as_lift_tests(value: Any) -> tuple[LiftExperiment, ...]:
    """Tests from a lift-test file path, `LiftExperiment`s or their dicts (None: none)."""
    if value is None:
        return ()
    if isinstance(value, str | Path):
        return read_lift_tests(value)
    if isinstance(value, LiftExperiment):
        return (value,)
    return tuple(_named(v, f"lift_tests[{i}]") for i, v in enumerate(value))


def _named(value: Any, where: str) -> LiftExperiment:
    """A test from a `LiftExperiment` or a dict, named `where` unless it has a name."""
    test = value if isinstance(value, LiftExperiment) else LiftExperiment.from_dict(value, where)
    return test if test.where != LiftExperiment.where else replace(test, where=where)


class TestDesign(NamedTuple):
    """One test laid out on a dataset's grid.

    channel : index of its channel; geos : indices of the geos it ran in
    change : (T, G) the change of the channel's spend in each period and geo
    first, last : rows of the first and last period its lift was measured over (inclusive)
    """

    channel: int
    geos: tuple[int, ...]
    change: np.ndarray
    first: int
    last: int


def check_lift_tests(
    tests: Iterable[LiftExperiment], dataset: Dataset, l_max: int
) -> list[TestDesign]:
    """Each test checked against `dataset` (the fitted window) and laid out on its grid.

    Raises DatasetError naming the test's row for an unknown channel or geo, dates outside
    the data, a window with no period in it, or a change that would make spend negative.
    """
    return [_design(test, dataset, l_max) for test in tests]


def _design(test: LiftExperiment, dataset: Dataset, l_max: int) -> TestDesign:
    where, dates = test.where, dataset.dates.normalize()
    span = f"the data's periods run {dates[0].date()}..{dates[-1].date()}"
    if test.channel not in dataset.channels:
        raise DatasetError(
            f"{where}: unknown channel {test.channel!r}; the data's channels are "
            f"{list(dataset.channels)}"
        )
    if test.geo is not None and test.geo not in dataset.geos:
        raise DatasetError(
            f"{where}: unknown geo {test.geo!r}; the data's geos are {list(dataset.geos)} "
            "(leave geo blank for a test in every geo)"
        )
    for key in ("start", "end", "measure_end"):
        day = getattr(test, key)
        if day is not None and not dates[0].date() <= day <= dates[-1].date():
            raise DatasetError(
                f"{where}: {key} {day} lies outside the data; {span}. Drop the test or fit "
                "data that cover it"
            )
    first = int(dates.searchsorted(pd.Timestamp(test.start), side="left"))
    end = int(dates.searchsorted(pd.Timestamp(test.end), side="right")) - 1
    if end < first:
        raise DatasetError(
            f"{where}: no period is dated in {test.start}..{test.end}; widen the window to "
            "hold at least one period's date"
        )
    if test.measure_end is None:
        last = end + l_max - 1
        if last >= dataset.n_time:
            raise DatasetError(
                f"{where}: measure_end defaults to end plus l_max - 1 = {l_max - 1} periods "
                f"(the carry-over), past the data's last period {dates[-1].date()}; give "
                "measure_end within the data, the date the lift was measured up to"
            )
    else:
        last = int(dates.searchsorted(pd.Timestamp(test.measure_end), side="right")) - 1
    c = dataset.channels.index(test.channel)
    geos = tuple(range(dataset.n_geos)) if test.geo is None else (dataset.geos.index(test.geo),)
    spend = dataset.spend[first : end + 1][:, list(geos), c]  # (P, G_test)
    if test.spread == "even":
        delta = np.full(spend.shape, test.spend_change / spend.size)
    else:
        total = spend.sum()
        if total <= 0:
            raise DatasetError(
                f"{where}: nothing was spent on {test.channel!r} in {test.start}..{test.end}, "
                "so a proportional spread has nothing to scale; use spread 'even'"
            )
        delta = test.spend_change * spend / total
    new = spend + delta
    if (new < -1e-9 * np.maximum(np.abs(spend), 1.0)).any():
        t, g = np.argwhere(new < -1e-9 * np.maximum(np.abs(spend), 1.0))[0]
        raise DatasetError(
            f"{where}: spend_change {test.spend_change:,.6g} would make {test.channel!r}'s spend "
            f"negative in the period dated {dates[first + t].date()} (geo "
            f"{dataset.geos[geos[g]]!r}: spent {spend[t, g]:,.6g}, change {delta[t, g]:,.6g}); "
            f"a test can remove at most the {spend.sum():,.6g} spent over the window "
            "(spread 'proportional' removes it in proportion to each period's spend)"
        )
    change = np.zeros((dataset.n_time, dataset.n_geos))
    change[first : end + 1, list(geos)] = np.maximum(new, 0.0) - spend
    return TestDesign(c, geos, change, first, last)
