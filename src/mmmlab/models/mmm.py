"""The additive Bayesian MMM: one NumPyro function for fitting, prediction and simulation.

``y[t, g] = intercept[g] + trend[t] + seasonality[t] + controls[t, g] @ gamma
            + sum_c effect[g, c] * (s_c[t, g] / mean_train(s_c[:, g]) - 1) + noise[t, g]``
with ``s_c = saturation_c(adstock_c(x_c))``: `effect` is a channel's average contribution per
period over training, and the media terms are centred so `intercept` is the level with media
at its average (the baseline is ``intercept - sum_c effect``). See docs/model.md for why.

National data is the one-geo case. With several geos, intercept and noise are per geo and the
channel effects are pooled across geos (non-centred log-normal spread around `effect`); adstock
and saturation shapes, trend, seasonality and control effects are shared.

Everything runs on the model scale fixed by `Scaling` (from the training window): target over
its per-geo mean, media over its per-geo, per-channel mean, controls standardised, time in
units of the training length. `ModelData` carries arrays only, so one compiled sampler serves
every dataset of the same shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from mmmlab.data import Dataset
from mmmlab.models.config import ROAS, ModelConfig
from mmmlab.transforms import (
    ADSTOCK_PARAMS,
    SATURATION_PARAMS,
    adstock_weights,
    lag_stack,
    saturation,
)

Array = jnp.ndarray

# The adstock and saturation run in float32: they are most of a gradient's cost (the lagged
# media are the largest array), and in float32 the CPU's vector units take twice the lanes.
# Measured on medium_business (156 weeks, 8 geos, 8 channels): 136 -> 61 us per gradient of
# the media path. Saturated media come back as float64, so the likelihood, the sums over
# periods and everything the sampler accumulates keep full precision; simulators, whose
# answer key must be exact, bind with float64.
MEDIA_DTYPE = jnp.float32


class ModelData(NamedTuple):
    """Arrays the model reads, on the model scale (a JAX pytree; shapes are the cache key).

    media_lags : (C, T, G, L) lagged media, float32 when fitting (`MEDIA_DTYPE`):
        ``media_lags[c, t, g, l] = x[t - l, g, c]``, with
        the rows before the window taken from its history (zeros before the data begin).
        Channel-major and lag-minor, so the adstock is one batched matrix-vector product
        over contiguous lags and the saturation runs on (C, T, G), whose gradient sums over
        contiguous rows. Measured against (C, L, T, G) with the curves on (T, G, C), value
        and gradient of the whole potential: growing_business 77 -> 45 us, medium_business
        150 -> 116 us, large_business 3.5 -> 2.9 ms.
    fourier : (T, F) seasonality features
    controls : (T, G, K) standardised controls
    t : (T,) time in units of the training length, 0 mid-way through training
    changepoints : (n_cp,) changepoint locations on the `t` scale
    spend_share : (C,) each channel's training spend over the training target (`Scaling`)
    reference_lags : (C, T_train, G, L) training `media_lags` when this window is not the
        training window (channel effects are training-window averages); None while fitting.
    """

    media_lags: Array
    fourier: Array
    controls: Array
    t: Array
    changepoints: Array
    spend_share: Array
    reference_lags: Array | None = None


@dataclass(frozen=True)
class Scaling:
    """How data maps to the model scale; fixed on the training window and reused everywhere.

    y_scale : (G,) target divisor per geo; media_scale : (G, C) media divisor;
    control_mean, control_std : (G, K); t_origin : time_index of the training start;
    t_span : number of training periods; changepoints : (n_cp,) on the `t` scale;
    spend_share : (C,) spend over the target's absolute sum, both summed over training
        periods and geos: a ROAS prior times it is the prior of `effect` (None in fits saved
        before it existed).
    """

    y_scale: np.ndarray
    media_scale: np.ndarray
    control_mean: np.ndarray
    control_std: np.ndarray
    t_origin: int
    t_span: int
    changepoints: np.ndarray
    spend_share: np.ndarray | None = None

    @classmethod
    def fit(cls, train: Dataset, config: ModelConfig) -> Scaling:
        """Scaling from the training window."""
        y_scale = np.abs(train.target).mean(axis=0)
        y_scale = np.where(y_scale > 0, y_scale, 1.0)
        media = train.media
        per_geo = media.mean(axis=0)  # (G, C)
        overall = media.mean(axis=(0, 1))  # (C,)
        overall = np.where(overall > 0, overall, 1.0)
        media_scale = np.where(per_geo > 0, per_geo, overall)
        mean = train.controls.mean(axis=0)
        std = train.controls.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        n = config.n_changepoints if config.trend == "piecewise" else 0
        changepoints = np.linspace(0.0, 1.0, n + 2)[1:-1] - 0.5
        total = np.abs(train.target).sum()
        spend_share = train.spend.sum(axis=(0, 1)) / (total if total > 0 else 1.0)
        return cls(
            y_scale=y_scale,
            media_scale=media_scale,
            control_mean=mean,
            control_std=std,
            t_origin=int(train.time_index[0]),
            t_span=max(train.n_time, 1),
            changepoints=changepoints,
            spend_share=spend_share,
        )

    def to_json(self) -> dict[str, Any]:
        return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Scaling:
        arrays = {
            "y_scale", "media_scale", "control_mean", "control_std", "changepoints", "spend_share"
        }  # fmt: skip
        return cls(
            **{
                k: np.asarray(v, dtype=float) if k in arrays and v is not None else v
                for k, v in raw.items()
            }
        )


def fourier_features(dates: Any, frequency: str, config: ModelConfig) -> np.ndarray:
    """Seasonality features (T, F): yearly modes, plus weekly modes for daily data."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    days = dates.astype(np.int64).astype(float)  # days since 1970-01-01
    cols = []
    periods = [(365.25, config.yearly_seasonality)]
    if frequency == "daily":
        periods.append((7.0, config.weekly_seasonality))
    for period, n_modes in periods:
        for k in range(1, n_modes + 1):
            angle = 2.0 * np.pi * k * days / period
            cols += [np.sin(angle), np.cos(angle)]
    return np.stack(cols, axis=1) if cols else np.zeros((len(days), 0))


