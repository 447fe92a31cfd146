"""The same business observed daily: `as_daily` turns a weekly `WorldSpec` into a daily one.

What a period means changes, the business does not:

- money and levels per period are divided by 7 (baseline level, channel spend levels), rates
  per period too (a spend or control `trend`); growth over the window, yearly seasonality,
  ROAS, lifts and saturation relative to average spend are unchanged;
- every count of periods is multiplied by 7 (delayed start, ramp-up and end, flight lengths
  and the idle gap between flights, the adstock window `l_max`), and a flight starts on an
  idle day with the probability that keeps the expected wait of the weekly world;
- adstock parameters are converted so the carry-over lasts as long in time (see
  `daily_adstock`);
- the noise sd, a fraction of the level per period, is multiplied by √7, so a week of daily
  noise has the weekly world's sd: the daily data carry the weekly data's information plus
  the detail within the week;
- a day-of-week cycle (`weekday_amplitude`, peak on `weekday_peak`) is added; it sums to zero
  over a week, so the weekly totals do not see it.

Controls keep their `base`: they are states (an event is on, a price index is 1.02), not
amounts per period, and a control's `lift` does not depend on its base anyway. The spend
noise keeps its coefficient of variation per period, and persistent noise its persistence
per week (`synth.spend.persistence`). Daily dates start six days before the weekly world's
first Sunday, so `Dataset.aggregate("W")` of a daily draw has the weekly world's dates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmmlab.models.config import ModelConfig
from mmmlab.synth.spend import PatternSpec
from mmmlab.synth.world import ChannelSpec, WorldSpec
from mmmlab.transforms import adstock_weights

DAYS = 7
# The saturation parameter that is a level of adstocked media, and whether it divides it.
_SATURATION_LEVEL = {
    "hill": ("half_saturation", False),
    "michaelis_menten": ("half_saturation", False),
    "tanh": ("scale", False),
    "logistic": ("lam", True),
}
# The model's longest adstock window (ModelConfig.l_max's upper bound).
_MAX_L_MAX = next(m.le for m in ModelConfig.model_fields["l_max"].metadata if hasattr(m, "le"))


def as_daily(world: WorldSpec, weekday_amplitude: float = 0.1, weekday_peak: int = 5) -> WorldSpec:
    """The weekly `world` observed daily (``name + "_daily"``), for as many days as it has
    weeks × 7.

    weekday_amplitude : the day-of-week cycle's amplitude as a fraction of the level (0 for
        none); weekday_peak : its peak day, 0 = Monday .. 6 = Sunday (default Saturday).

    Raises ValueError for a world that is already daily, an adstock window beyond the model's
    limit in days, or a carry-over the daily adstock family cannot express.
    """
    if world.frequency != "weekly":
        raise ValueError(
            f"world {world.name!r} is already {world.frequency}; as_daily converts a weekly world"
        )
    l_max = world.l_max * DAYS
    if l_max > _MAX_L_MAX:
        raise ValueError(
            f"world {world.name!r}: an adstock window of {world.l_max} weeks is {l_max} days, "
            f"beyond the model's l_max limit of {_MAX_L_MAX}; use l_max <= {_MAX_L_MAX // DAYS}"
        )
    start = world.dates[0] - pd.Timedelta(days=DAYS - 1)
    raw = world.model_dump()
    raw |= {
        "name": f"{world.name}_daily",
        "description": f"{world.description} Observed daily.".strip(),
        "n_periods": world.n_periods * DAYS,
        "frequency": "daily",
        "start": str(start.date()),
        "base_sales": world.base_sales / DAYS,
        "noise": world.noise * np.sqrt(DAYS),
        "weekday_amplitude": weekday_amplitude,
        "weekday_peak": weekday_peak,
        "l_max": l_max,
        "channels": [daily_channel(c, world.l_max) for c in world.channels],
        "controls": [k.model_dump() | daily_pattern(k) for k in world.controls],
    }
    return WorldSpec.model_validate(raw)


def daily_pattern(spec: PatternSpec) -> dict[str, Any]:
    """The period-counted fields of a pattern, converted from weeks to days (not `base`)."""
    stop = None if spec.end_period is None else spec.end_period * DAYS
    p = spec.activation_probability
    return {
        "trend": spec.trend / DAYS,
        "start_period": spec.start_period * DAYS,
        "end_period": stop,
        "ramp_up_periods": spec.ramp_up_periods * DAYS,
        # The expected wait before a flight starts, (1 - p) / p periods, stays as long in days.
        "activation_probability": p / (DAYS - (DAYS - 1) * p),
        "min_active_periods": spec.min_active_periods * DAYS,
        "max_active_periods": spec.max_active_periods * DAYS,
        "min_idle_periods": spec.min_idle_periods * DAYS,
    }


def daily_channel(channel: ChannelSpec, l_max: int) -> dict[str, Any]:
    """A channel of a weekly world (adstock window `l_max` weeks) as a daily channel's fields:
    spend level ÷ 7, periods × 7, the adstock converted by `daily_adstock`, and a saturation
    level rescaled where the daily adstock weights sum to more than the weekly ones."""
    adstock, ratio = daily_adstock(channel.adstock, channel.adstock_params, l_max)
    saturation = dict(channel.saturation_params)
    if ratio != 1.0:
        key, divides = _SATURATION_LEVEL[channel.saturation]
        saturation[key] = saturation[key] / ratio if divides else saturation[key] * ratio
    return (
        channel.model_dump()
        | daily_pattern(channel)
        | {
            "base": channel.base / DAYS,
            "adstock_params": adstock,
            "saturation_params": saturation,
        }
    )


def daily_adstock(
    name: str, params: dict[str, float], l_max: int
) -> tuple[dict[str, float], float]:
    """Daily parameters of a weekly adstock (window `l_max` weeks) with the same carry-over in
    time, and the ratio of the daily to the weekly sum of lag weights.

    - geometric: ``alpha ** (1/7)``; the weight d days after spend equals the weekly weight
      d/7 weeks after, so the half-life in days is 7 × the half-life in weeks;
    - delayed: ``alpha ** (1/49)`` and the peak lag ``theta × 7`` (exact in the same sense);
    - weibull_pdf: the same shape and 7 × the Weibull scale λ in lags (``λ = 1 + scale ×
      (l_max - 1)``), so the density has the same form in time (Robyn evaluates it at lags
      1..L for lags 0..L-1, so the daily curve runs up to six days behind the weekly one);
    - weibull_cdf: the same shape, and λ chosen so the weight seven days after spend equals
      the weekly weight one week after (its weights are a product of survival terms over
      lags, so λ does not simply scale with the period).

    Geometric and delayed weights are normalised (ratio 1). Weibull weights are not: the
    ratio (about 7 for weibull_pdf) says how much larger the daily adstocked media are
    relative to average spend, and `daily_channel` moves the saturation point with it.
    """
    if name == "geometric":
        return {"alpha": params["alpha"] ** (1.0 / DAYS)}, 1.0
    if name == "delayed":
        alpha = params["alpha"] ** (1.0 / DAYS**2)
        return {"alpha": alpha, "theta": params["theta"] * DAYS}, 1.0
    shape, scale = params["shape"], params["scale"]
    lam = 1.0 + scale * (l_max - 1)
    if name == "weibull_pdf":
        daily_lam = DAYS * lam
    else:
        lags = np.arange(1, DAYS + 1, dtype=float)
        daily_lam = lam * float(np.sum(lags**shape)) ** (1.0 / shape)
    days = l_max * DAYS
    daily_scale = (daily_lam - 1.0) / (days - 1)
    if daily_scale > 1.0:
        raise ValueError(
            f"{name} adstock (shape {shape:g}, scale {scale:g}): the same carry-over in days "
            f"needs a Weibull scale of {daily_lam:.1f} days, beyond the {days}-day window; "
            "give the channel geometric, delayed or weibull_pdf adstock, or a longer l_max"
        )
    daily = {"shape": shape, "scale": daily_scale}
    weekly_sum = np.sum(np.asarray(adstock_weights(name, params, l_max, True)))
    daily_sum = np.sum(np.asarray(adstock_weights(name, daily, days, True)))
    return daily, float(daily_sum / weekly_sum)
