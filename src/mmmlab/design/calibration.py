"""The designer's checks against a simulated world: does a stated test detect as often as
its assurance says, and does it keep its level when nothing happens?

The world's noise is its own: `noise_windows` takes each seed's ``Truth.noise`` (the noise the
world drew, AR(1) in time when its `noise_ar1` is set) summed over windows of a test's
length, national (summed over geos). An experiment's measured lift is a posterior draw's
predicted lift (the "true" lift of a world whose parameters are that draw) plus one such
window, and the stated test is applied to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import norm

from mmmlab.design.designer import Recommendations
from mmmlab.synth.world import WorldSpec, draw_inputs, simulate_world


def world_noise(spec: WorldSpec, seeds: Sequence[int], at: int) -> np.ndarray:
    """The world's national noise (len(seeds), T): each seed's `Truth.noise`, rescaled to the
    levels of seed `at` (the world that was fitted; a seed also draws its geos' sizes), summed
    over geos."""
    level = _levels(spec, at)
    return np.stack(
        [(simulate_world(spec, s)[1].noise * level / _levels(spec, s)).sum(axis=1) for s in seeds]
    )


def _levels(spec: WorldSpec, seed: int) -> np.ndarray:
    """(G,) the geo levels seed `seed` draws first (`synth.world.draw_inputs`)."""
    return draw_inputs(spec, np.random.default_rng(seed)).level


def noise_windows(noise: np.ndarray, periods: int) -> np.ndarray:
    """Sums (N,) of `noise` (R, T) over non-overlapping windows of `periods` periods."""
    n = noise.shape[1] // periods
    return noise[:, : n * periods].reshape(len(noise), n, periods).sum(axis=2).ravel()


def rejection_rate(lift: np.ndarray, windows: np.ndarray, sd: float, alpha: float) -> float:
    """Share of experiments (lift + window, (N,) each) the two-sided level-α test with noise
    sd `sd` calls significant."""
    return float((np.abs(lift + windows) / sd > norm.ppf(1 - alpha / 2)).mean())


def detection_rate(
    rec: Recommendations, row: int, windows: np.ndarray, seed: int = 0
) -> tuple[float, float]:
    """(detection rate, assurance) of table row `row` over one experiment per window: a
    posterior draw picked at random is the truth, the window its noise."""
    r = rec.table.iloc[row]
    draws = rec.lift[row, :, : r.measured_periods].sum(axis=1)  # (S,)
    truth = draws[np.random.default_rng(seed).integers(0, len(draws), len(windows))]
    alpha = rec.settings["alpha"]
    return rejection_rate(truth, windows, r.noise_sd, alpha), float(r.assurance)
