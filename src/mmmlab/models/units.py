"""Model-scale parameters of the additive MMM in the data's own units, by name and dims.

Fitted posteriors and simulated truths pass through this one function, so a recovery metric
compares like with like even though each model fixes its scale on its own training window.
"""

from __future__ import annotations

import numpy as np

from mmmlab.models.mmm import Structure, geo_effects
from mmmlab.models.scaling import Scaling

SPEND_UNIT_SITES = ("hill_half_saturation", "michaelis_menten_half_saturation", "tanh_scale")


def natural_params(
    params: dict[str, np.ndarray],
    s: Structure,
    scaling: Scaling,
) -> tuple[dict[str, np.ndarray], dict[str, tuple[str, ...]]]:
    """Parameters in target and media units, with the name of each axis.

    Parameters
    ----------
    params : site -> (*batch, *site_shape) on the model scale (batch: e.g. posterior draws)
    s : the model structure the sites belong to
    scaling : how the data map to the model scale (target, media and control divisors,
        training length)

    Returns
    -------
    values : name -> (*batch, *dims): adstock and saturation parameters per channel (NaN
        where a channel uses another family), ``<site>_spend`` (geo, channel) for those in
        media units, ``effect`` (geo, channel) as the average contribution per period,
        ``intercept``, ``baseline_level``, ``sigma`` and ``trend_per_period`` (geo,),
        ``seasonality`` (geo, fourier) and ``trend_delta_per_period`` (geo, changepoint) in
        target units, ``control`` (geo, control) per unit of the control, and the unit-free
        ``effect_geo_sd``, ``nu`` and ``noise_rho``.
    dims : name -> axis names ("channel", "geo", "fourier", "control", "changepoint")
    """
    C, G = len(s.channels), s.n_geos
    y_scale, media_scale = scaling.y_scale, scaling.media_scale
    out: dict[str, np.ndarray] = {}
    dims: dict[str, tuple[str, ...]] = {}
    batch = np.asarray(params["intercept"]).shape[:-1]
    for site, idx in s.media_sites:
        value = np.full(batch + (C,), np.nan)
        value[..., list(idx)] = np.asarray(params[site])
        out[site], dims[site] = value, ("channel",)
        if site in SPEND_UNIT_SITES:
            out[f"{site}_spend"] = value[..., None, :] * media_scale
            dims[f"{site}_spend"] = ("geo", "channel")
    pooled = ("effect", "effect_geo_sd", "effect_geo_z")
    effect = geo_effects({k: np.asarray(params[k]) for k in pooled if k in params}, G)
    effect = np.broadcast_to(effect, batch + (G, C))
    out["effect"], dims["effect"] = effect * y_scale[:, None], ("geo", "channel")
    intercept = np.asarray(params["intercept"])
    out["intercept"], dims["intercept"] = intercept * y_scale, ("geo",)
    out["baseline_level"] = (intercept - effect.sum(axis=-1)) * y_scale
    dims["baseline_level"] = ("geo",)
    out["sigma"], dims["sigma"] = np.asarray(params["sigma"]) * y_scale, ("geo",)
    geo = y_scale.reshape(-1)  # (G,)
    if "trend_slope" in params:
        slope = np.asarray(params["trend_slope"])[..., None]
        out["trend_per_period"], dims["trend_per_period"] = slope * geo / scaling.t_span, ("geo",)
    if "trend_delta" in params:
        delta = np.asarray(params["trend_delta"])[..., None, :] * geo[:, None] / scaling.t_span
        out["trend_delta_per_period"] = delta
        dims["trend_delta_per_period"] = ("geo", "changepoint")
    if "seasonality" in params:
        season = np.asarray(params["seasonality"])[..., None, :] * geo[:, None]
        out["seasonality"], dims["seasonality"] = season, ("geo", "fourier")
    if "control" in params:
        per_unit = geo[:, None] / scaling.control_std  # (G, K)
        out["control"] = np.asarray(params["control"])[..., None, :] * per_unit
        dims["control"] = ("geo", "control")
    for site in ("effect_geo_sd", "nu", "noise_rho"):
        if site in params:
            out[site] = np.asarray(params[site])
            dims[site] = ("channel",) if site == "effect_geo_sd" else ()
    return out, dims
