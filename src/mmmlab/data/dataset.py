"""The `Dataset` value: spend, exposure, controls and target on a time × geo × channel grid."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

FREQUENCIES = {"daily": 1, "weekly": 7, "monthly": 30}
# Values beyond this are refused: sums of squares (R², NRMSE, the noise scale) and the model's
# float32 media path lose their meaning long before float64 overflows (1e308), and no spend,
# exposure or target per period is that large in any currency or unit.
MAX_MAGNITUDE = 1e15
MAGNITUDE_ADVICE = (
    f"mmmlab reads values up to {MAX_MAGNITUDE:.0e} in magnitude; express the column in larger "
    "units (thousands, millions) and scale the results back"
)
_PERIOD_CODES = {"W": "W-SUN", "M": "M"}


class DatasetError(ValueError):
    """A dataset cannot be built or transformed as asked; the message says where and what to do."""


def infer_frequency(dates: pd.DatetimeIndex, source: str = "dataset") -> str:
    """Name the sampling frequency of sorted, unique `dates`: 'daily', 'weekly' or 'monthly'.

    Raises `DatasetError` naming the first irregular step when the spacing is not regular.
    """
    if len(dates) < 2:
        raise DatasetError(
            f"{source}: need at least 2 dates to infer the frequency, got {len(dates)}"
        )
    steps = np.diff(dates.values).astype("timedelta64[D]").astype(int)
    median = int(np.median(steps))
    if median == 1:
        frequency, ok = "daily", steps == 1
    elif median == 7:
        frequency, ok = "weekly", steps == 7
    elif 28 <= median <= 31:
        frequency, ok = "monthly", (steps >= 28) & (steps <= 31)
    else:
        raise DatasetError(
            f"{source}: dates are {median} days apart; mmmlab reads daily, weekly or monthly data. "
            "Aggregate the data to one of those first."
        )
    if not ok.all():
        i = int(np.argmin(ok))
        raise DatasetError(
            f"{source}: dates are not regular {frequency} steps: {dates[i].date()} is followed by "
            f"{dates[i + 1].date()} ({steps[i]} days). Fill the gap (one row per period) or remove "
            "the stray date."
        )
    return frequency


def _frozen(a: np.ndarray | None, dtype: Any = np.float64) -> np.ndarray | None:
    if a is None:
        return None
    out = np.array(a, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


def _check_magnitude(where: str, key: str, values: np.ndarray | None) -> None:
    """Refuse values beyond `MAX_MAGNITUDE`, naming the array and the element's position."""
    if values is None or np.size(values) == 0:
        return
    big = np.abs(np.asarray(values, dtype=np.float64)) > MAX_MAGNITUDE
    if big.any():
        at = tuple(int(i) for i in np.argwhere(big)[0])
        value = np.asarray(values)[at]
        raise DatasetError(
            f"{where}: {key} value {value:g} at position {at} is too large. {MAGNITUDE_ADVICE}."
        )


class Split(NamedTuple):
    """Contiguous train / validation / test windows; absent windows are None."""

    train: Dataset
    validation: Dataset | None
    test: Dataset | None


