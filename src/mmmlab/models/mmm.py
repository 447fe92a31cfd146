"""The additive Bayesian MMM: one NumPyro function for fitting, prediction and simulation.

``y[t, g] = intercept[g] + trend[t] + seasonality[t] + controls[t, g] @ gamma
            + sum_c effect[g, c] * (s_c[t, g] / mean_train(s_c[:, g]) - 1) + noise[t, g]``
with ``s_c = saturation_c(adstock_c(x_c))``: `effect` is a channel's average contribution per
period over training, and the media terms are centred so `intercept` is the level with media
at its average (the baseline is ``intercept - sum_c effect``). See docs/model.md for why.

National data is the one-geo case. With several geos, intercept and noise are per geo and the
channel effects are pooled across geos (non-centred log-normal spread around `effect`); adstock
and saturation shapes, trend, seasonality and control effects are shared.

Everything runs on the model scale fixed by `Scaling` (`models.scaling`); the noise is the
observation model of `models.likelihood`. Simulators run these same functions with the
parameters fixed (`synth.world`, `synth.example`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from mmmlab.data import Dataset
from mmmlab.data.lift_tests import LiftExperiment
from mmmlab.models.config import ROAS, ModelConfig
from mmmlab.models.lift import prepare_lifts
from mmmlab.models.likelihood import target_distribution
from mmmlab.models.scaling import (
    MEDIA_DTYPE,
    LiftData,
    ModelData,
    Scaling,
    prepare,
    scaled_target,
)
from mmmlab.transforms import ADSTOCK_PARAMS, SATURATION_PARAMS, adstock_weights, saturation

Array = jnp.ndarray


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
    if cfg.noise == "ar1":
        params["noise_rho"] = numpyro.sample("noise_rho", cfg.prior("noise_rho").build())
    if G > 1:
        with numpyro.plate("geo_of_channel", G), numpyro.plate("channel_of_geo", C, dim=-2):
            params["effect_geo_z"] = numpyro.sample("effect_geo_z", dist.Normal(0.0, 1.0))
    return params


def geo_effects(params: dict[str, Array], n_geos: int) -> Array:
    """Channel effects per geo (..., G, C): the pooled `effect` (..., C) spread by non-centred
    geo deviations, ``effect * exp(effect_geo_sd * z)``; `effect_geo_z` is the site as
    sampled, (..., C, G). Leading axes are batch axes, e.g. posterior draws.

    NumPy arrays are computed with NumPy (simulators keep NumPy's exact values), others with JAX.
    """
    effect = params["effect"]
    if n_geos == 1:
        return effect[..., None, :]
    xp = np if isinstance(effect, np.ndarray) else jnp
    z = xp.swapaxes(params["effect_geo_z"], -1, -2)  # (..., G, C)
    return effect[..., None, :] * xp.exp(params["effect_geo_sd"][..., None, :] * z)


def components(params: dict[str, Array], data: ModelData, s: Structure) -> dict[str, Array]:
    """Additive parts of the mean on the model scale, each (T, G), and `media` (T, G, C)."""
    return decompose(params, data, s)[0]


def decompose(
    params: dict[str, Array], data: ModelData, s: Structure, per_channel: bool = True
) -> tuple[dict[str, Array], Array]:
    """`components`, and the media coefficients (G, C) they used (`media_coefficient`).

    ``per_channel=False`` gives `media` summed over channels, (T, G, 1): all the likelihood
    needs, and cheaper to differentiate. The channels' media stay (C, T, G) in the media's
    precision (`MEDIA_DTYPE`) and are summed over channels in it (`channel_sum`), without
    the (T, G, C) float64 copy: on large_business the potential's value and gradient took
    about 20% less CPU than the per-channel path (benchmarks/large_business.py), equal to it
    to float32 rounding (1e-8 relative; tests/test_media_sum.py).
    """
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
    shaped = shaped_media(data.media_lags, params, s)  # (C, T, G), the media's precision
    ref = data.reference_lags
    reference = shaped if ref is None else shaped_media(ref, params, s)
    beta = media_coefficient(reference, effects, axis=1)
    if per_channel:
        media = beta * shaped.transpose(1, 2, 0).astype(jnp.result_type(float))
    else:  # products and the sum over channels in the media's precision
        media = channel_sum(shaped, beta)[..., None]  # (T, G, 1)
    parts = {
        "baseline": jnp.broadcast_to(intercept - effects.sum(axis=-1), (T, G)),
        "trend": jnp.broadcast_to(trend[:, None], (T, G)),
        "seasonality": jnp.broadcast_to(seasonality[:, None], (T, G)),
        "controls": controls,
        "media": media,
    }
    return parts, beta


def mean_of(parts: dict[str, Array]) -> Array:
    """Expected target (..., T, G): the additive parts (..., T, G) in their order, then `media`
    (..., T, G, C) summed over channels. Any scale: the model's, or a simulator's target units
    with parts of its own (e.g. a confounder)."""
    additive = [v for k, v in parts.items() if k != "media"]
    total = additive[0]
    for part in additive[1:]:
        total = total + part
    return total + parts["media"].sum(axis=-1)


def channel_sum(shaped: Array, beta: Array) -> Array:
    """``sum_c beta[g, c] * shaped[c, t, g]``, (T, G) float64, from `shaped` (C, T, G) and
    `beta` (G, C): products and sum in the precision of `shaped`, one fused pass (a float64
    `dot_general` batched over geos took 30% more CPU with its gradient on large_business)."""
    return (
        (shaped * beta.T.astype(shaped.dtype)[:, None, :])
        .sum(axis=0)
        .astype(jnp.result_type(float))
    )


def saturated_media(media_lags: Array, params: dict[str, Array], s: Structure) -> Array:
    """``saturation(adstock(x))`` per channel, (T, G, C) float64, from lagged media
    (C, T, G, L), computed in the precision of `media_lags`."""
    shaped = shaped_media(media_lags, params, s)
    return shaped.transpose(1, 2, 0).astype(jnp.result_type(float))


def shaped_media(media_lags: Array, params: dict[str, Array], s: Structure) -> Array:
    """`saturated_media` as computed: (C, T, G) in the precision of `media_lags`."""
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
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts)[np.argsort(order)]


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
    return media_coefficient(reference, effect) * shaped


def media_coefficient(reference: Array, effect: Array, axis: int = 0) -> Array:
    """``beta`` (G, C): `effect` (G, C) over the mean of the training window's saturated
    media `reference` (T_train, G, C), or (C, T_train, G) with ``axis=1``; 0 for a channel
    with no media there."""
    wide = jnp.result_type(float)  # the mean in float64 whatever the media's precision
    norm = reference.mean(axis=0) if axis == 0 else reference.mean(axis=axis, dtype=wide).T
    safe = jnp.where(norm > 0, norm, 1.0)
    return jnp.where(norm > 0, effect / safe, 0.0)


def predicted_lift(params: dict[str, Array], beta: Array, lifts: LiftData, s: Structure) -> Array:
    """(N,) each lift test's lift over its `unit`: the media response with the test's spend
    change minus without, summed over the (period, geo) rows it measures, through the same
    adstock and saturation as the fit and the same coefficients `beta` (G, C)."""
    shaped = saturated_media(lifts.lags, params, s)[:, 0, :]  # (2R, C)
    rows = lifts.geo.shape[0]
    gain = (shaped[:rows] - shaped[rows:]) * (lifts.geo @ beta)  # (R, C)
    return lifts.weight @ gain.sum(axis=-1)


def mmm(data: ModelData, s: Structure, y: Array | None = None) -> None:
    """The additive MMM as a NumPyro model. `y` (T, G) on the model scale, or None to simulate.

    Sample sites: the parameters of `sample_params`, plus `seasonality` (F,), `control` (K,)
    and the observed `y` (T, G); with lift tests in `data.lifts`, the observed `lift` (N,),
    ``Normal(predicted_lift, lift_se)`` (all over each test's unit).
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
    parts, beta = decompose(params, data, s, per_channel=False)
    mu = mean_of(parts)
    noise = target_distribution(
        cfg.likelihood, mu, params["sigma"], params.get("nu"), params.get("noise_rho")
    )
    numpyro.sample("y", noise, obs=y)
    lifts = data.lifts
    if lifts is not None:  # y = None simulates the lift tests' readouts too
        expected = predicted_lift(params, beta, lifts, s)
        measured = None if y is None else lifts.lift
        numpyro.sample("lift", dist.Normal(expected, lifts.lift_se).to_event(1), obs=measured)


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


def bind(
    dataset: Dataset,
    config: ModelConfig,
    media_dtype: Any = MEDIA_DTYPE,
    lift_tests: Sequence[LiftExperiment] = (),
) -> Bound:
    """Fix scaling and structure on `dataset` (the training window) and bind the model
    (`media_dtype`: see `prepare`), calibrated on `lift_tests` when given."""
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

    data = prepare(dataset, config, scaling, media_dtype)
    if lift_tests:
        data = data._replace(lifts=prepare_lifts(lift_tests, dataset, config, scaling, media_dtype))
    return Bound(model, s, scaling, data, scaled_target(dataset, scaling))
