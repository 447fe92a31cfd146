"""A fitted PyMC-Marketing model (`pymc_marketing.PymcMarketingBackend`) seen through the
backend interface: the draws its outputs need, collected from the posterior (`fit_from`), and
every output computed with numpy from them for any window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from mmmlab.data import Dataset
from mmmlab.inference.diagnostics import Diagnostics

DAYS_IN_YEAR = 365.25  # pymc_marketing.constants.DAYS_IN_YEAR


def _flat(post: Any, name: str, coords: dict[str, list], dims: tuple[str, ...]) -> np.ndarray:
    """Draws (S, *dims) of `name`, chains stacked, broadcast over the dims it lacks."""
    da = post[name]
    for d in dims:
        if d not in da.dims:
            da = da.expand_dims({d: coords[d]})
    da = da.sel({d: coords[d] for d in dims}).transpose("chain", "draw", *dims)
    values = np.asarray(da.values, dtype=float)
    return values.reshape((-1,) + values.shape[2:])


@dataclass(frozen=True, eq=False)
class PymcMarketingFit:
    """Posterior draws of a fitted PyMC-Marketing MMM, for any window of its data.

    draws : name -> (S, G, C) adstock_alpha, sat_sigma, sat_beta, sat_lam; (S, G) intercept,
        y_sigma; (S, G, K) gamma_control; (S, G, F) gamma_fourier -- on the model's scale
    native : name -> (S, *dims) the transformation parameters with their own dims
    channel_scale : (G, C) media divisor; target_scale : (G,) target divisor
    fourier : mode names ('sin_1', ..., 'cos_n') in gamma_fourier's order
    """

    draws: dict[str, np.ndarray]
    native: dict[str, tuple[np.ndarray, tuple[str, ...]]]
    channel_scale: np.ndarray
    target_scale: np.ndarray
    l_max: int
    fourier: tuple[str, ...]
    channels: tuple[str, ...]
    geos: tuple[str, ...]
    control_names: tuple[str, ...]
    diagnostics: Diagnostics
    num_chains: int
    idata: Any  # PyMC-Marketing's InferenceData, for inspection
    mmm: Any  # the fitted pymc_marketing MMM

    @property
    def n_features(self) -> int:
        """Regression terms as Robyn counts them: channels, controls and Fourier terms."""
        return len(self.channels) + len(self.control_names) + len(self.fourier)

    def _check(self, dataset: Dataset) -> None:
        for label, ours, theirs in (
            ("channels", self.channels, dataset.channels),
            ("geos", self.geos, dataset.geos),
            ("controls", self.control_names, dataset.control_names),
        ):
            if tuple(theirs) != ours:
                raise ValueError(
                    f"dataset {dataset.name!r} has {label} {list(theirs)}; the model was "
                    f"fitted on {list(ours)}"
                )

    def _scaled_media(self, dataset: Dataset) -> np.ndarray:
        """Each channel's effect (S, T, G, C) on the model's target scale: geometric adstock
        over the history and the window, then the Hill sigmoid."""
        self._check(dataset)
        scale = self.channel_scale
        full = np.concatenate([dataset.history_media, dataset.media])
        x = np.divide(full, scale, out=np.zeros_like(full), where=scale > 0)
        lags = self.l_max
        start = len(dataset.history_media) + lags - 1  # row of the window's first period
        padded = np.concatenate([np.zeros((lags - 1,) + x.shape[1:]), x])
        alpha = self.draws["adstock_alpha"][:, None]  # (S, 1, G, C)
        weights = alpha ** np.arange(lags).reshape(1, -1, 1, 1)
        weights = weights / weights.sum(axis=1, keepdims=True)  # (S, L, G, C)
        T = dataset.n_time
        adstocked = np.zeros((len(alpha), T) + x.shape[1:])
        for lag in range(lags):
            adstocked += weights[:, lag, None] * padded[start - lag : start - lag + T][None]
        sigma = self.draws["sat_sigma"][:, None]
        beta = self.draws["sat_beta"][:, None]
        lam = self.draws["sat_lam"][:, None]
        return sigma * (special.expit(beta * (adstocked - lam)) - special.expit(-beta * lam))

    def _baseline(self, dataset: Dataset) -> np.ndarray:
        """Intercept + controls + yearly Fourier terms (S, T, G) on the model's scale."""
        d = self.draws
        base = d["intercept"][:, None, :] + np.einsum(
            "tgk,sgk->stg", dataset.controls, d["gamma_control"]
        )
        if self.fourier:
            x = 2 * np.pi * np.asarray(dataset.dates.day_of_year, float) / DAYS_IN_YEAR
            waves = {"sin": np.sin, "cos": np.cos}
            modes = np.stack(
                [waves[w](int(k) * x) for w, k in (m.split("_") for m in self.fourier)], axis=1
            )  # (T, F), named like PyMC-Marketing's fourier_mode coordinate
            base = base + np.einsum("tf,sgf->stg", modes, d["gamma_fourier"])
        return base

    def contributions(self, dataset: Dataset) -> np.ndarray:
        """Draws (S, T, G, C) of each channel's contribution in target units."""
        return self._scaled_media(dataset) * self.target_scale[:, None]

    def expected(self, dataset: Dataset) -> np.ndarray:
        """Draws (S, T, G) of the expected target."""
        scaled = self._baseline(dataset) + self._scaled_media(dataset).sum(axis=-1)
        return scaled * self.target_scale

    def _sigma(self) -> np.ndarray:
        return (self.draws["y_sigma"] * self.target_scale)[:, None, :]  # (S, 1, G)

    def predict(self, dataset: Dataset, seed: int = 0) -> np.ndarray:
        """Posterior predictive draws (S, T, G): expected target plus Normal noise."""
        mean = self.expected(dataset)
        noise = np.random.default_rng(seed).standard_normal(mean.shape)
        return mean + noise * self._sigma()

    def log_likelihood(self, dataset: Dataset) -> np.ndarray:
        """Pointwise Normal log-likelihood (S, T, G) of `dataset`'s target."""
        return stats.norm.logpdf(dataset.target[None], self.expected(dataset), self._sigma())

    def parameters(self) -> tuple[dict[str, np.ndarray], dict[str, tuple[str, ...]]]:
        """Draws (S, *dims): ``adstock_alpha`` (decay; also as mmmlab's ``geometric_alpha``),
        ``saturation_beta`` (slope per unit
        of scaled media), ``saturation_lam`` (midpoint in scaled media) with their own dims;
        ``saturation_lam_spend`` (geo, channel) that midpoint in media units;
        ``saturation_sigma`` (geo, channel) the sigmoid's scale, ``intercept`` and ``sigma``
        (geo,), ``control`` (geo, control) per unit of control, ``seasonality`` (geo,
        fourier) -- in target units."""
        y = self.target_scale
        values = {name: value for name, (value, _) in self.native.items()}
        dims = {name: d for name, (_, d) in self.native.items()}
        d = self.draws
        derived = {
            "saturation_lam_spend": (d["sat_lam"] * self.channel_scale, ("geo", "channel")),
            "saturation_sigma": (d["sat_sigma"] * y[:, None], ("geo", "channel")),
            "intercept": (d["intercept"] * y, ("geo",)),
            "sigma": (d["y_sigma"] * y, ("geo",)),
            "control": (d["gamma_control"] * y[:, None], ("geo", "control")),
            "seasonality": (d["gamma_fourier"] * y[:, None], ("geo", "fourier")),
        }
        for name, (value, dim) in derived.items():
            values[name], dims[name] = value, dim
        # the decay under mmmlab's name, where its dims are the truth's (per channel)
        values["geometric_alpha"], dims["geometric_alpha"] = self.native["adstock_alpha"]
        return values, dims


