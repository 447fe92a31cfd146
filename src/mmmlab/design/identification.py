"""Can the data tell a channel apart? Warnings a recommendation carries in its rationale.

- spend correlation: channels whose spend (summed over geos) correlates above `CORR_LIMIT`;
- VIF: the variance inflation factor of a channel's spend against the others'
  (diagonal of the inverse correlation matrix), above `VIF_LIMIT`;
- contraction: ``1 − var_posterior / var_prior`` of the channel's ROAS; below
  `CONTRACTION_LIMIT` the data hardly informed the channel and its posterior is its prior.

The prior's draws come from the model's own prior distributions (`models.mmm`), shaped like
a posterior so a `Fit` built on them reads them the same way (`prior_fit`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mmmlab.inference.fit import Fit
from mmmlab.inference.programs import PROGRAMS
from mmmlab.models.mmm import Structure, _channel_prior, effect_prior

CORR_LIMIT = 0.7
VIF_LIMIT = 10.0
CONTRACTION_LIMIT = 0.1


@dataclass(frozen=True)
class Identification:
    """Diagnostics per channel (C,): `corr` (C, C) of spend, `vif`, `contraction`, and
    `warnings`: channel -> the sentences its rationale carries."""

    channels: tuple[str, ...]
    corr: np.ndarray
    vif: np.ndarray
    contraction: np.ndarray
    warnings: dict[str, list[str]]

    def to_json(self) -> dict:
        return {
            ch: {
                "vif": float(self.vif[i]),
                "contraction": float(self.contraction[i]),
                "max_corr": float(np.max(np.delete(np.abs(self.corr[i]), i), initial=0.0)),
                "warnings": self.warnings[ch],
            }
            for i, ch in enumerate(self.channels)
        }


# The prior's Beta/Gamma samplers run once per design; XLA's backend optimisation took 3.9 s
# of their compile and saves 0.03 s of their run (the same draws at level 0, 1.8 s to compile).
QUICK_COMPILE = {"xla_backend_optimization_level": 0}


def prior_fit(fit: Fit, draws: int, seed: int = 0) -> Fit:
    """`fit` whose media-curve sites and channel effects (all the response and ROAS read)
    are `draws` draws of the model's own priors (`models.mmm`); every other site keeps the
    posterior's first `draws` draws (tiled when fewer), and the lift tests are dropped."""
    s = fit.structure
    run, _ = PROGRAMS.get(
        ("design.prior", s.key, draws),
        lambda: jax.jit(
            lambda k, share: _prior(s, share, k, draws), compiler_options=QUICK_COMPILE
        ),
    )
    prior = run(jax.random.PRNGKey(seed), jnp.asarray(fit.scaling.spend_share))
    rows = np.arange(draws) % fit.num_draws
    post = {k: v[rows] for k, v in fit.flat_posterior().items()}
    sites = post | {k: np.asarray(v) for k, v in prior.items()}
    return replace(
        fit, posterior={k: v[None] for k, v in sites.items()}, sample_stats={}, lift_tests=()
    )


def _prior(s: Structure, spend_share: jax.Array, key: jax.Array, draws: int) -> dict:
    """`draws` draws (draws, k) of each media site and of the effects, as the model's plates
    draw them."""
    cfg, channels = s.config, list(s.channels)
    keys = iter(jax.random.split(key, len(s.media_sites) + 3))

    def sample(prior: Any, size: int) -> jax.Array:
        return prior.expand((size,)).sample(next(keys), (draws,))

    out = {
        site: sample(_channel_prior(cfg, site, [channels[i] for i in idx]), len(idx))
        for site, idx in s.media_sites
    }
    out["effect"] = sample(effect_prior(cfg, channels, spend_share), len(channels))
    if s.n_geos > 1:
        out["effect_geo_sd"] = sample(_channel_prior(cfg, "effect_geo_sd", channels), len(channels))
        out["effect_geo_z"] = jax.random.normal(next(keys), (draws, len(channels), s.n_geos))
    return out


def identification(
    spend: np.ndarray, channels: tuple[str, ...], roas_post: np.ndarray, roas_prior: np.ndarray
) -> Identification:
    """Diagnostics from spend (T, G, C) and ROAS draws (S, C) of posterior and prior."""
    x = spend.sum(axis=1)  # (T, C)
    live = x.std(axis=0) > 0
    corr = np.eye(len(channels))
    if live.sum() > 1:
        corr[np.ix_(live, live)] = np.corrcoef(x[:, live].T)
    vif = np.full(len(channels), np.nan)
    if live.sum() > 1:
        vif[live] = np.diag(np.linalg.pinv(corr[np.ix_(live, live)]))
    contraction = 1.0 - np.nanvar(roas_post, axis=0) / np.nanvar(roas_prior, axis=0)
    warnings: dict[str, list[str]] = {ch: [] for ch in channels}
    for i, ch in enumerate(channels):
        for j, other in enumerate(channels):
            if i != j and abs(corr[i, j]) > CORR_LIMIT:
                warnings[ch].append(
                    f"spend correlates {corr[i, j]:+.2f} with {other}: the fit can trade one "
                    "for the other"
                )
        if vif[i] > VIF_LIMIT:
            warnings[ch].append(f"VIF {vif[i]:.1f} > {VIF_LIMIT:g}: collinear with the others")
        if contraction[i] < CONTRACTION_LIMIT:
            warnings[ch].append(
                f"prior→posterior contraction {contraction[i]:.0%} < {CONTRACTION_LIMIT:.0%}: "
                "the data hardly informed this channel (its belief is its prior)"
            )
    return Identification(channels, corr, vif, contraction, warnings)
