"""Lift tests on the model scale: the lagged media of each test with and without its change.

A test's predicted lift is the model's own media response with the spend change minus
without (`mmm.predicted_lift`), over the periods and geos it measures, through the same
adstock and saturation as the fit. Everything that does not depend on the parameters is
laid out here once, so the lift term costs two small saturations per gradient:

- the rows: (period, geo) pairs from the test's start to its measure_end where the changed
  spend's carry-over reaches (later rows would differ by exactly 0), with history before
  the window counted as in the fit;
- their lagged media of the test's channel (model scale, the media dtype of the fit), with
  the change and without; the change is in spend, so a model of exposure changes exposure
  by the spend change times that period's exposure per unit of spend;
- per test, the target units its lift is expressed in (`unit`, the mean `y_scale` of its
  geos: model units for national data).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from mmmlab.data import Dataset, DatasetError
from mmmlab.data.lift_tests import LiftExperiment, TestDesign, check_lift_tests
from mmmlab.models.config import ModelConfig
from mmmlab.models.scaling import MEDIA_DTYPE, LiftData, Scaling, padded_media
from mmmlab.transforms import lag_stack


def media_change(design: TestDesign, dataset: Dataset) -> np.ndarray:
    """(T, G) change of the test channel's media: its spend change, times the media bought
    per unit of spend in that period (the geo's average where nothing was spent)."""
    c = design.channel
    if dataset.exposure is None:
        return design.change
    spend, media = dataset.spend[..., c], dataset.media[..., c]  # (T, G)
    total = spend.sum(axis=0)
    average = np.where(total > 0, media.sum(axis=0) / np.where(total > 0, total, 1.0), np.nan)
    ratio = np.where(spend > 0, media / np.where(spend > 0, spend, 1.0), average)
    touched = design.change != 0
    if np.isnan(ratio[touched]).any():
        g = int(np.argwhere(np.isnan(ratio) & touched)[0][1])
        raise DatasetError(
            f"channel {dataset.channels[c]!r} has no spend in geo {dataset.geos[g]!r}, so its "
            "exposure per unit of spend is unknown; a lift test there needs spend data"
        )
    return design.change * np.where(touched, ratio, 0.0)


def prepare_lifts(
    tests: Sequence[LiftExperiment],
    dataset: Dataset,
    config: ModelConfig,
    scaling: Scaling,
    media_dtype: Any = MEDIA_DTYPE,
) -> LiftData:
    """`LiftData` of `tests` on the training window `dataset` under `scaling`.

    Raises DatasetError naming the test's row where `check_lift_tests` refuses it.
    """
    designs = check_lift_tests(tests, dataset, config.l_max)
    L, G, C = config.l_max, dataset.n_geos, dataset.n_channels
    media = padded_media(dataset, config, scaling)  # (L - 1 + T, G, C)
    changed_rows, actual_rows, geos, owners = [], [], [], []
    for n, design in enumerate(designs):
        c = design.channel
        x = media[..., c]  # (L - 1 + T, G)
        dx = media_change(design, dataset) / scaling.media_scale[:, c]  # (T, G)
        moved = np.flatnonzero((dx != 0).any(axis=1))
        last = min(design.last, int(moved[-1]) + L - 1) if len(moved) else design.first
        actual = lag_stack(x, L)  # (L, T, G)
        changed = lag_stack(x + np.concatenate([np.zeros((L - 1, G)), dx]), L)
        for t in range(design.first, last + 1):
            for g in design.geos:
                changed_rows.append((c, changed[:, t, g]))
                actual_rows.append((c, actual[:, t, g]))
                geos.append(g)
                owners.append(n)
    R = len(geos)
    lags = np.zeros((C, 2 * R, 1, L))
    for r, (c, lag) in enumerate(changed_rows):
        lags[c, r, 0] = lag
    for r, (c, lag) in enumerate(actual_rows):
        lags[c, R + r, 0] = lag
    y_scale = np.asarray(scaling.y_scale, float)
    unit = np.array([y_scale[list(d.geos)].mean() for d in designs])
    weight = np.zeros((len(designs), R))
    weight[owners, np.arange(R)] = y_scale[geos] / unit[owners]
    return LiftData(
        lags=jnp.asarray(lags, dtype=media_dtype),
        geo=jnp.asarray(np.eye(G)[geos].reshape(R, G)),
        weight=jnp.asarray(weight),
        lift=jnp.asarray([t.lift for t in tests]) / unit,
        lift_se=jnp.asarray([t.lift_se for t in tests]) / unit,
        unit=jnp.asarray(unit),
    )
