"""What the experiment designer takes from a person: `DesignError` (a `PlanError`, the one
error of decisions from a fit) and the option parsers, which check everything before work.

Spend changes are relative (``-100%``, ``+50%``) or absolute (``+20000``, ``-5000``: a total
change of spend over the test, in currency); ``-100%`` is a go-dark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mmmlab.decisions.inputs import PlanError

DEFAULT_CHANGES = "-100%,-50%,+50%,+100%"
DEFAULT_DURATIONS = "2,4,6,8"
MIN_PLACEBO_WINDOWS = 3  # past windows of a test's length the placebo needs, at least


class DesignError(PlanError):
    """An option of the experiment designer cannot be used; the message names it and says
    what to do."""


@dataclass(frozen=True)
class SpendChange:
    """One spend change: `value` a fraction of the current spend (relative) or a total in
    currency (absolute); `label` as given, e.g. '-50%'."""

    value: float
    relative: bool
    label: str

    @property
    def go_dark(self) -> bool:
        return self.relative and self.value == -1.0


def parse_changes(text: str | Sequence[str]) -> tuple[SpendChange, ...]:
    """`--spend-changes` as `SpendChange`s; DesignError names a bad item."""
    items = [t.strip() for t in (text.split(",") if isinstance(text, str) else text)]
    out = []
    for item in items:
        relative = item.endswith("%")
        try:
            value = float(item[:-1] if relative else item)
        except ValueError:
            raise DesignError(
                f"--spend-changes {item!r}: not a change; give e.g. -100%,-50%,+50% (relative "
                "to current spend) or +20000 (a total change in currency)"
            ) from None
        value = value / 100 if relative else value
        if value == 0 or value != value:
            raise DesignError(f"--spend-changes {item!r}: a zero change tests nothing; drop it")
        if relative and value < -1:
            raise DesignError(
                f"--spend-changes {item!r}: spend cannot fall by more than 100% (a go-dark)"
            )
        out.append(SpendChange(value, relative, item))
    if not out or not items[0]:
        raise DesignError("--spend-changes: give at least one change, e.g. -100%,+50%")
    return tuple(out)


def parse_durations(text: str | Sequence[int], n_time: int, after: int) -> tuple[int, ...]:
    """`--durations` (periods) checked against the data: a test measured over D + `after`
    periods needs `MIN_PLACEBO_WINDOWS` past windows of that length in the `n_time` periods."""
    raw = text.split(",") if isinstance(text, str) else list(text)
    longest = n_time // MIN_PLACEBO_WINDOWS - after
    out = []
    for item in raw:
        try:
            d = int(str(item).strip())
        except ValueError:
            raise DesignError(f"--durations {item!r}: give whole numbers of periods") from None
        if d < 1:
            raise DesignError(f"--durations {d}: a test runs 1 period or more")
        if d > longest:
            raise DesignError(
                f"--durations {d}: longer than the data allow: a test measured over {d} + "
                f"{after} periods needs {MIN_PLACEBO_WINDOWS} past windows of that length for "
                f"its placebo, and the data have {n_time} periods; give durations up to "
                f"{max(longest, 0)} (or a shorter --measure-after)"
            )
        out.append(d)
    if not out:
        raise DesignError("--durations: give at least one duration, e.g. 2,4,6,8")
    return tuple(sorted(set(out)))


def check_channels(names: Sequence[str] | None, channels: Sequence[str]) -> tuple[str, ...]:
    """The channels to design tests for (default: all); DesignError names an unknown one."""
    if not names:
        return tuple(channels)
    unknown = [c for c in names if c not in channels]
    if unknown:
        raise DesignError(
            f"--channels: unknown channel(s) {unknown}; the fit's channels are {list(channels)}"
        )
    return tuple(dict.fromkeys(names))


def check_numbers(alpha: float, max_cost: float | None, shrink: float, null_roas: float) -> None:
    """DesignError for a level outside (0, 1), a negative budget, a shrink outside [0, 1]."""
    if not 0 < alpha < 1:
        raise DesignError(f"--alpha {alpha}: a test's level is between 0 and 1, e.g. 0.05")
    if max_cost is not None and not max_cost >= 0:
        raise DesignError(
            f"--max-cost {max_cost}: a budget for a test cannot be negative; give 0 or more "
            "(spend at risk plus expected revenue lost, currency)"
        )
    if not 0 <= shrink <= 1:
        raise DesignError(f"--sceptical {shrink}: the shrink toward zero is in [0, 1], e.g. 0.5")
    if not null_roas > 0:
        raise DesignError(f"--null-roas {null_roas}: the effect to rule out must be > 0")
