"""Model-scale parameters of the additive MMM in the data's own units, by name and dims.

Fitted posteriors and simulated truths pass through this one function, so a recovery metric
compares like with like even though each model fixes its scale on its own training window.
"""

from __future__ import annotations

import numpy as np

from mmmlab.models.mmm import Structure

SPEND_UNIT_SITES = ("hill_half_saturation", "michaelis_menten_half_saturation", "tanh_scale")


def natural_params(
    params: dict[str, np.ndarray],
    s: Structure,
    y_scale: np.ndarray,
    media_scale: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, tuple[str, ...]]]:
    """Parameters in target and media units, with the name of each axis.

    Parameters
    ----------
    params : site -> (*batch, *site_shape) on the model scale (batch: e.g. posterior draws)
    s : the model structure the sites belong to
    y_scale : (G,) target divisor; media_scale : (G, C) media divisor

    Returns
    -------
    values : name -> (*batch, *dims): adstock and saturation parameters per channel (NaN
        where a channel uses another family), ``<site>_spend`` (geo, channel) for those in
        media units, ``effect`` (geo, channel) as the average contribution per period,
        ``intercept`` and ``baseline_level`` and ``sigma`` (geo,) in target units, and the
        unit-free ``trend_slope``, ``seasonality``, ``control``, ``effect_geo_sd``, ``nu``.
    dims : name -> axis names ("channel", "geo", "fourier", "control", "changepoint")
    """
    C, G = len(s.channels), s.n_geos
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
    effect = np.asarray(params["effect"])[..., None, :]  # (*batch, 1, C)
    if G > 1:
        z = np.swapaxes(np.asarray(params["effect_geo_z"]), -1, -2)  # (*batch, G, C)
        effect = effect * np.exp(np.asarray(params["effect_geo_sd"])[..., None, :] * z)
    effect = np.broadcast_to(effect, batch + (G, C))
    out["effect"], dims["effect"] = effect * y_scale[:, None], ("geo", "channel")
    intercept = np.asarray(params["intercept"])
    out["intercept"], dims["intercept"] = intercept * y_scale, ("geo",)
    out["baseline_level"] = (intercept - effect.sum(axis=-1)) * y_scale
    dims["baseline_level"] = ("geo",)
    out["sigma"], dims["sigma"] = np.asarray(params["sigma"]) * y_scale, ("geo",)
    unit_free = {
        "trend_slope": (),
        "trend_delta": ("changepoint",),
        "seasonality": ("fourier",),
        "control": ("control",),
        "effect_geo_sd": ("channel",),
        "nu": (),
    }
    for site, axes in unit_free.items():
        if site in params:
            out[site], dims[site] = np.asarray(params[site]), axes
    return out, dims
