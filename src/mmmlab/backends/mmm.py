"""mmmlab's own additive Bayesian MMM (NumPyro NUTS, MAP or SVI) behind the backend interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from pydantic import ValidationError

from mmmlab.backends.base import Capabilities, Incompatible
from mmmlab.data import Dataset
from mmmlab.data.lift_tests import LiftExperiment
from mmmlab.inference import Fit, fit
from mmmlab.inference.diagnostics import Diagnostics
from mmmlab.models import ModelConfig
from mmmlab.models.units import natural_params


@dataclass(frozen=True, eq=False)
class MmmFit:
    """A `Fit` seen through the backend interface (see `backends.base.BackendFit`)."""

    fit: Fit
    _last: list = field(default_factory=list, repr=False)  # [(fingerprint, Components)]

    def _components(self, dataset: Dataset):
        """The window's components, kept for the next call on the same window: scoring asks
        for the prediction, expectation and contributions of one window in turn, and for a
        large panel each evaluation is gigabytes."""
        key = dataset.fingerprint
        if not (self._last and self._last[0][0] == key):
            self._last[:] = []  # free the old window's first
            self._last.append((key, self.fit.components(dataset)))
        return self._last[0][1]

    @property
    def diagnostics(self) -> Diagnostics:
        return self.fit.diagnostics

    @property
    def num_chains(self) -> int:
        return int(next(iter(self.fit.posterior.values())).shape[0])

    @property
    def n_features(self) -> int:
        """Regression terms, as Robyn counts features for its adjusted R²: channels, controls,
        trend terms and Fourier terms (yearly; weekly for daily data)."""
        config, train = self.fit.config, self.fit.train
        trend = {"none": 0, "linear": 1, "piecewise": config.n_changepoints + 1}[config.trend]
        weekly = config.weekly_seasonality if train.frequency == "daily" else 0
        return (
            train.n_channels + train.n_controls + trend + 2 * (config.yearly_seasonality + weekly)
        )

    def expected(self, dataset: Dataset) -> np.ndarray:
        return self._components(dataset).mean

    def predict(self, dataset: Dataset, seed: int = 0) -> np.ndarray:
        return self.fit.predict(dataset, seed=seed, components=self._components(dataset))

    def log_likelihood(self, dataset: Dataset) -> np.ndarray:
        return self.fit.log_likelihood(dataset, self._components(dataset))

    def contributions(self, dataset: Dataset) -> np.ndarray:
        return self._components(dataset).media

    def parameters(self) -> tuple[dict[str, np.ndarray], dict[str, tuple[str, ...]]]:
        return natural_params(self.fit.flat_posterior(), self.fit.structure, self.fit.scaling)

    def save_posterior(self, path: str) -> None:
        """The posterior, as `mmmlab.load` reads it."""
        self.fit.save(path)

    def lift_draws(self, tests: Sequence[LiftExperiment]) -> np.ndarray:
        """(S, N) the fit's response to each test's spend change (`Fit.lift_draws`)."""
        return replace(self.fit, lift_tests=tuple(tests)).lift_draws()


class MmmBackend:
    """`params` are `ModelConfig` fields; `inference` the arguments of `mmmlab.fit`; a
    dataset's lift experiments calibrate the fit (`lift_tests`)."""

    name = "mmmlab"
    capabilities = Capabilities(n_features=True, save_posterior=True, lift_calibration=True)

    def check_params(self, params: dict[str, Any]) -> None:
        """Raise ValueError naming each key of `params` that is not a valid `ModelConfig`."""
        try:
            ModelConfig.model_validate(params)
        except ValidationError as err:
            raise ValueError(
                "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in err.errors())
            ) from None

    def fit(
        self,
        train: Dataset,
        params: dict[str, Any],
        seed: int,
        inference: dict[str, Any],
        lift_tests: Sequence[LiftExperiment] = (),
    ) -> MmmFit:
        try:
            config = ModelConfig.model_validate(params)
        except ValidationError as err:
            raise ValueError(f"model params are not a valid ModelConfig: {err}") from err
        unknown = set(config.channels) - set(train.channels)
        if unknown:
            raise Incompatible(f"config names channels {sorted(unknown)} the data lacks")
        return MmmFit(fit(train, config, seed=seed, lift_tests=lift_tests, **inference))
