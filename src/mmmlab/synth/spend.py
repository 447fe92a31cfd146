"""Spend and control patterns of simulated businesses, each drawn from an explicit generator.

Patterns (the published mmm-data-generator's four, with its defects mended):
- `linear_trend`: a level growing by `trend` × base per period, times AR(1) log-noise;
- `seasonal`: a yearly cosine around the base level, times i.i.d. log-noise;
- `delayed_start`: nothing before `start_period`, a linear ramp over `ramp_up_periods`, and
  nothing from `end_period` on (the published generator ignored the end);
- `on_off`: flights of `min..max_active_periods` periods that start with
  `activation_probability` in an idle period, at least `min_idle_periods` idle periods
  between flights.

Noise is multiplicative with mean 1 and coefficient of variation `volatility`, so spend is
positive where the pattern is on and its average follows the pattern (additive noise clipped
at zero, as published, biases the level and leaves spurious zero weeks). Persistent noise
keeps its persistence per week of time at any frequency (`persistence`).

`buy_exposure` turns spend into exposure (impressions, clicks) at a drifting price per
thousand (CPM).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

Pattern = Literal["linear_trend", "seasonal", "delayed_start", "on_off"]
AR_PHI = 0.7  # persistence per week of the log-noise of trending spend (budgets carry over)
CPM_PHI = 0.7  # persistence per week of the log-noise of media prices


class PatternSpec(BaseModel):
    """How one spend or control series moves over time (fields unused by a pattern are ignored).

    base : average level while on; volatility : coefficient of variation of the noise;
    trend : growth per period as a fraction of `base`; seasonal_amplitude, seasonal_phase :
    yearly cosine ``1 + amplitude cos(2π day/365.25 + phase)``; start_period, end_period,
    ramp_up_periods : the delayed-start window (0-indexed; end exclusive, None = to the end);
    activation_probability, min_active_periods, max_active_periods, min_idle_periods : on/off
    flights (a flight starts with the probability in an idle period; flights are separated by
    at least `min_idle_periods`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    pattern: Pattern
    base: float = Field(gt=0)
    volatility: float = Field(0.3, ge=0)
    trend: float = 0.0
    seasonal_amplitude: float = Field(0.0, ge=0, le=1)
    seasonal_phase: float = 0.0
    start_period: int = Field(0, ge=0)
    end_period: int | None = None
    ramp_up_periods: int = Field(0, ge=0)
    activation_probability: float = Field(0.3, gt=0, le=1)
    min_active_periods: int = Field(1, ge=1)
    max_active_periods: int = Field(4, ge=1)
    min_idle_periods: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> PatternSpec:
        if self.max_active_periods < self.min_active_periods:
            raise ValueError("max_active_periods must be >= min_active_periods")
        if self.end_period is not None and self.end_period <= self.start_period:
            raise ValueError("end_period must be after start_period")
        return self


def persistence(per_week: float, dates: pd.DatetimeIndex) -> float:
    """The AR(1) coefficient per period of `dates` that keeps `per_week` per week of time."""
    days = (dates[1] - dates[0]).days
    return per_week if days == 7 else float(per_week ** (days / 7))


def log_noise(rng: np.random.Generator, shape: tuple[int, ...], cv: float, phi: float = 0.0):
    """Mean-one log-normal noise with coefficient of variation `cv`, AR(1) with `phi` along
    axis 0 (stationary from the first period)."""
    s = np.sqrt(np.log1p(cv**2))
    z = rng.standard_normal(shape)
    if phi:
        innovation = np.sqrt(1.0 - phi**2)
        for t in range(1, shape[0]):
            z[t] = phi * z[t - 1] + innovation * z[t]
    return np.exp(s * z - 0.5 * s**2)


def on_off_schedule(rng: np.random.Generator, n: int, spec: PatternSpec) -> np.ndarray:
    """(n,) 1.0 in flight periods, else 0.0."""
    on = np.zeros(n)
    t = 0
    while t < n:
        if rng.random() < spec.activation_probability:
            length = int(rng.integers(spec.min_active_periods, spec.max_active_periods + 1))
            on[t : t + length] = 1.0
            t += length + spec.min_idle_periods
        else:
            t += 1
    return on


def pattern_level(rng: np.random.Generator, dates: pd.DatetimeIndex, spec: PatternSpec):
    """(T,) the noise-free level of the pattern (on/off flights drawn here)."""
    n = len(dates)
    t = np.arange(n, dtype=float)
    if spec.pattern == "linear_trend":
        return spec.base * np.maximum(1.0 + spec.trend * t, 0.0)
    if spec.pattern == "seasonal":
        day = np.asarray(dates.day_of_year, dtype=float)
        return spec.base * (
            1.0 + spec.seasonal_amplitude * np.cos(2 * np.pi * day / 365.25 + spec.seasonal_phase)
        )
    if spec.pattern == "delayed_start":
        end = n if spec.end_period is None else min(spec.end_period, n)
        level = np.zeros(n)
        ramp = np.clip((t - spec.start_period + 1) / max(spec.ramp_up_periods, 1), 0.0, 1.0)
        level[spec.start_period : end] = spec.base * ramp[spec.start_period : end]
        return level
    return spec.base * on_off_schedule(rng, n, spec)


def draw_series(
    rng: np.random.Generator,
    dates: pd.DatetimeIndex,
    spec: PatternSpec,
    geo_size: np.ndarray,
    geo_cv: float,
) -> np.ndarray:
    """(T, G) one series per geo: the shared pattern scaled by each geo's size, times the
    pattern's own noise (shared) and geo-level noise with coefficient of variation `geo_cv`."""
    level = pattern_level(rng, dates, spec)
    phi = persistence(AR_PHI, dates) if spec.pattern in ("linear_trend", "delayed_start") else 0.0
    shared = log_noise(rng, (len(dates),), spec.volatility, phi)
    local = log_noise(rng, (len(dates), len(geo_size)), geo_cv)
    return (level * shared)[:, None] * geo_size[None, :] * local


def buy_exposure(
    rng: np.random.Generator,
    dates: pd.DatetimeIndex,
    spend: np.ndarray,
    cpm: list[float | None],
    cpm_cv: list[float],
) -> np.ndarray:
    """(T, G, C) exposure bought with `spend` (T, G, C): ``spend × 1000 / cpm_t``.

    Channel c's price per thousand is ``cpm[c]`` times mean-one log-normal noise with
    coefficient of variation ``cpm_cv[c]``, AR(1) with `CPM_PHI` per week and shared by every
    geo (one national price). A channel whose `cpm` is None carries its spend (the readers'
    convention for a channel without an exposure column). Draws one series per priced
    channel, in channel order.
    """
    exposure = np.array(spend, dtype=float, copy=True)
    phi = persistence(CPM_PHI, dates)
    for c, (price, cv) in enumerate(zip(cpm, cpm_cv, strict=True)):
        if price is None:
            continue
        cpm_t = price * log_noise(rng, (len(dates),), cv, phi)
        exposure[:, :, c] = spend[:, :, c] * 1000.0 / cpm_t[:, None]
    return exposure
