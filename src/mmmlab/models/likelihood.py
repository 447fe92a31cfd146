"""The observation model: how the target scatters around its mean, Normal or Student-t.

One definition for every path: the NumPyro model's likelihood and a fit's log-likelihood
(`observation`), and the noise that a fit's predictions and the simulators draw from a NumPy
generator (`draw_noise`). Both work on any scale: `sigma` is in the units of the mean.
"""

from __future__ import annotations

from typing import Literal

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist

Array = jnp.ndarray
Likelihood = Literal["normal", "student_t"]


def observation(
    likelihood: Likelihood, mu: Array, sigma: Array, nu: Array | None = None
) -> dist.Distribution:
    """The target's distribution around its mean `mu` with noise scale `sigma`, e.g. mu
    (T, G) and sigma (G,); Student-t with `nu` degrees of freedom (all broadcasting)."""
    if likelihood == "normal":
        return dist.Normal(mu, sigma)
    if likelihood == "student_t":
        return dist.StudentT(nu, mu, sigma)
    raise ValueError(f"likelihood must be 'normal' or 'student_t', got {likelihood!r}")


def draw_noise(
    likelihood: Likelihood,
    rng: np.random.Generator,
    sigma: np.ndarray,
    shape: tuple[int, ...],
    nu: np.ndarray | float | None = None,
) -> np.ndarray:
    """Draws (shape) of the observation noise: standard normal or standard Student-t (`nu`
    broadcasting against `shape`) draws from `rng`, times `sigma`.

    The noise of `observation` with ``mu = 0``, drawn in NumPy: a simulated world's bytes are
    fixed by its seed, and NumPy's streams are the same on every machine.
    """
    if likelihood == "normal":
        return rng.standard_normal(shape) * sigma
    if likelihood == "student_t":
        return rng.standard_t(np.broadcast_to(nu, shape)) * sigma
    raise ValueError(f"likelihood must be 'normal' or 'student_t', got {likelihood!r}")
