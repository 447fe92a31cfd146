"""The metric groups a spec names under `metrics`, by name, and the scoring of a fitted cell
with those it asks for (plus its lift tests, whenever its dataset has some).

Add a group: a `fitted.MetricGroup` given to `register_metric_group`; its name is then valid in
a spec's `metrics`. The built-in ones, in the order a spec lists them by default: predictive,
loo, convergence, cost, robyn, channels, recovery, fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mmmlab.backends import Capabilities
from mmmlab.bench.score.answer_key import RECOVERY
from mmmlab.bench.score.channels import CHANNELS
from mmmlab.bench.score.fitted import FittedCell, Metric, MetricGroup
from mmmlab.bench.score.lift import lift_scores
from mmmlab.bench.score.posterior import CONVERGENCE, COST, LOO
from mmmlab.bench.score.predictive import FIT, PREDICTIVE
from mmmlab.bench.score.robyn import ROBYN

METRIC_GROUPS: dict[str, MetricGroup] = {}


def register_metric_group(group: MetricGroup) -> None:
    """Make `group` available to specs under its name."""
    METRIC_GROUPS[group.name] = group


for _group in (PREDICTIVE, LOO, CONVERGENCE, COST, ROBYN, CHANNELS, RECOVERY, FIT):
    register_metric_group(_group)


def needing_draws(names: Sequence[str]) -> list[str]:
    """The groups of `names` that need posterior draws (one point estimate cannot serve)."""
    return [n for n in names if n in METRIC_GROUPS and METRIC_GROUPS[n].needs_draws]


def missing_capabilities(names: Sequence[str], capabilities: Capabilities) -> dict[str, list]:
    """``{group: [capability, ...]}`` for the groups of `names` that need what a backend with
    `capabilities` does not give."""
    out = {}
    for name in names:
        lacking = [c for c in METRIC_GROUPS[name].needs if not getattr(capabilities, c)]
        if lacking:
            out[name] = lacking
    return out


def score_cell(cell: FittedCell, names: Sequence[str]) -> list[Metric]:
    """The metrics of the groups `names` and of the cell's lift tests, each window's in turn
    (train, validation, test), then the whole cell's. A metric two groups share (``r2_test``
    of both ``fit`` and ``robyn``) is reported once."""
    groups = [METRIC_GROUPS[n] for n in METRIC_GROUPS if n in names]  # the registry's order
    found: dict[tuple[str, str], float] = {}
    for name, window in cell.windows.items():
        if window is None:
            continue
        for group in groups:
            if group.window is not None:
                _add(found, group.window(cell, name, window), group.name)
        cell.forget_draws()
    for group in groups:
        if group.cell is not None:
            _add(found, group.cell(cell), group.name)
    _add(found, lift_scores(cell), "lift tests")
    return [(m, k, v) for (m, k), v in found.items()]


def _add(found: dict[tuple[str, str], float], metrics: list[Metric], group: str) -> None:
    for metric, key, value in metrics:
        value = float(value)
        if (metric, key) in found:
            seen = found[(metric, key)]
            if not (seen == value or (math.isnan(seen) and math.isnan(value))):
                raise RuntimeError(
                    f"metric group {group!r} reports {metric!r} (key {key!r}) as {value}, "
                    f"another group as {seen}: two definitions of one metric"
                )
            continue
        found[(metric, key)] = value
