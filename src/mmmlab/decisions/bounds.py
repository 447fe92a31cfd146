"""Budget constraints: per-channel lower and upper bounds on a channel's spend over the
horizon, absolute or relative to its current spend, and channels held fixed.

A bounds file (YAML) maps channels to bounds; ``"*"`` sets every channel not listed::

    tv:     {lower: 20000, upper: 1.5x}    # spend, or a multiple of the current spend
    search: {fixed: current}               # hold at the current spend (or a number, or 0.8x)
    "*":    {upper: 2x}

Every amount is rounded to the cent inward (a lower bound up, an upper bound down), so a plan
in whole cents can meet it exactly.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from mmmlab.decisions.inputs import PlanError, read_yaml
from mmmlab.files import schema_errors

ALL = "*"
_RELATIVE = re.compile(r"^\s*(\d+(\.\d*)?|\.\d+)\s*x\s*$")
Amount = float | str


class ChannelBounds(BaseModel):
    """lower, upper : spend (a number) or a multiple of the current spend ('1.5x');
    fixed : hold the channel at a spend, a multiple, or 'current'."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    lower: Amount | None = None
    upper: Amount | None = None
    fixed: Amount | None = None

    @field_validator("lower", "upper", "fixed")
    @classmethod
    def _amount(cls, value: Amount | None, info) -> Amount | None:
        if isinstance(value, str):  # YAML reads 6e5 as text: a number all the same
            with contextlib.suppress(ValueError):
                value = float(value)
        if value is None or isinstance(value, float | int):
            if value is not None and not value >= 0:
                raise ValueError(f"{value} is negative; spend is 0 or more")
            return value
        if _RELATIVE.match(value) or (info.field_name == "fixed" and value == "current"):
            return value
        raise ValueError(
            f"{value!r} is neither a spend (a number) nor a multiple of the current spend "
            "like '1.5x'" + (" nor 'current'" if info.field_name == "fixed" else "")
        )

    @model_validator(mode="after")
    def _fixed_alone(self) -> ChannelBounds:
        if self.fixed is not None and (self.lower is not None or self.upper is not None):
            raise ValueError("give either fixed, or lower and/or upper, not both")
        return self


class Limits(NamedTuple):
    """Resolved bounds (C,) in whole cents as floats; `fixed` (C,) marks held channels."""

    lower: np.ndarray
    upper: np.ndarray
    fixed: np.ndarray


def read_bounds(path: str | Path) -> dict[str, ChannelBounds]:
    """The bounds file at `path`; errors name the file and the key."""
    label = f"--bounds {path}"
    return check_bounds(read_yaml(path, label) or {}, label)


def check_bounds(raw: object, where: str = "bounds") -> dict[str, ChannelBounds]:
    """Validate a mapping channel -> {lower, upper, fixed}; PlanError names each bad key."""
    if not isinstance(raw, dict):
        raise PlanError(f"{where}: give a mapping of channel names to bounds, got {raw!r}")
    out, problems = {}, []
    for channel, entry in raw.items():
        try:
            out[str(channel)] = (
                entry if isinstance(entry, ChannelBounds) else ChannelBounds.model_validate(entry)
            )
        except ValidationError as err:
            for line in schema_errors(err).splitlines():
                key = line.strip().removeprefix("(top)")
                problems.append(f"  {channel}{'' if key.startswith(':') else '.'}{key}")
    if problems:
        raise PlanError(f"{where}: invalid bounds\n" + "\n".join(problems))
    return out


def resolve(
    bounds: dict[str, ChannelBounds],
    channels: tuple[str, ...],
    current: np.ndarray,
    budget: float,
    where: str = "bounds",
) -> Limits:
    """Bounds (C,) in money from `bounds` and the current spend per channel (C,); raises
    PlanError for an unknown channel, a lower bound above its upper one, or bounds the
    budget cannot meet (naming the channels that bind)."""
    unknown = sorted(set(bounds) - set(channels) - {ALL})
    if unknown:
        raise PlanError(
            f"{where}: unknown channel(s) {unknown}; the fit's channels are {list(channels)}"
        )
    default = bounds.get(ALL, ChannelBounds())
    lower, upper = np.zeros(len(channels)), np.full(len(channels), budget)
    fixed = np.zeros(len(channels), dtype=bool)
    for c, ch in enumerate(channels):
        entry = bounds.get(ch, default)
        if entry.fixed is not None:
            lower[c] = upper[c] = _cents(_amount(entry.fixed, current[c]), "nearest")
            fixed[c] = True
            continue
        if entry.lower is not None:
            lower[c] = _cents(_amount(entry.lower, current[c]), "up")
        if entry.upper is not None:
            upper[c] = min(_cents(_amount(entry.upper, current[c]), "down"), budget)
        if lower[c] > upper[c]:
            raise PlanError(
                f"{where}: channel {ch!r}: lower bound {lower[c]:,.2f} is above its upper bound "
                f"{upper[c]:,.2f}" + (" (the budget)" if upper[c] == budget else "")
            )
    _check_budget(lower, upper, fixed, channels, budget, where)
    return Limits(lower, upper, fixed)


def _check_budget(lower, upper, fixed, channels, budget: float, where: str) -> None:
    def named(values: np.ndarray) -> str:
        shown = [f"{ch} {v:,.2f}" for ch, v in zip(channels, values, strict=True) if v > 0]
        return ", ".join(shown) or "none"

    if round(lower.sum(), 2) > budget:
        held = " (fixed: " + ", ".join(np.asarray(channels)[fixed]) + ")" if fixed.any() else ""
        raise PlanError(
            f"{where}: the lower bounds and fixed channels need {lower.sum():,.2f} ({named(lower)})"
            f"{held}, more than the budget {budget:,.2f}: lower them or raise --budget"
        )
    if round(upper.sum(), 2) < budget:
        raise PlanError(
            f"{where}: the upper bounds and fixed channels allow at most {upper.sum():,.2f} "
            f"({named(upper)}), less than the budget {budget:,.2f}: raise them or lower --budget"
        )


def _amount(value: Amount, current: float) -> float:
    if isinstance(value, str):
        return current if value == "current" else float(value.strip()[:-1]) * current
    return float(value)


def _cents(value: float, how: str) -> float:
    """`value` in whole cents, rounded `how` ('up', 'down', 'nearest'); 12.34 stays 12.34
    (its binary error is rounded off first)."""
    cents = round(value * 100.0, 6)
    return float({"up": np.ceil, "down": np.floor, "nearest": np.round}[how](cents)) / 100.0
