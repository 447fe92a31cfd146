"""Scenario plans: a strict YAML file of named plans, each the spend per channel per future
period or a scale factor per channel on the current spend.

::

    horizon: 13            # periods; optional when a plan lists spend per period
    start: 2025-01-05      # optional: a date of the data or the period after it (default)
    baseline: current      # the plan the others are compared with (default: current)
    plans:
      more_tv:
        scale: {tv: 1.2, search: 0.9}   # the spend of the N periods before the start, × factor
      steady:
        spend:
          tv: 12000                      # the same spend in every period
          search: [5000, 5000, 6000, ...] # one value per period

A channel a plan does not name keeps its current spend (the N periods before the start, as
they were spent). ``current`` is that plan, unless the file defines its own. With geo panels a
channel's spend per period is split across geos as its current spend is.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mmmlab.decisions.inputs import PlanError, read_yaml
from mmmlab.decisions.window import Horizon
from mmmlab.files import schema_errors

CURRENT = "current"
_STRICT = ConfigDict(extra="forbid", frozen=True)


class PlanSpec(BaseModel):
    """One plan: `scale` factors per channel, or `spend` per channel (one value for every
    period, or one per period)."""

    model_config = _STRICT
    scale: dict[str, float] | None = None
    spend: dict[str, float | list[float]] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> PlanSpec:
        if (self.scale is None) == (self.spend is None):
            raise ValueError("give either scale (factors per channel) or spend, not both")
        for kind, values in (("scale", self.scale), ("spend", self.spend)):
            for channel, value in (values or {}).items():
                if any(not v >= 0 for v in np.atleast_1d(value)):
                    raise ValueError(f"{kind}.{channel}: values must be 0 or more")
        return self


class PlansFile(BaseModel):
    """horizon, start and baseline (see the module doc) and the named `plans`."""

    model_config = _STRICT
    horizon: int | None = Field(None, ge=1)
    start: date | None = None
    baseline: str = CURRENT
    plans: dict[str, PlanSpec] = Field(min_length=1)


def read_plans(path: str | Path) -> PlansFile:
    """The plans file at `path`; errors name the file and the key."""
    return check_plans(read_yaml(path, str(path)), str(path))


def check_plans(raw: object, where: str = "plans") -> PlansFile:
    """Validate a plans mapping (as read from YAML); PlanError names each bad key."""
    if isinstance(raw, PlansFile):
        return raw
    try:
        return PlansFile.model_validate(raw)
    except ValidationError as err:
        raise PlanError(f"{where}: invalid plans\n" + schema_errors(err)) from None


def plan_periods(plans: PlansFile, where: str = "plans") -> int:
    """The horizon: `horizon:`, else the length of the first per-period spend list."""
    if plans.horizon is not None:
        return plans.horizon
    for spec in plans.plans.values():
        for values in (spec.spend or {}).values():
            if isinstance(values, list):
                return len(values)
    raise PlanError(
        f"{where}: say how many periods the plans cover with `horizon: N` (no plan lists its "
        "spend period by period)"
    )


def plan_spend(
    plans: PlansFile, horizon: Horizon, channels: tuple[str, ...], where: str = "plans"
) -> dict[str, np.ndarray]:
    """Spend (N, G, C) of every plan, with `current` added unless the file defines it.
    Raises PlanError for an unknown channel or baseline, or a list of the wrong length."""
    out = {} if CURRENT in plans.plans else {CURRENT: horizon.current.copy()}
    for name, spec in plans.plans.items():
        given = spec.scale if spec.scale is not None else spec.spend
        unknown = sorted(set(given) - set(channels))
        if unknown:
            raise PlanError(
                f"{where}: plan {name!r}: unknown channel(s) {unknown}; the fit's channels are "
                f"{list(channels)}"
            )
        spend = horizon.current.copy()
        for channel, value in given.items():
            c = channels.index(channel)
            if spec.scale is not None:
                spend[:, :, c] *= value
                continue
            per_period = np.asarray(value, dtype=float)
            if per_period.ndim and len(per_period) != horizon.periods:
                raise PlanError(
                    f"{where}: plan {name!r}, channel {channel!r}: {len(per_period)} periods of "
                    f"spend, but the horizon has {horizon.periods}; give one value per period "
                    "or a single value for every period"
                )
            spend[:, :, c] = (
                np.broadcast_to(per_period, (horizon.periods,))[:, None] * (horizon.geo_share[:, c])
            )
        out[name] = spend
    if plans.baseline not in out:
        raise PlanError(
            f"{where}: baseline {plans.baseline!r} is not a plan; choose one of {list(out)}"
        )
    return out
