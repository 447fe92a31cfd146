"""Where chains start: the prior's centre, optimised towards the posterior mode, and a
Laplace approximation there for the first metric.

Without it, warmup begins far out with an identity metric while the posterior's scales span
orders of magnitude (seasonality coefficients ~0.01, geo deviations ~1): the first adaptation
window then crawls at a tiny step size with hundreds of leapfrog steps per draw, most of the
cost of a fit. MAP (`inference.optimize`) is the same search without the Laplace step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import random
from jax.flatten_util import ravel_pytree
from numpyro.distributions.transforms import biject_to
from numpyro.handlers import seed, substitute, trace
from numpyro.optim import Adam

from mmmlab.inference.laplace import laplace_at

OPTIMIZER_STEPS = 3000


class Start(NamedTuple):
    """Where a chain begins: unconstrained position by site (with a leading chain axis when
    stacked) and the initial inverse mass matrix (D, D), or its diagonal (D,)."""

    position: dict
    inverse_mass: jnp.ndarray


class Optima(NamedTuple):
    """The optimised starts of a multi-start search: potential (M,) and point (M, D) of each
    (non-finite potential: the optimiser failed there)."""

    potential: jnp.ndarray
    points: jnp.ndarray


def _prior_center(site: dict) -> jnp.ndarray | None:
    """A central value of a latent site's prior (its mean, or the image of 0 when undefined)."""
    if site["type"] != "sample" or site.get("is_observed"):
        return None
    fn = site["fn"]
    shape = fn.shape(site["kwargs"].get("sample_shape", ()))
    try:
        center = jnp.broadcast_to(fn.mean, shape)
    except (NotImplementedError, ValueError):
        center = None
    transform = biject_to(fn.support)
    # The unconstrained space may be smaller than the value (a simplex of K has K - 1).
    fallback = transform(jnp.zeros(transform.inverse_shape(shape)))
    if center is None:
        return fallback
    return jnp.where(jnp.isfinite(center), center, fallback)


def prior_center_init(
    model: Callable, args: tuple, rng_key: jax.Array, radius: float
) -> dict[str, jnp.ndarray]:
    """Unconstrained initial point: each prior's mean, jittered by ``U(-radius, radius)``.

    No random prior draws (samplers of Gamma and Beta variates are slow to compile), so it
    adds little to the compiled init program.
    """
    tr = trace(substitute(seed(model, rng_key), substitute_fn=_prior_center)).get_trace(*args)
    z0 = {}
    latent = sorted(n for n, s in tr.items() if s["type"] == "sample" and not s["is_observed"])
    for i, name in enumerate(latent):
        site = tr[name]
        unconstrained = biject_to(site["fn"].support).inv(site["value"])
        noise = random.uniform(random.fold_in(rng_key, i), jnp.shape(unconstrained))
        z0[name] = unconstrained + (2.0 * noise - 1.0) * radius
    return z0


def minimize(f: Callable[[jnp.ndarray], jnp.ndarray], x0: jnp.ndarray, num_steps: int):
    """Minimise `f` from `x0` (D,) with Adam (`numpyro.optim.Adam`), its learning rate
    decaying geometrically from 0.1 to 0.001 over `num_steps`.

    Robust where quasi-Newton line searches give up on badly scaled posteriors; a few
    milliseconds for an MMM. Non-finite gradients are treated as zero.
    """
    rates = jnp.geomspace(0.1, 0.001, num_steps)
    adam = Adam(lambda i: rates[i])
    grad = jax.grad(f)

    def step(_: int, state: Any) -> Any:
        g = grad(adam.get_params(state))
        return adam.update(jnp.where(jnp.isfinite(g), g, 0.0), state)

    return adam.get_params(jax.lax.fori_loop(0, num_steps, step, adam.init(x0)))


def laplace_start(
    potential: Callable[[dict], jnp.ndarray], z0: dict, rng_key: jax.Array, dense: bool
) -> Start:
    """One chain's start from a Laplace approximation around the mode nearest `z0`.

    Adam from `z0` towards the mode, the potential's Hessian there, and a start drawn from
    that Gaussian (`laplace_at`). If the optimiser fails, the chain starts at `z0` with an
    identity metric.
    """
    flat0, unravel = ravel_pytree(z0)

    def f(flat: jnp.ndarray) -> jnp.ndarray:
        return potential(unravel(flat))

    mode = minimize(f, flat0, OPTIMIZER_STEPS)
    ok = jnp.all(jnp.isfinite(mode)) & (f(mode) <= f(flat0))
    mode = jnp.where(ok, mode, flat0)
    gauss = laplace_at(f, mode, dense)
    ok = ok & gauss.ok
    start = mode + gauss.vectors @ (random.normal(rng_key, flat0.shape) * gauss.scale)
    fallback = jnp.eye(flat0.size) if dense else jnp.ones(flat0.size)
    inverse_mass = jnp.where(ok, gauss.inverse_mass, fallback)
    return Start(unravel(jnp.where(ok, start, flat0)), inverse_mass)


def best_mode_starts(
    potential: Callable[[dict], jnp.ndarray], z0: dict, keys: jax.Array, dense: bool
) -> tuple[Start, Optima]:
    """Starts for every chain near the best of several optimised points.

    z0 : M starting points (sites stacked on a leading axis); keys : (C,) one per chain.
    Returns the C starts (positions stacked, one inverse mass matrix) and the M optima.
    Chains started in different local modes of a multimodal posterior never meet, so R-hat
    flags them; starting all of them at the best mode samples that mode (the other optima are
    returned so that competing modes can be reported rather than hidden).
    """
    unravel = ravel_pytree(jax.tree_util.tree_map(lambda a: a[0], z0))[1]
    flat0 = jax.vmap(lambda z: ravel_pytree(z)[0])(z0)

    def f(flat: jnp.ndarray) -> jnp.ndarray:
        value = potential(unravel(flat))
        return jnp.where(jnp.isfinite(value), value, jnp.inf)

    modes = jax.vmap(lambda x: minimize(f, x, OPTIMIZER_STEPS))(flat0)
    values = jax.vmap(f)(modes)
    values = jnp.where(jnp.all(jnp.isfinite(modes), axis=1), values, jnp.inf)
    best = modes[jnp.argmin(values)]
    gauss = laplace_at(f, best, dense)

    def jitter(key: jax.Array) -> dict:
        return unravel(best + gauss.vectors @ (random.normal(key, best.shape) * gauss.scale))

    positions = jax.vmap(jitter)(jax.vmap(lambda k: random.fold_in(k, 2))(keys))
    return Start(positions, gauss.inverse_mass), Optima(values, modes)