def fit_from(mmm: Any, idata: Any, train: Dataset, p: dict[str, Any], diag: Diagnostics):
    """Collect the draws the outputs need; deterministic parameters (a non-centred
    saturation_sigma) are recomputed from the free ones, as PyMC-Marketing's fit does."""
    import pymc as pm

    model = mmm.model
    wanted = [
        v.name
        for v in model.deterministics
        if v.name.startswith(("adstock_", "saturation_")) and v.name not in idata.posterior
    ]
    post = idata.posterior
    if wanted:
        post = pm.compute_deterministics(
            post, var_names=wanted, model=model, merge_dataset=True, progressbar=False
        )
    coords = {
        "geo": list(train.geos),
        "channel": list(train.channels),
        "control": list(train.control_names),
        "fourier_mode": list(post["gamma_fourier"].coords["fourier_mode"].values)
        if "gamma_fourier" in post
        else [],
    }
    sizes = {"chain": post.sizes["chain"], "draw": post.sizes["draw"]}
    empty = {
        "gamma_control": np.zeros((sizes["chain"] * sizes["draw"], train.n_geos, 0)),
        "gamma_fourier": np.zeros((sizes["chain"] * sizes["draw"], train.n_geos, 0)),
    }
    names = {
        "adstock_alpha": ("adstock_alpha", ("geo", "channel")),
        "sat_sigma": ("saturation_sigma", ("geo", "channel")),
        "sat_beta": ("saturation_beta", ("geo", "channel")),
        "sat_lam": ("saturation_lam", ("geo", "channel")),
        "intercept": ("intercept_contribution", ("geo",)),
        "y_sigma": ("y_sigma", ("geo",)),
        "gamma_control": ("gamma_control", ("geo", "control")),
        "gamma_fourier": ("gamma_fourier", ("geo", "fourier_mode")),
    }
    draws = {
        key: _flat(post, name, coords, dims) if name in post else empty[key]
        for key, (name, dims) in names.items()
    }
    native = {}
    for name in ("adstock_alpha", "saturation_beta", "saturation_lam"):
        own = tuple(d for d in post[name].dims if d not in ("chain", "draw"))
        native[name] = (_flat(post, name, coords, own), own)
    scales = mmm.scalers.sel(geo=coords["geo"], channel=coords["channel"])
    return PymcMarketingFit(
        draws=draws,
        native=native,
        channel_scale=np.asarray(scales["_channel"].transpose("geo", "channel").values, float),
        target_scale=np.asarray(scales["_target"].values, float).reshape(train.n_geos),
        l_max=p["l_max"],
        fourier=tuple(coords["fourier_mode"]),
        channels=train.channels,
        geos=train.geos,
        control_names=train.control_names,
        diagnostics=diag,
        num_chains=diag.num_chains,
        idata=idata,
        mmm=mmm,
    )
