"""ROAS and marginal ROAS of posterior draws, and their summary per channel."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mmmlab.metrics.recovery import central_interval

MARGIN = 0.01  # mROAS: the return on the next 1% of spend
INTERVAL = 0.9


def draw_interval(
    draws: np.ndarray, prob: float = INTERVAL, axis: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Central `prob` interval over the draws (`axis`, S long) of `draws`; NaN for a single
    draw (a point fit has none)."""
    if np.shape(draws)[axis] < 2:
        none = np.full(np.delete(np.shape(draws), axis), np.nan)
        return none, none
    return central_interval(draws, prob, axis)


def roas_draws(media: np.ndarray, bumped: np.ndarray, spend: np.ndarray) -> dict[str, np.ndarray]:
    """Draws (S, C) of total contribution, ROAS and mROAS over a window and all geos.

    media : (S, T, G, C) contributions at the window's spend; bumped : the same with every
    spend raised by `MARGIN`; spend : (T, G, C). A channel without spend has NaN ROAS.
    """
    return roas_from_totals(media.sum(axis=(1, 2)), bumped.sum(axis=(1, 2)), spend)


def roas_from_totals(
    contribution: np.ndarray, bumped: np.ndarray, spend: np.ndarray
) -> dict[str, np.ndarray]:
    """`roas_draws` from each draw's contributions (S, C) already summed over the window's
    periods and geos, at the window's spend and with every spend raised by `MARGIN`."""
    total = spend.sum(axis=(0, 1))  # (C,)
    safe = np.where(total > 0, total, np.nan)
    return {
        "contribution": contribution,
        "roas": contribution / safe,
        "mroas": (bumped - contribution) / (MARGIN * safe),
    }


def roas_summary(
    draws: dict[str, np.ndarray], spend: np.ndarray, channels: Sequence[str]
) -> pd.DataFrame:
    """One row per channel: spend, then for each of `draws` (S, C) its mean, median and 90%
    interval, and the shares of effect and of spend. spend : (T, G, C)."""
    total = spend.sum(axis=(0, 1))
    table = pd.DataFrame(index=pd.Index(channels, name="channel"))
    table["spend"] = total
    for name, d in draws.items():
        lo, hi = draw_interval(d)
        table[f"{name}_mean"] = d.mean(axis=0)
        table[f"{name}_median"] = np.median(d, axis=0)
        table[f"{name}_lo"] = lo
        table[f"{name}_hi"] = hi
    total_effect = table["contribution_mean"].sum()
    table["share_of_effect"] = table["contribution_mean"] / total_effect if total_effect else np.nan
    table["share_of_spend"] = total / total.sum() if total.sum() else np.nan
    return table
