"""A fitted cell as the metric groups read it (`FittedCell`), and what a group is
(`MetricGroup`). Metrics come out in the store's long form ``(metric, key, value)``: key ``""``
for a cell-level metric, e.g. a channel name otherwise."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from mmmlab.backends import BackendFit, Capabilities
from mmmlab.data import Dataset

Metric = tuple[str, str, float]


@dataclass(eq=False)
class FittedCell:
    """One fitted cell and what its groups share, computed once.

    fit, capabilities : the backend's fit and what it declares it gives
    windows : ``train``, ``validation`` and ``test`` (None when the split has none)
    truth : the world's answer key, None for data read from files
    cell_seed : the seed of predictive draws
    convergence : the spec's ``rhat`` and ``ess_bulk`` thresholds
    artifacts : the cell's artifact folder (None: write nothing)
    lift_tests : ``"from_truth"``, the spec's tests (`LiftTest`s, `LiftExperiment`s), or None
    """

    fit: BackendFit
    capabilities: Capabilities
    windows: dict[str, Dataset | None]
    truth: Any
    cell_seed: int
    convergence: Mapping[str, float]
    artifacts: Path | None = None
    lift_tests: Any = None
    _draws: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _points: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def train(self) -> Dataset:
        return self.windows["train"]

    def draws(self, name: str) -> np.ndarray:
        """Posterior predictive draws (S, T, G) of window `name` (only the last window's are
        kept: a large panel's draws are gigabytes)."""
        if name not in self._draws:
            self._draws.clear()
            self._draws[name] = self.fit.predict(self.windows[name], seed=self.cell_seed)
        return self._draws[name]

    def point(self, name: str) -> np.ndarray:
        """The posterior mean (T, G) of the expected target over window `name`."""
        if name not in self._points:
            self._points[name] = self.fit.expected(self.windows[name]).mean(axis=0)
        return self._points[name]

    def forget_draws(self) -> None:
        self._draws.clear()

    @cached_property
    def contributions(self) -> np.ndarray:
        """Draws (S, T, G, C) of each channel's contribution over the training window."""
        return self.fit.contributions(self.train)

    @cached_property
    def channel_totals(self) -> np.ndarray:
        """Draws (S, C) of each channel's total contribution over the training window."""
        return self.contributions.sum(axis=(1, 2))

    @cached_property
    def spend(self) -> np.ndarray:
        """(C,) spend per channel over the training window."""
        return self.train.spend.sum(axis=(0, 1))

    @cached_property
    def roas(self) -> np.ndarray:
        """Draws (S, C) of each channel's ROAS over the training window (NaN without spend)."""
        return self.channel_totals / np.where(self.spend > 0, self.spend, np.nan)


@dataclass(frozen=True)
class MetricGroup:
    """A named group of metrics a spec lists under `metrics`.

    window : its metrics of one split window, ``window(cell, name, dataset)``
    cell : its metrics of the whole cell, ``cell(cell)``
    needs : the `Capabilities` flags it reads (a spec asking it of a backend without them
        is an error before anything runs)
    needs_draws : it needs posterior draws, which one point estimate (MAP) does not give
    """

    name: str
    window: Callable[[FittedCell, str, Dataset], list[Metric]] | None = None
    cell: Callable[[FittedCell], list[Metric]] | None = None
    needs: tuple[str, ...] = ()
    needs_draws: bool = False
