"""The planning horizon: which periods a plan covers, what was spent before them (the adstock
carried in), the current allocation a plan is compared with, and the future window of data
the model evaluates a plan on.

A plan covers N periods from a start row of the fitted data (by default the period after its
last one). Its response is counted over those N periods and the ``l_max - 1`` after them, in
which the plan's spend is still carried over; no new spend falls in those.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mmmlab.data import Dataset
from mmmlab.decisions.inputs import PlanError


@dataclass(frozen=True)
class Horizon:
    """N periods to plan, from row `start` of the fitted data.

    periods : N; start : row of the first planned period (0..T; T = after the data)
    l_max : adstock window of the model, so the response runs N + l_max - 1 periods
    dates : (N + l_max - 1,) the planned periods, then the carry-over periods
    current : (N, G, C) spend of the N periods before `start`: the current allocation
    geo_share : (G, C) each geo's share of a channel's spend (current, else training)
    media_per_spend : (G, C) media units bought per unit of spend (exposure over spend in
        training; 1 when the model is driven by spend)
    """

    periods: int
    start: int
    l_max: int
    dates: pd.DatetimeIndex
    current: np.ndarray
    geo_share: np.ndarray
    media_per_spend: np.ndarray

    @property
    def length(self) -> int:
        """Periods the response is counted over: N plus the carry-over after them."""
        return self.periods + self.l_max - 1

    def spread(self, totals: np.ndarray) -> np.ndarray:
        """Spend per period (N, G, C) from channel totals (C,) or geo × channel totals
        (G, C): flat over the N periods, a channel's total split across geos by `geo_share`."""
        totals = np.asarray(totals, dtype=float)
        per_geo = totals * self.geo_share if totals.ndim == 1 else totals
        return np.broadcast_to(per_geo / self.periods, (self.periods, *per_geo.shape)).copy()


def plan_horizon(
    train: Dataset, l_max: int, periods: int, start: str | pd.Timestamp | None = None
) -> Horizon:
    """The `Horizon` of `periods` periods from `start` (a date of `train`, or the period after
    its last; default the latter). Raises PlanError naming --horizon or --start."""
    if not isinstance(periods, int | np.integer) or periods < 1:
        raise PlanError(f"--horizon {periods}: give a whole number of periods, 1 or more")
    dates = _calendar(train, l_max + periods)
    row = train.n_time if start is None else _start_row(train, dates, start)
    if row < periods:
        raise PlanError(
            f"--horizon {periods}: only {row} observed period(s) before the start "
            f"{dates[row].date()}; the current allocation is the spend of the {periods} periods "
            "before it. Give a shorter --horizon or a later --start."
        )
    spend = np.concatenate([train.history_spend, train.spend])
    before = len(train.history_spend) + row
    current = spend[before - periods : before]
    return Horizon(
        periods=int(periods),
        start=row,
        l_max=l_max,
        dates=dates[row : row + periods + l_max - 1],
        current=current,
        geo_share=_geo_share(current, train.spend),
        media_per_spend=media_per_spend(train),
    )


def media_per_spend(train: Dataset) -> np.ndarray:
    """(G, C) media bought per unit of spend over training: exposure / spend where the model
    reads exposure (the channel's ratio over all geos where a geo has no spend), else 1."""
    if train.exposure is None:
        return np.ones((train.n_geos, train.n_channels))
    spend, exposure = train.spend.sum(axis=0), train.exposure.sum(axis=0)  # (G, C)
    overall = exposure.sum(axis=0) / np.where(spend.sum(axis=0) > 0, spend.sum(axis=0), np.inf)
    return np.where(spend > 0, exposure / np.where(spend > 0, spend, 1.0), overall)


def future_window(train: Dataset, horizon: Horizon, spend: np.ndarray) -> Dataset:
    """The horizon as data the model reads: `spend` (n <= N + l_max - 1, G, C) from the
    start (zeros after it), the spend before the start as adstock history, exposure bought
    at `media_per_spend`, controls at their training mean, time counting on from training."""
    n, length = len(spend), horizon.length
    if n > length:
        raise PlanError(f"a plan of {n} periods is longer than the horizon's {length}")
    full = np.zeros((length, train.n_geos, train.n_channels))
    full[:n] = spend
    row = horizon.start
    history = np.concatenate([train.history_spend, train.spend[:row]])
    exposure = history_exposure = None
    if train.exposure is not None:
        exposure = full * horizon.media_per_spend
        history_exposure = np.concatenate([train.history_exposure, train.exposure[:row]])
    controls = np.broadcast_to(train.controls.mean(axis=0), (length, *train.controls.shape[1:]))
    return Dataset(
        dates=horizon.dates,
        geos=train.geos,
        channels=train.channels,
        spend=full,
        target=np.zeros((length, train.n_geos)),
        exposure=exposure,
        controls=controls,
        control_names=train.control_names,
        time_index=train.time_index[0] + row + np.arange(length),
        history_spend=history,
        history_exposure=history_exposure,
        frequency=train.frequency,
        name=f"{train.name} plan",
    )


def _geo_share(current: np.ndarray, training: np.ndarray) -> np.ndarray:
    """(G, C) geo shares of each channel: of the current spend, else of training, else even."""
    out = np.full(current.shape[1:], 1.0 / current.shape[1])
    for spend in (training.sum(axis=0), current.sum(axis=0)):  # current wins where it has spend
        total = spend.sum(axis=0)
        out = np.where(total > 0, spend / np.where(total > 0, total, 1.0), out)
    return out


def _calendar(train: Dataset, extra: int) -> pd.DatetimeIndex:
    """The training dates and `extra` periods after them, in the data's own step."""
    last = train.dates[-1]
    if train.frequency == "monthly":
        step = pd.offsets.MonthEnd() if last.is_month_end else pd.DateOffset(months=1)
    else:
        step = pd.Timedelta(days=1 if train.frequency == "daily" else 7)
    return train.dates.append(pd.date_range(last, periods=extra + 1, freq=step)[1:])


def _start_row(train: Dataset, dates: pd.DatetimeIndex, start: str | pd.Timestamp) -> int:
    try:
        when = pd.Timestamp(start)
    except (TypeError, ValueError):
        raise PlanError(f"--start {start!r}: not a date; give one like 2024-01-07") from None
    rows = dates[: train.n_time + 1]
    if when not in rows:
        raise PlanError(
            f"--start {when.date()}: not a period of the data; give one of its dates "
            f"({rows[0].date()} .. {rows[-2].date()}) or the period after its last, "
            f"{rows[-1].date()} (the default)"
        )
    return int(rows.get_loc(when))
