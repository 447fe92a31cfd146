"""A chosen Robyn-style ridge model and its bootstrap draws, read through the backend
interface (`backends.base.BackendFit`) for any window of its data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from mmmlab.backends.base import Incompatible
from mmmlab.backends.ridge.design import (
    MediaFeatures,
    baseline_features,
    lagged_media,
    media_features,
)
from mmmlab.data import Dataset
from mmmlab.inference.diagnostics import Diagnostics
from mmmlab.metrics.recovery import central_interval


@dataclass(frozen=True, eq=False)
class RidgeFit:
    """The chosen ridge model and its bootstrap draws, for any window of its data.

    hyper : chosen adstock and Hill hyperparameters, name -> (C,); inflexion : (C,) Hill
    inflexion from the training window; coef : (S, P) bootstrap coefficients (media first,
    then `baseline_names`); intercept, sigma : (S,); roas_draws : (S, C) and roas_point (C,)
    over the training window; pareto : one row per evaluated candidate.
    """

    channels: tuple[str, ...]
    control_names: tuple[str, ...]
    adstock: str
    l_max: int
    fourier_order: int
    period: float
    hyper: dict[str, np.ndarray]
    lambda_hp: float
    inflexion: np.ndarray
    baseline_names: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray
    sigma: np.ndarray
    roas_draws: np.ndarray
    roas_point: np.ndarray
    pareto: pd.DataFrame
    diagnostics: Diagnostics
    extra: tuple[tuple[str, str, float], ...]
    num_chains: int = 1

    def features(self, dataset: Dataset) -> np.ndarray:
        """(T, P): saturated media (adstock carried over from `dataset`'s history, training
        inflexion) beside the baseline features of `dataset`'s window."""
        media = self._media(dataset)
        base, _ = baseline_features(dataset, self.fourier_order, self.period)
        return np.concatenate([media.saturated[0], base], axis=1)

    def _media(self, dataset: Dataset, with_carryover: bool = False) -> MediaFeatures:
        """The chosen model's media features of `dataset` (adstock carried over from its
        history, the training inflexion)."""
        check_national(dataset)
        if dataset.channels != self.channels or dataset.control_names != self.control_names:
            raise ValueError(
                f"dataset {dataset.name!r} has channels {list(dataset.channels)} and controls "
                f"{list(dataset.control_names)}; this ridge fit was trained on channels "
                f"{list(self.channels)} and controls {list(self.control_names)}"
            )
        hyper = {k: v[None] for k, v in self.hyper.items()}
        lagged = lagged_media(dataset, self.l_max)
        return media_features(
            lagged, self.adstock, hyper, self.l_max, self.inflexion[None], with_carryover
        )

    def expected(self, dataset: Dataset) -> np.ndarray:
        mean = self.intercept[:, None] + self.coef @ self.features(dataset).T
        return mean[..., None]

    def predict(self, dataset: Dataset, seed: int = 0) -> np.ndarray:
        mean = self.expected(dataset)
        noise = np.random.default_rng(seed).standard_normal(mean.shape)
        return mean + noise * self.sigma[:, None, None]

    def log_likelihood(self, dataset: Dataset) -> np.ndarray:
        mean = self.expected(dataset)
        return stats.norm.logpdf(dataset.target[None], mean, self.sigma[:, None, None])

    def contributions(self, dataset: Dataset) -> np.ndarray:
        """(S, T, 1, C): coefficient draw × saturated media of each channel."""
        n_media = len(self.channels)
        saturated = self.features(dataset)[:, :n_media]
        return (self.coef[:, None, :n_media] * saturated[None])[:, :, None, :]

    def immediate_contributions(self, dataset: Dataset) -> np.ndarray:
        """(S, T, 1, C): the immediate part of `contributions`, Robyn's way (the response
        minus the Hill response, same inflexion, to the carried-over media alone)."""
        media = self._media(dataset, with_carryover=True)
        immediate = media.saturated[0] - media.carryover[0]  # (T, C)
        n_media = len(self.channels)
        return (self.coef[:, None, :n_media] * immediate[None])[:, :, None, :]

    @property
    def n_features(self) -> int:
        """Regressors besides the intercept (media and baseline), Robyn's p."""
        return int(self.coef.shape[1])

    def parameters(self) -> tuple[dict[str, np.ndarray], dict[str, tuple[str, ...]]]:
        n_media, s = len(self.channels), len(self.coef)
        draws = {
            "intercept": self.intercept,
            "media_coef": self.coef[:, :n_media],
            "baseline_coef": self.coef[:, n_media:],
            "sigma": self.sigma,
            "hill_inflexion": np.tile(self.inflexion, (s, 1)),
            "lambda_hp": np.full(s, self.lambda_hp),
        }
        draws |= {f"hp_{k}": np.tile(v, (s, 1)) for k, v in self.hyper.items()}
        dims = {k: ("channel",) if v.ndim == 2 else () for k, v in draws.items()}
        dims["baseline_coef"] = ("baseline",)
        return draws, dims

    def roas_interval(self, prob: float = 0.9) -> pd.DataFrame:
        """Per channel: the chosen model's ROAS and the bootstrap's central `prob` interval."""
        low, high = central_interval(self.roas_draws, prob)
        return pd.DataFrame(
            {"channel": self.channels, "roas": self.roas_point, "lower": low, "upper": high}
        )

    def extra_metrics(self) -> list[tuple[str, str, float]]:
        return list(self.extra)

    def save_pareto(self, path: str | Path) -> Path:
        """Write `pareto` as CSV to `path`; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.pareto.to_csv(path, index=False)
        return path


def check_national(dataset: Dataset) -> None:
    if not dataset.is_national:
        raise Incompatible(
            f"the ridge backend is national (Robyn-style, one target series); dataset "
            f"{dataset.name!r} has {dataset.n_geos} geos - aggregate the geos first"
        )