def prepare(
    dataset: Dataset, config: ModelConfig, scaling: Scaling, media_dtype: Any = MEDIA_DTYPE
) -> ModelData:
    """Model-scale arrays for any window of data (train or later) under a fixed `scaling`.

    `media_dtype` is the precision of the lagged media and so of the whole adstock and
    saturation path (see `MEDIA_DTYPE`); everything else stays float64.
    """
    lead = config.l_max - 1
    history = dataset.history_media[-lead:] if lead else dataset.history_media[:0]
    pad = np.zeros((lead - len(history), dataset.n_geos, dataset.n_channels))
    media = np.concatenate([pad, history, dataset.media]) / scaling.media_scale
    controls = (dataset.controls - scaling.control_mean) / scaling.control_std
    t = (dataset.time_index - scaling.t_origin) / scaling.t_span - 0.5
    share = scaling.spend_share
    return ModelData(
        media_lags=jnp.asarray(
            lag_stack(media, config.l_max).transpose(3, 1, 2, 0).copy(), dtype=media_dtype
        ),
        fourier=jnp.asarray(fourier_features(dataset.dates, dataset.frequency, config)),
        controls=jnp.asarray(controls),
        t=jnp.asarray(t, dtype=float),
        changepoints=jnp.asarray(scaling.changepoints),
        spend_share=jnp.ones(dataset.n_channels) if share is None else jnp.asarray(share),
    )


def scaled_target(dataset: Dataset, scaling: Scaling) -> Array:
    """Target (T, G) on the model scale."""
    return jnp.asarray(dataset.target / scaling.y_scale)


