"""Contributions, ROAS and marginal ROAS per channel, with posterior intervals, as tables.

The arithmetic on draws is `mmmlab.metrics.roas`; a `Fit` applies it to its components
(`Fit.roas_draws`, `Fit.roas`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mmmlab.metrics.roas import draw_interval

if TYPE_CHECKING:
    from mmmlab.data import Dataset
    from mmmlab.inference.components import Components
    from mmmlab.inference.fit import Fit


def roas_draws(
    fit: Fit, dataset: Dataset | None = None, components: Components | None = None
) -> dict[str, np.ndarray]:
    """Draws (S, C) of total contribution, ROAS and mROAS over the window and all geos
    (`Fit.roas_draws`); `components` of the same window are reused when given."""
    return fit.roas_draws(dataset, components)


def roas_table(
    fit: Fit, dataset: Dataset | None = None, components: Components | None = None
) -> pd.DataFrame:
    """One row per channel: spend, contribution, ROAS and mROAS (mean, median, 90% interval),
    shares of effect and of spend (`Fit.roas`)."""
    return fit.roas(dataset, components)


def contributions_frame(
    fit: Fit, dataset: Dataset | None = None, components: Components | None = None
) -> pd.DataFrame:
    """Long table: one row per (date, geo, component) with mean and 90% interval.

    Components are the channels plus baseline, trend, seasonality and controls.
    """
    dataset = fit.train if dataset is None else dataset
    comp = fit.components(dataset) if components is None else components
    series = {**comp.parts, **{ch: comp.media[..., c] for c, ch in enumerate(dataset.channels)}}
    return contributions_table(dataset, {name: band(draws) for name, draws in series.items()})


def band(draws: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 90% interval over the draws (`axis`) of `draws`: fastest with the draws
    last and contiguous (`metrics.recovery.central_interval`)."""
    lo, hi = draw_interval(draws, axis=axis)
    return draws.mean(axis=axis), lo, hi


def contributions_table(
    dataset: Dataset, bands: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> pd.DataFrame:
    """`contributions_frame`'s table from each component's (mean, lo, hi), each (T, G), in
    the order given; a component named after a channel is media, any other is base."""
    rows = []
    for name, (mean, lo, hi) in bands.items():
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
