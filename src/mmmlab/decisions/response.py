"""The incremental response to a spend plan, for every posterior draw, through the model's own
media path: `models.mmm.saturated_media` times `models.mmm.media_coefficient`, as
`media_effect` computes it, with the coefficient (which reads only the training window)
computed once per draw rather than at every step of the optimizer.

For a plan (N, G, C) of spend from the horizon's start, a channel's incremental response is
its contribution over the N planned periods and the ``l_max - 1`` after them, with the plan,
minus the same with no new spend: the adstock carried in from before the start is in both,
so it shapes the curve (saturation) but is not credited to the plan, and the plan's own
carry-over past the horizon is counted. In target units, per draw and channel, summed over
periods and geos.

`Response.from_fit` reads a fit's posterior; `Response.from_truth` a simulated world's true
parameters (its answer key), so a plan is scored under the truth by the same function.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mmmlab.decisions.inputs import PlanError
from mmmlab.decisions.window import Horizon, future_window, plan_horizon
from mmmlab.inference.programs import PROGRAMS
from mmmlab.models.config import ModelConfig
from mmmlab.models.mmm import (
    Structure,
    geo_effects,
    media_coefficient,
    saturated_media,
    structure_of,
)
from mmmlab.models.scaling import Scaling, prepare
from mmmlab.transforms import lag_stack

if TYPE_CHECKING:
    from mmmlab.data import Dataset
    from mmmlab.inference.fit import Fit
    from mmmlab.synth import Truth

COEFFICIENT_CHUNK = 2**24  # draws × T × G × C × L elements of training lags at once


class Curves(NamedTuple):
    """Arrays of the response (a JAX pytree, so compiled programs take them as arguments).

    params : media-curve sites on the model scale, (S, k) each
    coefficient : (S, G, C) `media_coefficient`: the channel effect (target units) over its
        training mean of the saturated media
    base_lags : (C, T', G, L) lagged media of the T' = N + l_max - 1 periods with no new
        spend (the history carried in), model scale
    base : (S, G, C) the contribution over those periods with no new spend
    media_per_spend : (G, C) model-scale media per unit of spend
    lag_index : (L, T') which row of [l_max - 1 zeros, the T' periods] each lag reads
    """

    params: dict[str, jax.Array]
    coefficient: jax.Array
    base_lags: jax.Array
    base: jax.Array
    media_per_spend: jax.Array
    lag_index: jax.Array


def contributions(plan: jax.Array, curves: Curves, s: Structure) -> jax.Array:
    """Contributions (S, T', G, C) of every draw with `plan` (N, G, C) of spend added to
    the horizon's start, target units."""
    return jax.vmap(_one_draw, in_axes=(None, 0, 0, None, None))(
        plan, curves.params, curves.coefficient, curves, s
    )


def cell_response(plan: jax.Array, curves: Curves, s: Structure) -> jax.Array:
    """Incremental response (S, G, C) of every draw to `plan` (N, G, C), carry-over
    included."""
    return contributions(plan, curves, s).sum(axis=1) - curves.base


def response_per_draw(plans: jax.Array, curves: Curves, s: Structure) -> jax.Array:
    """Incremental response (S, G, C) with one plan per draw, `plans` (S, N, G, C): its
    gradient with respect to `plans` is each draw's own (one backward pass for all)."""
    parts = jax.vmap(_one_draw, in_axes=(0, 0, 0, None, None))(
        plans, curves.params, curves.coefficient, curves, s
    )
    return parts.sum(axis=1) - curves.base


def _one_draw(
    plan: jax.Array, params: dict, coefficient: jax.Array, curves: Curves, s: Structure
) -> jax.Array:
    # Lagged media are linear in the media: the history's lags plus the plan's own.
    n_lags, length = curves.lag_index.shape
    cells = plan.shape[1:]
    media = plan * curves.media_per_spend
    after = jnp.zeros((length - len(plan), *cells))
    padded = jnp.concatenate([jnp.zeros((n_lags - 1, *cells)), media, after])
    lags = curves.base_lags + padded[curves.lag_index].transpose(3, 1, 2, 0)
    return coefficient * saturated_media(lags, params, s)


@dataclass(frozen=True, eq=False)
class Response:
    """A model's response to spend plans over one horizon: `structure`, `horizon`, `curves`."""

    structure: Structure
    horizon: Horizon
    curves: Curves
    channels: tuple[str, ...]
    geos: tuple[str, ...]

    @property
    def num_draws(self) -> int:
        return int(self.curves.coefficient.shape[0])

    def by_cell(self, plan: np.ndarray) -> np.ndarray:
        """Incremental response (S, G, C) to `plan` (N, G, C) of spend, target units."""
        s = self.structure
        fn, _ = PROGRAMS.get(
            ("decisions.response", s.key), lambda: jax.jit(lambda p, c: cell_response(p, c, s))
        )
        return np.asarray(fn(jnp.asarray(plan, dtype=float), self.curves))

    def by_channel(self, plan: np.ndarray) -> np.ndarray:
        """Incremental response (S, C) to `plan` (N, G, C), summed over geos."""
        return self.by_cell(plan).sum(axis=1)

    @classmethod
    def from_fit(cls, fit: Fit, horizon: Horizon, draws: int | None = None) -> Response:
        """The posterior's response: every draw of `fit` (or `draws` of them, evenly
        spaced), scaled as the fit scales its data."""
        post = fit.flat_posterior()
        if draws is not None and draws < fit.num_draws:
            keep = np.linspace(0, fit.num_draws - 1, draws).round().astype(int)
            post = {k: v[keep] for k, v in post.items()}
        s = fit.structure
        pooled = {k: post[k] for k in ("effect", "effect_geo_sd", "effect_geo_z") if k in post}
        effect = geo_effects(pooled, s.n_geos) * fit.scaling.y_scale[:, None]
        return _build(fit.train, fit.config, s, fit.scaling, post, effect, horizon)

    @classmethod
    def from_truth(
        cls,
        truth: Truth,
        data: Dataset,
        config: ModelConfig,
        periods: int,
        start: str | None = None,
    ) -> Response:
        """The true response of a simulated world (one draw): its true parameters
        (`truth.params`, model scale and target units) through the same function.

        data : the world's data (its spend drives the response; exposure is ignored)
        config : the config the world was drawn under (`WorldSpec.model_config_of()`)
        """
        spend_only = replace(data, exposure=None, history_exposure=None)
        s = structure_of(config, spend_only.channels, spend_only.n_geos)
        missing = [site for site, _ in s.media_sites if site not in truth.params]
        if missing or "effect" not in truth.params:
            raise PlanError(
                f"truth {truth.name!r}: no {missing or ['effect']} among its parameters; it was "
                "not drawn by the additive MMM under this config"
            )
        params = {
            site: np.asarray(truth.params[site])[None, list(idx)] for site, idx in s.media_sites
        }
        effect = np.asarray(truth.params["effect"])[None]
        horizon = plan_horizon(spend_only, config.l_max, periods, start)
        scaling = Scaling.fit(spend_only, config)
        return _build(spend_only, config, s, scaling, params, effect, horizon)


def _build(
    train: Dataset,
    config: ModelConfig,
    s: Structure,
    scaling: Scaling,
    draws: dict[str, np.ndarray],
    effect: np.ndarray,
    horizon: Horizon,
) -> Response:
    """`Response` from draws of the media sites (S, k) and channel effects (S, G, C) in
    target units, for a model scaled by `scaling` on `train`."""
    params = {site: jnp.asarray(draws[site], dtype=float) for site, _ in s.media_sites}
    reference = prepare(train, config, scaling, jnp.float64).media_lags
    coefficient = _coefficient(params, jnp.asarray(effect, dtype=float), reference, s)
    window = future_window(train, horizon, np.zeros((horizon.periods, *horizon.current.shape[1:])))
    base_lags = prepare(window, config, scaling, jnp.float64).media_lags
    length = horizon.length
    empty = Curves(
        params=params,
        coefficient=coefficient,
        base_lags=base_lags,
        base=jnp.zeros(coefficient.shape),
        media_per_spend=jnp.asarray(horizon.media_per_spend / scaling.media_scale),
        lag_index=jnp.asarray(lag_stack(np.arange(config.l_max - 1 + length), config.l_max)),
    )
    zero = jnp.zeros((horizon.periods, *horizon.current.shape[1:]))
    base = contributions(zero, empty, s).sum(axis=1)
    return Response(s, horizon, empty._replace(base=base), train.channels, train.geos)


def _coefficient(
    params: dict[str, jax.Array], effect: jax.Array, reference: jax.Array, s: Structure
) -> jax.Array:
    """(S, G, C) `media_coefficient` of every draw: its effect over the training mean of its
    saturated media, computed once per draw (in batches that bound the memory)."""
    size = max(1, COEFFICIENT_CHUNK // max(int(np.prod(reference.shape)), 1))

    def one(draw: tuple[dict, jax.Array]) -> jax.Array:
        p, e = draw
        return media_coefficient(saturated_media(reference, p, s), e)

    return jax.lax.map(one, (params, effect), batch_size=min(size, len(effect)))