# ------------------------------------------------------------------------------ the model
class Structure(NamedTuple):
    """The static part of a model, i.e. what compiles. Hashable: part of the compile cache key.

    groups : (adstock, saturation, channel indices) with one vectorised media path each
    media_sites : (site, channel indices) for every adstock/saturation parameter site
    """

    config: ModelConfig
    channels: tuple[str, ...]
    n_geos: int
    groups: tuple[tuple[str, str, tuple[int, ...]], ...]
    media_sites: tuple[tuple[str, tuple[int, ...]], ...]

    @property
    def key(self) -> str:
        return f"{self.config.model_dump_json()}|{self.channels}|{self.n_geos}"


def structure_of(config: ModelConfig, channels: tuple[str, ...], n_geos: int) -> Structure:
    """Group channels by their (adstock, saturation) pair so each group runs vectorised."""
    unknown = sorted(set(config.channels) - set(channels))
    if unknown:
        raise ValueError(f"config.channels: unknown channel(s) {unknown}; data has {channels}")
    groups: dict[tuple[str, str], list[int]] = {}
    sites: dict[str, list[int]] = {}
    for i, ch in enumerate(channels):
        adstock, sat = config.transforms_of(ch)
        groups.setdefault((adstock, sat), []).append(i)
        for name, table in ((adstock, ADSTOCK_PARAMS), (sat, SATURATION_PARAMS)):
            for p in table[name]:
                sites.setdefault(f"{name}_{p}", []).append(i)
    return Structure(
        config=config,
        channels=tuple(channels),
        n_geos=n_geos,
        groups=tuple((a, s, tuple(idx)) for (a, s), idx in groups.items()),
        media_sites=tuple((site, tuple(idx)) for site, idx in sites.items()),
    )


def _channel_prior(config: ModelConfig, site: str, channels: list[str]) -> dist.Distribution:
    """One prior per channel: the site default, with per-channel overrides of the same family."""
    priors = [config.prior(site, ch) for ch in channels]
    family = {p.dist for p in priors}
    if len(family) > 1:
        raise ValueError(
            f"priors: per-channel overrides of {site!r} must keep one family, got {sorted(family)}"
        )
    if all(p == priors[0] for p in priors):
        return priors[0].build()
    fields = priors[0].model_dump(exclude={"dist"})
    return priors[0].build(**{k: jnp.asarray([getattr(p, k) for p in priors]) for k in fields})


def effect_prior(config: ModelConfig, channels: list[str], spend_share: Array) -> dist.Distribution:
    """The prior of `effect` (C,): the configured one, or a ROAS prior times `spend_share`.

    With `effect` a channel's average contribution over the per-geo mean target, ``ROAS =
    effect / spend_share`` when the channel's effect is the same in every geo.
    """
    if not config.roas_prior:
        return _channel_prior(config, "effect", channels)
    roas = _channel_prior(config, ROAS, channels)
    return dist.TransformedDistribution(
        roas, dist.transforms.AffineTransform(0.0, spend_share, domain=roas.support)
    )


def sample_params(s: Structure, spend_share: Array) -> dict[str, Array]:
    """Sample every parameter of the model; returns them by site name (model scale).

    spend_share : (C,) for a ROAS prior (`effect_prior`)."""
    cfg, G, C = s.config, s.n_geos, len(s.channels)
    params: dict[str, Array] = {}
    with numpyro.plate("geo", G):
        # One level and noise sd per geo, unpooled: each geo's target is scaled to mean 1, so
        # its level is pinned by its own data; pooling it would only add a funnel for NUTS.
        params["intercept"] = numpyro.sample("intercept", cfg.prior("intercept").build())
        params["sigma"] = numpyro.sample("sigma", cfg.prior("sigma").build())
    if cfg.trend != "none":
        params["trend_slope"] = numpyro.sample("trend_slope", cfg.prior("trend_slope").build())
    if cfg.trend == "piecewise":
        with numpyro.plate("changepoint", cfg.n_changepoints):
            params["trend_delta"] = numpyro.sample("trend_delta", cfg.prior("trend_delta").build())
    for site, idx in s.media_sites:
        with numpyro.plate(f"channel_{site}", len(idx)):
            prior = _channel_prior(cfg, site, [s.channels[i] for i in idx])
            params[site] = numpyro.sample(site, prior)
    with numpyro.plate("channel", C):
        prior = effect_prior(cfg, list(s.channels), spend_share)
        params["effect"] = numpyro.sample("effect", prior)
        if G > 1:
            prior = _channel_prior(cfg, "effect_geo_sd", list(s.channels))
            params["effect_geo_sd"] = numpyro.sample("effect_geo_sd", prior)
    if cfg.likelihood == "student_t":
        params["nu"] = numpyro.sample("nu", cfg.prior("nu").build())
    if G > 1:
        with numpyro.plate("geo_of_channel", G), numpyro.plate("channel_of_geo", C, dim=-2):
            params["effect_geo_z"] = numpyro.sample("effect_geo_z", dist.Normal(0.0, 1.0))
    return params


