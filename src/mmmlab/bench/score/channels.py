"""The ``channels`` metric group: each channel's ROAS (posterior mean) and share of the total
media effect over the training window."""

from __future__ import annotations

import numpy as np

from mmmlab.bench.score.fitted import FittedCell, Metric, MetricGroup


def _channels(cell: FittedCell) -> list[Metric]:
    mean = cell.channel_totals.mean(axis=0)
    share = mean / max(float(mean.sum()), 1e-300)
    out: list[Metric] = []
    for c, ch in enumerate(cell.train.channels):
        out.append(("roas", ch, float(np.nanmean(cell.roas[:, c]))))
        out.append(("effect_share", ch, float(share[c])))
    return out


CHANNELS = MetricGroup("channels", cell=_channels, needs=("contributions",))
