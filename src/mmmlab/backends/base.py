"""The one small interface every engine sits behind, so every metric is computed the same way.

A `Backend` checks its parameters, fits a training window and returns a `BackendFit`; the
benchmark reads predictive draws, expectations, diagnostics and what the backend's
`Capabilities` declare (contributions, log-likelihood, parameters, ...) from it and nothing
else. A capability a backend declares is a method its fits have; one it does not declare is
never asked for (the contract test, tests/backend_contract.py, holds both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from mmmlab.data import Dataset
from mmmlab.inference.diagnostics import Diagnostics


class Incompatible(Exception):
    """This backend cannot fit this dataset / configuration; the cell is skipped with the
    message as its reason (never counted as a failure)."""


@dataclass(frozen=True)
class Environment:
    """A backend whose library lives in its own environment: the optional extra that
    installs it (``.venv-<extra>``, ``pip install 'mmmlab[<extra>]'``) and the module whose
    presence says the library is installed here."""

    extra: str
    module: str


@dataclass(frozen=True)
class Capabilities:
    """What a backend's fits give beyond `predict`, `expected`, `diagnostics` and
    `num_chains`, and where the backend runs. Each true flag names a `BackendFit` method.

    contributions : ``contributions`` (S, T, G, C): ROAS, effect shares, recovery, lift tests
    log_likelihood : ``log_likelihood`` (S, T, G): LOO
    parameters : ``parameters``: named draws, for parameter recovery
    immediate_contributions : ``immediate_contributions`` (carry-over left out): lift tests
        of immediate scope
    n_features : ``n_features``, the regression terms: Robyn's adjusted R²
    extra_metrics : ``extra_metrics``: the backend's own ``(metric, key, value)`` rows
    pareto : ``save_pareto(path)``: the candidates of its search, as ``pareto.csv``
    save_posterior : ``save_posterior(path)``: a posterior `mmmlab.load` reads
    lift_calibration : ``fit(..., lift_tests=)`` takes lift experiments into its likelihood
        (`data.lift_tests`), and ``lift_draws(tests)`` (S, N) is a fit's response to each
        test's spend change: a dataset's lift experiments calibrate and score it
    environment : the library's own environment, for peers (None: this one)
    """

    contributions: bool = True
    log_likelihood: bool = True
    parameters: bool = True
    immediate_contributions: bool = False
    n_features: bool = False
    extra_metrics: bool = False
    pareto: bool = False
    save_posterior: bool = False
    lift_calibration: bool = False
    environment: Environment | None = None

    def methods(self) -> dict[str, bool]:
        """Each optional `BackendFit` method by name: whether it is declared."""
        names = ("contributions", "log_likelihood", "parameters", "immediate_contributions")
        names += ("n_features", "extra_metrics", "save_pareto", "save_posterior", "lift_draws")
        flags = (self.contributions, self.log_likelihood, self.parameters)
        flags += (self.immediate_contributions, self.n_features, self.extra_metrics)
        flags += (self.pareto, self.save_posterior, self.lift_calibration)
        return dict(zip(names, flags, strict=True))


class BackendFit(Protocol):
    """A fitted model, for any window of the data it was trained on.

    num_chains : chains behind the draws (S = chains × draws, chain-major)
    diagnostics : convergence and cost, over free parameters

    The methods below `expected` are optional: a fit has those its backend's `Capabilities`
    declare.
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
    """An engine: its `name`, its `capabilities`, `check_params(params)` (raises ValueError
    naming each bad key, without data) and `fit(train, params, seed, inference)` (plus
    ``lift_tests=`` where it declares `lift_calibration`)."""

    name: str
    capabilities: ClassVar[Capabilities]

    def check_params(self, params: dict[str, Any]) -> None: ...

    def fit(
        self, train: Dataset, params: dict[str, Any], seed: int, inference: dict[str, Any]
    ) -> BackendFit: ...
