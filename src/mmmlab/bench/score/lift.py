"""Lift tests in a benchmark: MAPE.LIFT (Robyn's calibration error) for any backend, and
lift experiments that calibrate the fits of backends that take them.

A dataset in a spec may list `lift_tests` or say ``lift_tests: from_truth`` for a simulated
world. An entry with Robyn's `calibration_input` fields (channel, start, end, lift, spend,
scope) is scored against the fit's contributions; ``from_truth`` makes one such test per paid
channel over `TRUTH_WINDOW` periods in the middle of the training window, whose lift is the
channel's true contribution over those periods (total scope). Dates label the start of each
period, as Robyn's ``ds`` does. An entry with a ``spend_change`` and a ``lift_se`` is a lift
experiment (`data.lift_tests`, the fields of a lift-test file): backends that declare
``lift_calibration`` fit with it in their likelihood, and its predicted lift is the fit's
response to that spend change.

``total`` scope is scored on any backend that gives contributions; ``immediate`` scope needs a
backend that declares ``immediate_contributions`` (e.g. `ridge`), and experiments one that
declares ``lift_calibration``; tests a backend cannot score are counted in
``lift_tests_unscored``, never scored as something else.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np

from mmmlab.bench.score.fitted import FittedCell, Metric
from mmmlab.data import Dataset
from mmmlab.data.dataset import FREQUENCIES
from mmmlab.data.lift_tests import LiftExperiment
from mmmlab.metrics.robyn import LiftTest, mape_lift, predicted_lift

TRUTH_WINDOW = 4  # periods per simulated lift test


def lift_test_from_dict(raw: Any, where: str) -> LiftTest | LiftExperiment:
    """A spec's lift-test entry: an experiment when it has a ``spend_change``, else Robyn's
    `LiftTest`; bad keys and values are named with `where`."""
    if isinstance(raw, dict) and "spend_change" in raw:
        return LiftExperiment.from_dict(raw, where)
    return LiftTest.from_dict(raw, where)


def experiments(value: Any) -> tuple[LiftExperiment, ...]:
    """The lift experiments among a cell's lift tests: what calibrates its fit."""
    return tuple(t for t in value or () if isinstance(t, LiftExperiment))


def lift_tests_for(value: Any, train: Dataset, truth) -> list[LiftTest | LiftExperiment]:
    """The lift tests of a cell: the spec's, or drawn from the truth (none without one)."""
    if not value:
        return []
    if value == "from_truth":
        return [] if truth is None else tests_from_truth(train, truth)
    return list(value)


def tests_from_truth(train: Dataset, truth, periods: int = TRUTH_WINDOW) -> list[LiftTest]:
    """One total-scope test per channel with spend: the true contribution over `periods`
    periods centred in the training window (summed over geos)."""
    first = max(0, train.n_time // 2 - periods // 2)
    rows = slice(first, first + periods)
    days = FREQUENCIES[train.frequency]
    start = train.dates[first].date()
    end = (train.dates[first + periods - 1] + timedelta(days=days - 1)).date()
    contributions = truth.contributions[train.time_index][rows].sum(axis=(0, 1))  # (C,)
    spend = train.spend[rows].sum(axis=(0, 1))
    return [
        LiftTest(ch, start, end, float(contributions[c]), float(spend[c]), "total")
        for c, ch in enumerate(train.channels)
        if spend[c] > 0 and contributions[c] != 0
    ]


def lift_scores(cell: FittedCell) -> list[Metric]:
    """mape_lift (posterior mean of the predicted lifts against each test), per-test
    predicted lifts, and how many tests this backend could not score; nothing when the
    cell's dataset has no lift tests."""
    train = cell.train
    tests = lift_tests_for(cell.lift_tests, train, cell.truth)
    if not tests:
        return []
    caps = cell.capabilities
    total = cell.contributions.sum(axis=2).mean(axis=0) if caps.contributions else None  # (T, C)
    immediate = None
    if caps.immediate_contributions:
        immediate = cell.fit.immediate_contributions(train).sum(axis=2).mean(axis=0)
    days = FREQUENCIES[train.frequency]
    at = [i for i, test in enumerate(tests) if isinstance(test, LiftExperiment)]
    responses: dict[int, float] = {}
    if at and caps.lift_calibration:  # the fit's own response to each spend change
        means = cell.fit.lift_draws([tests[i] for i in at]).mean(axis=0)
        responses = dict(zip(at, means.tolist(), strict=True))
    scored, predicted, out = [], [], []
    for i, test in enumerate(tests):
        if isinstance(test, LiftExperiment):
            if i not in responses:
                continue
            lift = responses[i]
        elif total is None or (test.scope == "immediate" and immediate is None):
            continue
        else:
            parts = immediate if immediate is not None else total
            lift = predicted_lift(test, train.dates, parts, total, train.channels, days)
        scored.append(test)
        predicted.append(lift)
        out.append(("lift_predicted", f"{i}:{test.channel}", float(lift)))
    if scored:
        out.append(("mape_lift", "", float(mape_lift(np.array(predicted), scored))))
    out.append(("lift_tests_unscored", "", float(len(tests) - len(scored))))
    return out