@dataclass(frozen=True, eq=False)
class Dataset:
    """Marketing data on a time × geo × channel grid. A value: every method returns a new one.

    Attributes
    ----------
    dates : pd.DatetimeIndex, shape (T,)
    geos : tuple of str, length G (``("national",)`` for national data)
    channels : tuple of str, length C
    spend : array (T, G, C), money spent per period
    target : array (T, G), the outcome (revenue, conversions, ...)
    exposure : array (T, G, C) or None; impressions/clicks that drive the media effect.
        `media` falls back to `spend` when it is None.
    controls : array (T, G, K); `control_names` has length K (K may be 0)
    population : array (G,) or None
    time_index : int array (T,); position of each date counted from the first date of the
        original data, so it keeps counting across `split` and `select`.
    history_spend, history_exposure : arrays (H, G, C) of the periods just before `dates[0]`
        (H may be 0), so adstock carries over into a later window instead of restarting.
    frequency : 'daily' | 'weekly' | 'monthly', inferred from `dates`
    name : a short label; `source` records where the data came from (file, column map).
    """

    dates: pd.DatetimeIndex
    geos: tuple[str, ...]
    channels: tuple[str, ...]
    spend: np.ndarray
    target: np.ndarray
    exposure: np.ndarray | None = None
    controls: np.ndarray | None = None
    control_names: tuple[str, ...] = ()
    population: np.ndarray | None = None
    time_index: np.ndarray | None = None
    history_spend: np.ndarray | None = None
    history_exposure: np.ndarray | None = None
    frequency: str = ""
    name: str = "dataset"
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        dates = pd.DatetimeIndex(self.dates)
        set_(self, "dates", dates)
        set_(self, "geos", tuple(str(g) for g in self.geos))
        set_(self, "channels", tuple(str(c) for c in self.channels))
        set_(self, "control_names", tuple(str(k) for k in self.control_names))
        T, G, C, K = len(dates), len(self.geos), len(self.channels), len(self.control_names)
        where = f"dataset '{self.name}'"
        if C == 0:
            raise DatasetError(f"{where}: at least one spend channel is required")
        if G == 0:
            raise DatasetError(f"{where}: at least one geo is required")
        for label, names in (("geo", self.geos), ("channel", self.channels)):
            if len(set(names)) != len(names):
                raise DatasetError(f"{where}: duplicate {label} names in {names}")
        if not dates.is_monotonic_increasing or dates.has_duplicates:
            raise DatasetError(f"{where}: dates must be sorted and unique")
        controls = np.zeros((T, G, 0)) if self.controls is None else self.controls
        time_index = np.arange(T) if self.time_index is None else self.time_index
        hist_spend = np.zeros((0, G, C)) if self.history_spend is None else self.history_spend
        hist_exp = self.history_exposure
        if self.exposure is not None and hist_exp is None:
            hist_exp = np.zeros((0, G, C))
        expected = {
            "spend": (self.spend, (T, G, C)),
            "target": (self.target, (T, G)),
            "exposure": (self.exposure, (T, G, C)),
            "controls": (controls, (T, G, K)),
            "population": (self.population, (G,)),
            "time_index": (time_index, (T,)),
        }
        for key, (value, shape) in expected.items():
            if value is not None and np.shape(value) != shape:
                raise DatasetError(
                    f"{where}: {key} has shape {np.shape(value)}, expected {shape} "
                    "(time × geo × channel)"
                )
        if np.shape(hist_spend)[1:] != (G, C):
            raise DatasetError(f"{where}: history_spend must have shape (H, {G}, {C})")
        if hist_exp is not None and np.shape(hist_exp) != np.shape(hist_spend):
            raise DatasetError(f"{where}: history_exposure must match history_spend's shape")
        for key in ("spend", "target", "exposure", "population"):
            _check_magnitude(where, key, getattr(self, key))
        _check_magnitude(where, "controls", controls)
        set_(self, "spend", _frozen(self.spend))
        set_(self, "target", _frozen(self.target))
        set_(self, "exposure", _frozen(self.exposure))
        set_(self, "controls", _frozen(controls))
        set_(self, "population", _frozen(self.population))
        set_(self, "time_index", _frozen(time_index, np.int64))
        set_(self, "history_spend", _frozen(hist_spend))
        set_(self, "history_exposure", _frozen(hist_exp))
        if not self.frequency:
            set_(self, "frequency", infer_frequency(dates, where))
        elif self.frequency not in FREQUENCIES:
            raise DatasetError(f"{where}: frequency must be one of {sorted(FREQUENCIES)}")

    # ------------------------------------------------------------------ views
    @property
    def n_time(self) -> int:
        return len(self.dates)

    @property
    def n_geos(self) -> int:
        return len(self.geos)

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def n_controls(self) -> int:
        return len(self.control_names)

    @property
    def is_national(self) -> bool:
        return self.n_geos == 1

    @property
    def media(self) -> np.ndarray:
        """Array (T, G, C) that drives the media effect: exposure when given, else spend."""
        return self.spend if self.exposure is None else self.exposure

    @property
    def history_media(self) -> np.ndarray:
        """Array (H, G, C): the media of the periods before `dates[0]`."""
        return self.history_spend if self.history_exposure is None else self.history_exposure

    @property
    def fingerprint(self) -> str:
        """A sha256 of the content (names, dates, every array); equal data give equal prints."""
        h = hashlib.sha256()
        for names in (self.geos, self.channels, self.control_names, (self.frequency,)):
            h.update("\x1f".join(names).encode() + b"\x1e")
        h.update(self.dates.values.astype("datetime64[ns]").tobytes())
        for a in (
            self.spend,
            self.target,
            self.exposure,
            self.controls,
            self.population,
            self.time_index,
            self.history_spend,
            self.history_exposure,
        ):
            h.update(b"none" if a is None else np.ascontiguousarray(a).tobytes())
        return h.hexdigest()[:16]

    def to_frame(self) -> pd.DataFrame:
        """A long-by-geo, wide-by-column table: one row per (date, geo)."""
        rows = []
        for g, geo in enumerate(self.geos):
            part = pd.DataFrame({"date": self.dates, "geo": geo, "target": self.target[:, g]})
            if self.population is not None:
                part["population"] = self.population[g]
            for c, ch in enumerate(self.channels):
                part[f"{ch}_spend"] = self.spend[:, g, c]
                if self.exposure is not None:
                    part[f"{ch}_exposure"] = self.exposure[:, g, c]
            for k, name in enumerate(self.control_names):
                part[name] = self.controls[:, g, k]
            rows.append(part)
        return pd.concat(rows, ignore_index=True)

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, {self.frequency}, {self.dates[0].date()}..."
            f"{self.dates[-1].date()}, T={self.n_time}, geos={self.n_geos}, "
            f"channels={list(self.channels)}, controls={list(self.control_names)})"
        )

    # ------------------------------------------------------------ new values
    def _rows(self, start: int, stop: int) -> Dataset:
        """Rows [start, stop) with all earlier rows moved into the adstock history."""
        spend_before = np.concatenate([self.history_spend, self.spend[:start]])
        exposure_before = (
            None
            if self.exposure is None
            else np.concatenate([self.history_exposure, self.exposure[:start]])
        )
        return replace(
            self,
            dates=self.dates[start:stop],
            spend=self.spend[start:stop],
            target=self.target[start:stop],
            exposure=None if self.exposure is None else self.exposure[start:stop],
            controls=self.controls[start:stop],
            time_index=self.time_index[start:stop],
            history_spend=spend_before,
            history_exposure=exposure_before,
            frequency=self.frequency,
        )

    def _position(self, at: float | str | pd.Timestamp, key: str) -> int:
        """Rows up to `at`: a fraction of the rows, or a date (inclusive)."""
        if isinstance(at, float):
            whole = key == "train" and at == 1.0  # every row trains: an in-sample study
            if not (0.0 < at < 1.0 or whole):
                raise DatasetError(f"split: {key}={at} must be a fraction in (0, 1) or a date")
            return int(round(at * self.n_time))
        ts = pd.Timestamp(at)
        return int(self.dates.searchsorted(ts, side="right"))

    def split(
        self,
        train: float | str | pd.Timestamp = 0.8,
        validation: float | str | pd.Timestamp | None = None,
        test: float | str | pd.Timestamp | None = None,
    ) -> Split:
        """Cut into contiguous train / validation / test windows.

        Fractions give each window's share of the rows (``train=1.0``: all of them, no
        held-out windows); dates give the last date of that window (inclusive). Test takes
        the rest when not given. Later windows keep the spend
        before them as adstock history and keep counting `time_index`.
        """
        n = self.n_time
        end_train = self._position(train, "train")
        if validation is None:
            end_val = end_train
        elif isinstance(validation, float):
            end_val = end_train + self._position(validation, "validation")
        else:
            end_val = self._position(validation, "validation")
        if isinstance(test, float):
            end_test = min(n, end_val + self._position(test, "test"))
        elif test is None:
            end_test = n
        else:
            end_test = self._position(test, "test")
        if not 0 < end_train <= end_val <= end_test <= n:
            raise DatasetError(
                f"split: windows train=..{end_train}, validation=..{end_val}, test=..{end_test} "
                f"do not fit in {n} rows; each window needs at least one row and they must be "
                "ordered"
            )
        parts = [(0, end_train), (end_train, end_val), (end_val, end_test)]
        windows = [self._rows(a, b) if b > a else None for a, b in parts]
        return Split(*windows)

    def select(
        self,
        channels: list[str] | None = None,
        geos: list[str] | None = None,
        start: str | pd.Timestamp | None = None,
        end: str | pd.Timestamp | None = None,
    ) -> Dataset:
        """Subset channels, geos and an inclusive date range (earlier rows become history)."""
        out = self
        if channels is not None or geos is not None:
            ci = _indices(self.channels, channels, "channel")
            gi = _indices(self.geos, geos, "geo")

            def pick(a: np.ndarray | None) -> np.ndarray | None:
                return None if a is None else a[:, gi][:, :, ci]

            out = replace(
                self,
                channels=tuple(self.channels[i] for i in ci),
                geos=tuple(self.geos[i] for i in gi),
                spend=pick(self.spend),
                exposure=pick(self.exposure),
                target=self.target[:, gi],
                controls=self.controls[:, gi],
                population=None if self.population is None else self.population[gi],
                history_spend=pick(self.history_spend),
                history_exposure=pick(self.history_exposure),
            )
        a = 0 if start is None else int(out.dates.searchsorted(pd.Timestamp(start), side="left"))
        b = out.n_time if end is None else int(out.dates.searchsorted(pd.Timestamp(end), "right"))
        if b - a < 2:
            raise DatasetError(
                f"select: {start}..{end} keeps {max(b - a, 0)} rows; need at least 2"
            )
        return out if (a, b) == (0, out.n_time) else out._rows(a, b)

    def aggregate(self, period: str) -> Dataset:
        """Sum spend, exposure and target (mean of controls) to 'W' (weeks ending Sunday) or 'M'.

        Partial first or last periods (fewer source rows than the period holds: 7 days a week,
        28-31 days a month, 4 weeks a month) are dropped.
        """
        if period not in _PERIOD_CODES:
            raise DatasetError(f"aggregate: period must be 'W' or 'M', got {period!r}")
        step = FREQUENCIES[self.frequency]
        if period == "W" and step > 7:
            raise DatasetError(f"aggregate: {self.frequency} data cannot be split into weeks")
        labels = self.dates.to_period(_PERIOD_CODES[period])
        codes, uniques = pd.factorize(labels, sort=True)
        counts = np.bincount(codes)
        starts = uniques.to_timestamp(how="start")
        days = (uniques.to_timestamp(how="end").normalize() - starts).days.to_numpy() + 1
        full = days // step  # source rows in a complete period
        keep = np.ones(len(uniques), dtype=bool)
        for edge in (0, len(uniques) - 1):
            keep[edge] = counts[edge] >= full[edge]
        if keep.sum() < 2:
            raise DatasetError(
                f"aggregate: only {int(keep.sum())} complete '{period}' period(s) in "
                f"{self.dates[0].date()}..{self.dates[-1].date()}; need at least 2"
            )
        n = len(uniques)

        def reduce(a: np.ndarray | None, how: str) -> np.ndarray | None:
            if a is None:
                return None
            out = np.zeros((n,) + a.shape[1:])
            np.add.at(out, codes, a)
            if how == "mean":
                out /= counts.reshape((-1,) + (1,) * (a.ndim - 1))
            return out[keep]

        end_dates = pd.DatetimeIndex(uniques.to_timestamp(how="end").normalize())
        new_freq = "weekly" if period == "W" else "monthly"
        return replace(
            self,
            dates=end_dates[keep],
            spend=reduce(self.spend, "sum"),
            target=reduce(self.target, "sum"),
            exposure=reduce(self.exposure, "sum"),
            controls=reduce(self.controls, "mean"),
            time_index=np.arange(int(keep.sum())),
            history_spend=None,
            history_exposure=None,
            frequency=new_freq,
        )


def _indices(names: tuple[str, ...], wanted: list[str] | None, label: str) -> list[int]:
    if wanted is None:
        return list(range(len(names)))
    missing = [w for w in wanted if w not in names]
    if missing:
        raise DatasetError(f"select: unknown {label}(s) {missing}; available: {list(names)}")
    if not wanted:
        raise DatasetError(f"select: at least one {label} must be kept")
    return [names.index(w) for w in wanted]
