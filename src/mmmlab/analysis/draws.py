"""What a fit's report needs of every posterior draw, without holding every draw of every
channel in every geo at once.

`Fit.components` returns the media of each draw, period, geo and channel: S × T × G × C
floats, 10 GB for 4 × 1000 draws of a 50-geo, 30-channel panel, and the report once asked for
that array twice more (mROAS, response curves). Here the media are evaluated geo block by
geo block (`inference.components.geo_blocks`) and reduced at once, to per-cell bands and
per-draw totals; the values are those of `Fit.components`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mmmlab.analysis.roas import band
from mmmlab.inference.components import PARTS, Components, evaluate_totals, geo_blocks

if TYPE_CHECKING:
    from mmmlab.data import Dataset
    from mmmlab.inference.fit import Fit

Band = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class ReportDraws:
    """A window's posterior reduced for the report, in target units.

    mean : (S, T, G) expected target per draw
    bands : component -> (mean, lo, hi) over draws, each (T, G): the parts of `PARTS`, then
        one per channel (`analysis.roas.contributions_table` reads them)
    contribution : (S, C) each channel's contribution summed over periods and geos
    """

    mean: np.ndarray
    bands: dict[str, Band]
    contribution: np.ndarray

    def components(self) -> Components:
        """The expected target as `Components` for `Fit.predict` (which reads `mean` only);
        no parts, and media with no periods."""
        n = len(self.mean)
        return Components(parts={}, media=np.zeros((n, 0, 0, 0)), mean=self.mean)


def report_draws(
    fit: Fit, dataset: Dataset | None = None, block_elements: int | None = None
) -> ReportDraws:
    """`ReportDraws` of `dataset`'s window (default: training), geo block by geo block
    (blocks of about `block_elements` media values: `inference.components.geo_blocks`)."""
    dataset = fit.train if dataset is None else dataset
    data = fit._window(dataset, 1.0)
    y_scale = fit.scaling.y_scale
    n_time, n_geos, n_channels = dataset.n_time, dataset.n_geos, dataset.n_channels
    mean: np.ndarray | None = None
    contribution = np.zeros((fit.num_draws, n_channels))
    cells = {k: np.empty((3, n_time, n_geos)) for k in (*PARTS, *dataset.channels)}
    for idx, out in geo_blocks(fit.structure, fit.flat_posterior(), data, block_elements):
        scale = y_scale[idx]
        if mean is None:
            mean = np.empty((fit.num_draws, n_time, n_geos))
        mean[:, :, idx] = out.pop("mean") * scale
        for k in PARTS:
            cells[k][:, :, idx] = band(out.pop(k) * scale)
        media = out.pop("media")
        media *= scale[:, None]  # in place: one block's media is up to a gigabyte
        contribution += media.sum(axis=(1, 2))
        for c, ch in enumerate(dataset.channels):
            cells[ch][:, :, idx] = band(media[..., c])
        del media
    assert mean is not None
    return ReportDraws(mean, {k: (v[0], v[1], v[2]) for k, v in cells.items()}, contribution)


def media_totals(fit: Fit, dataset: Dataset | None = None, media_scale: float = 1.0) -> np.ndarray:
    """(S, C) each draw's channel contributions summed over `dataset`'s window (default:
    training) and geos, target units, every spend times `media_scale`: ``Fit.media(dataset,
    media_scale).sum(axis=(1, 2))`` without the (S, T, G, C) array."""
    dataset = fit.train if dataset is None else dataset
    data = fit._window(dataset, media_scale)
    return evaluate_totals(fit.structure, fit.flat_posterior(), data, fit.scaling.y_scale)
