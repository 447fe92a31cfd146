"""Response curves: each channel's total contribution as its spend is scaled up or down."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mmmlab.analysis.draws import MULTIPLIERS, scaled_totals
from mmmlab.metrics.roas import draw_interval

if TYPE_CHECKING:
    from mmmlab.data import Dataset
    from mmmlab.inference.fit import Fit


def response_curves(
    fit: Fit,
    dataset: Dataset | None = None,
    multipliers: np.ndarray | None = None,
) -> pd.DataFrame:
    """Contribution over the window when every period's spend is multiplied by m (default
    `MULTIPLIERS`): `curves_table` of `scaled_totals` (one adstock per draw for all m).

    The model is additive across channels, so scaling all channels at once gives each
    channel's own curve.
    """
    dataset = fit.train if dataset is None else dataset
    grid = MULTIPLIERS if multipliers is None else np.asarray(multipliers)
    return curves_table(dataset, grid, scaled_totals(fit, grid, dataset))


def curves_table(dataset: Dataset, multipliers: np.ndarray, totals: np.ndarray) -> pd.DataFrame:
    """A long table from each draw's contributions (S, M, C) at the M `multipliers`: channel,
    multiplier, spend (total at m), mean, lo, hi (90%)."""
    spend = dataset.spend.sum(axis=(0, 1))
    rows = []
    for i, m in enumerate(multipliers):
        total = totals[:, i]
        lo, hi = draw_interval(total)
        for c, ch in enumerate(dataset.channels):
            rows.append(
                {
                    "channel": ch,
                    "multiplier": float(m),
                    "spend": float(m * spend[c]),
                    "mean": float(total[:, c].mean()),
                    "lo": float(lo[c]),
                    "hi": float(hi[c]),
                }
            )
    return pd.DataFrame(rows)