def geo_effects(params: dict[str, Array], n_geos: int) -> Array:
    """Channel effects per geo (G, C): pooled `effect` spread by non-centred geo deviations.

    `effect_geo_z` is the site as sampled, (C, G).
    """
    effect = params["effect"]
    if n_geos == 1:
        return effect[None, :]
    return effect * jnp.exp(params["effect_geo_sd"] * params["effect_geo_z"].T)


def components(params: dict[str, Array], data: ModelData, s: Structure) -> dict[str, Array]:
    """Additive parts of the mean on the model scale, each (T, G), and `media` (T, G, C)."""
    cfg, G = s.config, s.n_geos
    T = data.t.shape[0]
    intercept = params["intercept"]  # (G,)
    effects = geo_effects(params, G)  # (G, C)
    trend = jnp.zeros(T)
    if cfg.trend != "none":
        trend = params["trend_slope"] * data.t
    if cfg.trend == "piecewise":
        hinge = jnp.maximum(data.t[:, None] - data.changepoints[None, :], 0.0)
        trend = trend + hinge @ params["trend_delta"]
    seasonality = jnp.zeros(T)
    if data.fourier.shape[1]:
        seasonality = data.fourier @ params["seasonality"]
    controls = jnp.zeros((T, G))
    if data.controls.shape[2]:
        controls = data.controls @ params["control"]
    media = media_effect(data.media_lags, params, effects, s, data.reference_lags)
    return {
        "baseline": jnp.broadcast_to(intercept - effects.sum(axis=-1), (T, G)),
        "trend": jnp.broadcast_to(trend[:, None], (T, G)),
        "seasonality": jnp.broadcast_to(seasonality[:, None], (T, G)),
        "controls": controls,
        "media": media,
    }


def mean_of(parts: dict[str, Array]) -> Array:
    """Expected target (T, G) on the model scale: the sum of the additive parts."""
    return (
        parts["baseline"]
        + parts["trend"]
        + parts["seasonality"]
        + parts["controls"]
        + parts["media"].sum(axis=-1)
    )


def saturated_media(media_lags: Array, params: dict[str, Array], s: Structure) -> Array:
    """``saturation(adstock(x))`` per channel, (T, G, C) float64, from lagged media
    (C, T, G, L), computed in the precision of `media_lags`."""
    cfg = s.config
    dtype = media_lags.dtype
    position = {site: {ch: j for j, ch in enumerate(idx)} for site, idx in s.media_sites}
    parts, order = [], []
    for adstock, sat, idx in s.groups:

        def group_params(name: str, table: dict[str, tuple[str, ...]], idx=idx) -> dict:
            out = {}
            for p in table[name]:
                site = f"{name}_{p}"
                where = [position[site][i] for i in idx]
                value = params[site]
                out[p] = value if where == list(range(value.shape[-1])) else value[..., where]
            return out

        weights = adstock_weights(
            adstock, group_params(adstock, ADSTOCK_PARAMS), cfg.l_max, cfg.normalize_adstock
        )
        lags = media_lags if len(s.groups) == 1 else media_lags[np.asarray(idx)]
        adstocked = jnp.einsum("ctgl,lc->ctg", lags, weights.astype(dtype))
        curve = group_params(sat, SATURATION_PARAMS)
        curve = {k: v.astype(dtype)[..., None, None] for k, v in curve.items()}
        parts.append(saturation(sat, adstocked, curve))
        order.extend(idx)
    shaped = parts[0] if len(parts) == 1 else jnp.concatenate(parts)[np.argsort(order)]
    return shaped.transpose(1, 2, 0).astype(jnp.result_type(float))


