"""The one small interface every engine sits behind, so every metric is computed the same way.

A `Backend` fits a training window and returns a `BackendFit`; the benchmark reads
predictive draws, log-likelihood, contributions, ROAS, named parameters and diagnostics from
it and nothing else.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from mmmlab.data import Dataset
from mmmlab.inference.diagnostics import Diagnostics


class Incompatible(Exception):
    """This backend cannot fit this dataset / configuration; the cell is skipped with the
    message as its reason (never counted as a failure)."""


class BackendFit(Protocol):
    """A fitted model, for any window of the data it was trained on.

    num_chains : chains behind the draws (S = chains × draws, chain-major)
    diagnostics : convergence and cost, over free parameters
    """

    diagnostics: Diagnostics
    num_chains: int

    def predict(self, dataset: Dataset, seed: int = 0) -> np.ndarray:
        """Posterior predictive draws (S, T, G) of the target over `dataset`'s window,
        with adstock carried over from the periods before it."""
        ...

    def expected(self, dataset: Dataset) -> np.ndarray:
        """Draws (S, T, G) of the expected target (no noise)."""
        ...

    def log_likelihood(self, dataset: Dataset) -> np.ndarray:
        """Pointwise log-likelihood (S, T, G) of `dataset`'s target."""
        ...

    def contributions(self, dataset: Dataset) -> np.ndarray:
        """Draws (S, T, G, C) of each channel's contribution."""
        ...

    def parameters(self) -> tuple[dict[str, np.ndarray], dict[str, tuple[str, ...]]]:
        """Named parameter draws (S, *dims) in the data's units, and each one's dims."""
        ...


class Backend(Protocol):
    """An engine: `fit(train, params, seed, inference) -> BackendFit`."""

    name: str

    def fit(
        self, train: Dataset, params: dict[str, Any], seed: int, inference: dict[str, Any]
    ) -> BackendFit: ...
