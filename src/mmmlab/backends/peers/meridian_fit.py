"""A fitted Meridian model (`meridian.MeridianBackend`) seen through the backend interface.

Every output is computed with numpy from the posterior draws and Meridian's scale factors, for
any window: Meridian's ``Analyzer.expected_outcome`` refuses periods outside the window it was
fitted on. The baseline ``mu_t`` of a period outside the training window is the nearest
training period's (Meridian holds its end knots flat beyond them); held-out adstock reads the
window's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from mmmlab.data import Dataset
from mmmlab.inference.diagnostics import Diagnostics


@dataclass(frozen=True)
class MeridianScaling:
    """How Meridian maps the training data to its model scale (fixed by the training window).

    media_scale : (G, C) population × median non-zero population-scaled media per channel
    kpi_mean, kpi_std : mean and sd of population-scaled kpi over geos × times
    population : (G,) (ones in national mode)
    control_mean, control_std : (K,) over geos × times of the training window
    """

    media_scale: np.ndarray
    kpi_mean: float
    kpi_std: float
    population: np.ndarray
    control_mean: np.ndarray
    control_std: np.ndarray


@dataclass(frozen=True, eq=False)
class MeridianFit:
    """A fitted Meridian model seen through `backends.base.BackendFit`.

    draws : flat posterior draws (S = chains × draws, chain-major): ``alpha``, ``ec``,
        ``slope`` (S, C); ``beta_gm`` (S, G, C) on the scaled kpi; ``tau_g`` (S, G);
        ``mu_t`` (S, T_train); ``gamma_gc`` (S, G, K); ``sigma`` (S, G)
    meridian : the fitted ``meridian.model.Meridian``, for Meridian's own analysis tools
    """

    draws: dict[str, np.ndarray]
    scaling: MeridianScaling
    train: Dataset
    max_lag: int
    diagnostics: Diagnostics
    num_chains: int
    meridian: Any = None

    def _check(self, dataset: Dataset) -> None:
        for key in ("geos", "channels", "control_names"):
            if getattr(dataset, key) != getattr(self.train, key):
                raise ValueError(
                    f"dataset '{dataset.name}': {key} {list(getattr(dataset, key))} differ "
                    f"from the training data's {list(getattr(self.train, key))}"
                )

    def _media_effect(self, dataset: Dataset) -> np.ndarray:
        """Hill(adstock(scaled media)) (S, T, G, C), the window's history carried over."""
        L, d = self.max_lag, self.draws
        past = dataset.history_media[-L:] if L else dataset.history_media[:0]
        pad = np.zeros((L - len(past),) + dataset.media.shape[1:])
        x = np.concatenate([pad, past, dataset.media]) / self.scaling.media_scale
        alpha = d["alpha"][..., None] ** np.arange(L + 1)  # (S, C, L+1)
        weights = alpha / alpha.sum(axis=-1, keepdims=True)
        T = dataset.n_time
        adstock = sum(
            weights[:, None, None, :, lag] * x[L - lag : L - lag + T] for lag in range(L + 1)
        )
        power = d["slope"][:, None, None, :]
        num = adstock**power
        return num / (num + d["ec"][:, None, None, :] ** power)

    def _scaled_parts(self, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
        """(baseline + controls (S, T, G), media terms (S, T, G, C)) on Meridian's kpi scale."""
        self._check(dataset)
        d, s = self.draws, self.scaling
        rows = np.clip(dataset.time_index - self.train.time_index[0], 0, d["mu_t"].shape[1] - 1)
        base = d["tau_g"][:, None, :] + d["mu_t"][:, rows, None]
        if dataset.n_controls:
            std = np.where(s.control_std > 0, s.control_std, np.inf)  # Meridian: 0/0 -> 0
            z = (dataset.controls - s.control_mean) / std  # (T, G, K)
            base = base + np.einsum("tgk,sgk->stg", z, d["gamma_gc"])
        media = self._media_effect(dataset) * d["beta_gm"][:, None, :, :]
        return base, media

    def _to_target(self, scaled: np.ndarray, shift: float) -> np.ndarray:
        s = self.scaling
        geo_axis = (slice(None),) + (None,) * (scaled.ndim - 3)
        return (scaled * s.kpi_std + shift) * s.population[geo_axis]

    def expected(self, dataset: Dataset) -> np.ndarray:
        base, media = self._scaled_parts(dataset)
        return self._to_target(base + media.sum(axis=-1), self.scaling.kpi_mean)

    def contributions(self, dataset: Dataset) -> np.ndarray:
        return self._to_target(self._scaled_parts(dataset)[1], 0.0)

    def _sd(self) -> np.ndarray:
        """Residual sd in target units (S, 1, G)."""
        return (self.draws["sigma"] * self.scaling.kpi_std * self.scaling.population)[:, None, :]

    def predict(self, dataset: Dataset, seed: int = 0) -> np.ndarray:
        mean = self.expected(dataset)
        noise = np.random.default_rng(seed).standard_normal(mean.shape)
        return mean + self._sd() * noise

    def log_likelihood(self, dataset: Dataset) -> np.ndarray:
        return stats.norm.logpdf(dataset.target[None], self.expected(dataset), self._sd())

    def parameters(self) -> tuple[dict[str, np.ndarray], dict[str, tuple[str, ...]]]:
        """``adstock_alpha`` (also under mmmlab's name ``geometric_alpha``), ``hill_slope``
        and Meridian's ``ec_m`` (channel,); ``hill_half_saturation_spend`` (geo, channel) in
        media units of Meridian's normalised adstock; ``max_effect`` (geo, channel), the
        per-period contribution at full saturation, and ``sigma`` (geo,) in target units."""
        d, s = self.draws, self.scaling
        unit = s.kpi_std * s.population[:, None]
        values = {
            "adstock_alpha": d["alpha"],
            "geometric_alpha": d["alpha"],
            "hill_slope": d["slope"],
            "ec_m": d["ec"],
            "hill_half_saturation_spend": d["ec"][:, None, :] * s.media_scale,
            "max_effect": d["beta_gm"] * unit,
            "sigma": self._sd()[:, 0, :],
        }
        dims = {k: ("channel",) for k in ("adstock_alpha", "geometric_alpha", "hill_slope", "ec_m")}
        dims |= {"hill_half_saturation_spend": ("geo", "channel"), "max_effect": ("geo", "channel")}
        return values, dims | {"sigma": ("geo",)}