def media_effect(
    media_lags: Array,
    params: dict[str, Array],
    effect: Array,
    s: Structure,
    reference_lags: Array | None = None,
) -> Array:
    """Per-channel contribution (T, G, C) on the model scale.

    `effect` (G, C) is each channel's average contribution per period over the training
    window, so ``beta = effect / mean_t saturation(adstock(x_train))``. This makes the
    sampled parameter the channel's ROAS up to known constants: the data pin it down
    directly, and the saturation shape no longer trades off against the scale along a curved
    ridge. `reference_lags` is the training window's lagged media; None means this window
    is the training window itself.
    """
    shaped = saturated_media(media_lags, params, s)
    reference = shaped if reference_lags is None else saturated_media(reference_lags, params, s)
    norm = reference.mean(axis=0)  # (G, C)
    safe = jnp.where(norm > 0, norm, 1.0)
    return jnp.where(norm > 0, effect / safe, 0.0) * shaped


def mmm(data: ModelData, s: Structure, y: Array | None = None) -> None:
    """The additive MMM as a NumPyro model. `y` (T, G) on the model scale, or None to simulate.

    Sample sites: the parameters of `sample_params`, plus `seasonality` (F,), `control` (K,)
    and the observed `y` (T, G).
    """
    cfg = s.config
    params = sample_params(s, data.spend_share)
    F, K = data.fourier.shape[1], data.controls.shape[2]
    if F:
        with numpyro.plate("fourier", F):
            params["seasonality"] = numpyro.sample("seasonality", cfg.prior("seasonality").build())
    if K:
        with numpyro.plate("control_dim", K):
            params["control"] = numpyro.sample("control", cfg.prior("control").build())
    mu = mean_of(components(params, data, s))
    sigma = params["sigma"]
    if cfg.likelihood == "student_t":
        noise = dist.StudentT(params["nu"], mu, sigma)
    else:
        noise = dist.Normal(mu, sigma)
    numpyro.sample("y", noise.to_event(2), obs=y)


class Bound(NamedTuple):
    """A model bound to a training window: everything a sampler or simulator needs.

    model : ``model(data, y=None)``, the NumPyro model with its structure fixed
    structure, scaling : static structure and the training-window scaling
    data, y : model-scale arrays and target (T, G) of the window
    """

    model: Any
    structure: Structure
    scaling: Scaling
    data: ModelData
    y: Array


def bind(dataset: Dataset, config: ModelConfig, media_dtype: Any = MEDIA_DTYPE) -> Bound:
    """Fix scaling and structure on `dataset` (the training window) and bind the model
    (`media_dtype`: see `prepare`)."""
    scaling = Scaling.fit(dataset, config)
    s = structure_of(config, dataset.channels, dataset.n_geos)
    if config.roas_prior and (scaling.spend_share <= 0).any():
        unspent = [
            ch for ch, v in zip(dataset.channels, scaling.spend_share, strict=True) if v <= 0
        ]
        raise ValueError(
            f"priors.roas: channel(s) {unspent} have no spend in the training window, so a "
            "ROAS prior says nothing about them; drop them from the data or use 'effect' priors"
        )

    def model(data: ModelData, y: Array | None = None) -> None:
        mmm(data, s, y)

    return Bound(
        model,
        s,
        scaling,
        prepare(dataset, config, scaling, media_dtype),
        scaled_target(dataset, scaling),
    )
