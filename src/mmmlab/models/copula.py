"""Gaussian copula controls for channels whose spend follows demand (Park & Gupta, 2012).

When a team raises a channel's budget in weeks of high demand (search is the usual case), an
unobserved demand driver moves spend and sales together and the fit credits the channel
with the demand's sales. The copula control function adds, per such channel, the regressor

    copula_c[t, g] = Phi^-1( F_g(spend[t, g, c]) )

with F_g the channel's empirical spend distribution in geo g over the training window (mid
ranks, so ties and zero spend share one value). It carries the part of demand that moves with
the spend's rank, so the channel's effect is estimated from how sales move beyond it.
Identification rests on the spend being far from normal (spend is skewed and bounded below);
with a weak signal the channel's ROAS interval widens rather than staying confidently wrong,
and lift tests then pin it down (docs/lift_tests.md).

The columns are data, derived once from the observed spend: a later window with observed
spend takes its scores from the training window's F_g; decisions' future windows hold every
control, these included, at its training mean (`decisions.window`), so a counterfactual
change of spend never moves them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mmmlab.data import Dataset

PREFIX = "copula_"


def copula_scores(reference: np.ndarray, spend: np.ndarray) -> np.ndarray:
    """Normal scores (T, G) of `spend` (T, G) under each geo's empirical distribution of
    `reference` (T0, G): ``Phi^-1((below + (equal + 1) / 2) / (T0 + 1))``, the mid rank of a
    value among the reference, so no score is infinite and ties share one."""
    from scipy.special import ndtri  # here: a fit without copula controls never loads it

    n = reference.shape[0]
    out = np.empty(spend.shape)
    for g in range(spend.shape[1]):
        ref = np.sort(reference[:, g])
        below = np.searchsorted(ref, spend[:, g], side="left")
        upto = np.searchsorted(ref, spend[:, g], side="right")
        out[:, g] = ndtri((below + (upto - below + 1) / 2) / (n + 1))
    return out


def with_copula_controls(
    dataset: Dataset, channels: list[str], reference: Dataset | None = None
) -> Dataset:
    """`dataset` with a control ``copula_<channel>`` per channel in `channels` (scores of
    its spend under `reference`'s, default its own); unchanged when it has them already.

    Raises ValueError naming a channel the data do not have (option `endogenous`)."""
    if not channels:
        return dataset
    unknown = sorted(set(channels) - set(dataset.channels))
    if unknown:
        raise ValueError(
            f"endogenous: unknown channel(s) {unknown}; the data's channels are "
            f"{list(dataset.channels)}"
        )
    names = tuple(PREFIX + ch for ch in channels)
    if set(names) <= set(dataset.control_names):
        return dataset
    reference = dataset if reference is None else reference
    idx = [dataset.channels.index(ch) for ch in channels]
    scores = [copula_scores(reference.spend[:, :, i], dataset.spend[:, :, i]) for i in idx]
    controls = np.concatenate([dataset.controls, np.stack(scores, axis=-1)], axis=-1)
    return replace(dataset, controls=controls, control_names=dataset.control_names + names)
