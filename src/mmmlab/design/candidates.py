"""Candidate experiments: channel × spend change × duration, national or geo.

A national design changes a channel's spend in every geo; on a geo panel a geo design
changes it only in a treated subset of geos and measures treated against the rest. The
treated subset is the one whose pre-period residuals track the control's best: the smallest
spread of ``d_t = Σ_treated r_t,g − w Σ_control r_t,g`` (w: the treated over control target),
searched over every half-split for up to `EXHAUSTIVE_GEOS` geos, else `RANDOM_SPLITS` random
ones (seeded).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from mmmlab.design.inputs import SpendChange

EXHAUSTIVE_GEOS = 12
RANDOM_SPLITS = 512


@dataclass(frozen=True)
class Candidate:
    """One experiment: `change` of `channel`'s spend for `duration` periods in the geos
    `treated` (all geos for a national design), measured over `duration + after` periods."""

    channel: str
    change: SpendChange
    duration: int
    kind: str  # 'national' or 'geo'
    treated: tuple[int, ...]

    @property
    def name(self) -> str:
        where = "" if self.kind == "national" else f" geo({len(self.treated)})"
        return f"{self.channel} {self.change.label} {self.duration}p{where}"


@dataclass(frozen=True)
class GeoSplit:
    """The treated geos of a geo design, the control weight `w`, the residual series (T,)
    of treated minus w × control (``residuals @ combo``), which gives the design its noise."""

    treated: tuple[int, ...]
    weight: float
    series: np.ndarray
    combo: np.ndarray  # (G,) how each geo enters the estimate: 1 treated, −w control


def balanced_split(residuals: np.ndarray, target: np.ndarray, seed: int = 0) -> GeoSplit:
    """The half-split of geos (residuals, target (T, G)) whose treated-minus-control
    residual series has the smallest sd over the pre-period."""
    G = residuals.shape[1]
    size = G // 2
    if G <= EXHAUSTIVE_GEOS:
        splits = list(combinations(range(G), size))
    else:
        rng = np.random.default_rng(seed)
        splits = [tuple(sorted(rng.choice(G, size, replace=False))) for _ in range(RANDOM_SPLITS)]
    level = target.sum(axis=0)
    best: GeoSplit | None = None
    for treated in splits:
        mask = np.zeros(G, bool)
        mask[list(treated)] = True
        w = level[mask].sum() / level[~mask].sum()
        combo = np.where(mask, 1.0, -w)
        series = residuals @ combo
        if best is None or series.std() < best.series.std():
            best = GeoSplit(tuple(int(g) for g in treated), float(w), series, combo)
    assert best is not None
    return best


def grid(
    channels: tuple[str, ...],
    changes: tuple[SpendChange, ...],
    durations: tuple[int, ...],
    n_geos: int,
    split: GeoSplit | None,
) -> list[Candidate]:
    """Every channel × change × duration, national; and geo designs when `split` is given."""
    everywhere = tuple(range(n_geos))
    kinds = [("national", everywhere)] + ([("geo", split.treated)] if split else [])
    return [
        Candidate(ch, change, d, kind, geos)
        for ch in channels
        for change in changes
        for d in durations
        for kind, geos in kinds
    ]
