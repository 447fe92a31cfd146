"""Seconds-fast point and approximate fits: MAP (the posterior mode) and SVI."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoNormal
from numpyro.infer.util import constrain_fn, potential_energy
from numpyro.optim import Adam

from mmmlab.inference.programs import PROGRAMS
from mmmlab.inference.starts import minimize, prior_center_init


def fit_map(
    rng_key: jax.Array,
    key: str,
    model: Callable,
    model_args: tuple,
    num_draws: int = 1,
    num_starts: int = 4,
    num_steps: int = 4000,
) -> dict[str, np.ndarray]:
    """Posterior mode by Adam in unconstrained space from `num_starts` jittered starts.

    (Adam rather than BFGS: quasi-Newton line searches give up on these badly scaled
    posteriors.)

    Returns site -> (1, 1, *shape): the best optimum, shaped like a one-draw posterior.
    """
    del num_draws

    def solve(rng_key: jax.Array, args: tuple) -> tuple[jnp.ndarray, dict]:
        z0 = prior_center_init(model, args, rng_key, radius=0.5)
        flat0, unravel = ravel_pytree(z0)

        def objective(flat: jnp.ndarray) -> jnp.ndarray:
            return potential_energy(model, args, {}, unravel(flat))

        flat = minimize(objective, flat0, num_steps)
        value = objective(flat)
        value = jnp.where(jnp.isfinite(value), value, jnp.inf)
        return value, unravel(flat)

    program, _ = PROGRAMS.get(("map", key), lambda: jax.jit(jax.vmap(solve, in_axes=(0, None))))
    values, z = program(jax.random.split(rng_key, num_starts), model_args)
    best = int(jnp.argmin(values))
    z_best = jax.tree_util.tree_map(lambda v: v[best], z)
    params = constrain_fn(model, model_args, {}, z_best)
    return {k: np.asarray(v)[None, None] for k, v in params.items()}


def fit_svi(
    rng_key: jax.Array,
    key: str,
    model: Callable,
    model_args: tuple,
    num_draws: int = 1000,
    num_steps: int = 3000,
    learning_rate: float = 0.01,
) -> dict[str, np.ndarray]:
    """Mean-field Gaussian variational posterior (AutoNormal) fitted with Adam.

    Returns site -> (1, num_draws, *shape) draws from the fitted approximation.
    """
    del key
    guide = AutoNormal(model, init_scale=0.05)
    svi = SVI(model, guide, Adam(learning_rate), Trace_ELBO())
    key_fit, key_draw = jax.random.split(rng_key)
    result = svi.run(key_fit, num_steps, *model_args, progress_bar=False)
    draws = guide.sample_posterior(key_draw, result.params, sample_shape=(num_draws,))
    return {k: np.asarray(v)[None] for k, v in draws.items() if k != "y"}
