"""Contributions, ROAS and marginal ROAS per channel, with posterior intervals."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from mmmlab.data import Dataset
    from mmmlab.inference.fit import Components, Fit

MARGIN = 0.01  # mROAS: the return on the next 1% of spend
INTERVAL = 0.9


def _quantiles(draws: np.ndarray, interval: float = INTERVAL) -> tuple[np.ndarray, np.ndarray]:
    """Central `interval` bounds over axis 0; NaN for a single draw (a point fit has none)."""
    if len(draws) < 2:
        none = np.full(np.shape(draws)[1:], np.nan)
        return none, none
    tail = (1.0 - interval) / 2.0
    return np.quantile(draws, tail, axis=0), np.quantile(draws, 1.0 - tail, axis=0)


def roas_draws(
    fit: Fit, dataset: Dataset | None = None, components: Components | None = None
) -> dict[str, np.ndarray]:
    """Draws (S, C) of total contribution, ROAS and mROAS over the window and all geos.

    `components` of the same window are reused when given."""
    dataset = fit.train if dataset is None else dataset
    base = fit.components(dataset) if components is None else components
    bumped = fit.components(dataset, media_scale=1.0 + MARGIN)
    contribution = base.media.sum(axis=(1, 2))  # (S, C)
    extra = bumped.media.sum(axis=(1, 2)) - contribution
    spend = dataset.spend.sum(axis=(0, 1))  # (C,)
    safe = np.where(spend > 0, spend, np.nan)
    return {
        "contribution": contribution,
        "roas": contribution / safe,
        "mroas": extra / (MARGIN * safe),
    }


def roas_table(
    fit: Fit, dataset: Dataset | None = None, components: Components | None = None
) -> pd.DataFrame:
    """One row per channel: spend, contribution, ROAS and mROAS (mean, median, 90% interval),
    shares of effect and of spend."""
    dataset = fit.train if dataset is None else dataset
    draws = roas_draws(fit, dataset, components)
    spend = dataset.spend.sum(axis=(0, 1))
    table = pd.DataFrame(index=pd.Index(dataset.channels, name="channel"))
    table["spend"] = spend
    for name, d in draws.items():
        lo, hi = _quantiles(d)
        table[f"{name}_mean"] = d.mean(axis=0)
        table[f"{name}_median"] = np.median(d, axis=0)
        table[f"{name}_lo"] = lo
        table[f"{name}_hi"] = hi
    total_effect = table["contribution_mean"].sum()
    table["share_of_effect"] = table["contribution_mean"] / total_effect if total_effect else np.nan
    table["share_of_spend"] = spend / spend.sum() if spend.sum() else np.nan
    return table


def contributions_frame(
    fit: Fit, dataset: Dataset | None = None, components: Components | None = None
) -> pd.DataFrame:
    """Long table: one row per (date, geo, component) with mean and 90% interval.

    Components are the channels plus baseline, trend, seasonality and controls.
    """
    dataset = fit.train if dataset is None else dataset
    comp = fit.components(dataset) if components is None else components
    series = {**comp.parts, **{ch: comp.media[..., c] for c, ch in enumerate(dataset.channels)}}
    rows = []
    for name, draws in series.items():  # draws (S, T, G)
        lo, hi = _quantiles(draws)
        mean = draws.mean(axis=0)
        for g, geo in enumerate(dataset.geos):
            rows.append(
                pd.DataFrame(
                    {
                        "date": dataset.dates,
                        "geo": geo,
                        "component": name,
                        "kind": "media" if name in dataset.channels else "base",
                        "mean": mean[:, g],
                        "lo": lo[:, g],
                        "hi": hi[:, g],
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)
