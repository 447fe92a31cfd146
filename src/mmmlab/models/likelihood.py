"""The observation model: how the target scatters around its mean, Normal or Student-t,
independent in time or AR(1).

One definition for every path: the NumPyro model's likelihood and a fit's log-likelihood
(`target_distribution`: `observation` for independent noise, `AR1` for noise correlated in
time), and the noise that a fit's predictions and the simulators draw from a NumPy generator
(`draw_noise`, then `ar1`). All work on any scale: `sigma` is in the units of the mean and is
the noise's marginal sd in both forms, so its prior means the same with or without AR(1).
"""

from __future__ import annotations

from typing import Literal

import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jax import lax
from numpyro.distributions import constraints

Array = jnp.ndarray
Likelihood = Literal["normal", "student_t"]
Noise = Literal["iid", "ar1"]


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


class AR1(dist.Distribution):
    """The target (..., T, G) around its mean `mu` with AR(1) noise along T.

    ``e[0] = sigma z[0]``, ``e[t] = rho e[t-1] + sigma sqrt(1 - rho²) z[t]`` with independent
    standard innovations z of the `likelihood` family: every period has marginal sd `sigma`
    (G,) and lag-1 autocorrelation `rho` (..., the batch shape; shared by the geos). The
    density is the product of each period's density given the period before.
    """

    support = constraints.independent(constraints.real, 2)

    def __init__(
        self,
        likelihood: Likelihood,
        mu: Array,
        sigma: Array,
        rho: Array,
        nu: Array | None = None,
        validate_args: bool | None = None,
    ):
        self.likelihood, self.mu, self.sigma, self.nu = likelihood, mu, sigma, nu
        self.rho = jnp.asarray(rho)
        batch = jnp.broadcast_shapes(jnp.shape(mu)[:-2], self.rho.shape)
        super().__init__(batch, jnp.shape(mu)[-2:], validate_args=validate_args)

    def _conditional(self, y: Array) -> dist.Distribution:
        """Each period's distribution given the period before, (..., T, G)."""
        rho = self.rho[..., None, None]
        residual = y - self.mu
        lagged = jnp.concatenate([jnp.zeros_like(residual[..., :1, :]), residual[..., :-1, :]], -2)
        first = jnp.arange(jnp.shape(y)[-2])[:, None] == 0  # (T, 1)
        scale = self.sigma * jnp.where(first, 1.0, jnp.sqrt(1.0 - rho**2))
        return observation(self.likelihood, self.mu + rho * lagged, scale, self.nu)

    def pointwise_log_prob(self, y: Array) -> Array:
        """(..., T, G) log density of each period given the one before (the first: marginal)."""
        return self._conditional(y).log_prob(y)

    def log_prob(self, y: Array) -> Array:
        return self.pointwise_log_prob(y).sum(axis=(-2, -1))

    def sample(self, key, sample_shape: tuple[int, ...] = ()) -> Array:
        shape = tuple(sample_shape) + self.batch_shape + self.event_shape
        z = observation(self.likelihood, jnp.zeros(shape), 1.0, self.nu).sample(key)
        rho = jnp.broadcast_to(self.rho, shape[:-2])[..., None]  # (..., 1)
        scale = jnp.sqrt(1.0 - rho**2)

        def step(prev: Array, z_t: Array) -> tuple[Array, Array]:
            e = rho * prev + scale * z_t
            return e, e

        zt = jnp.moveaxis(z, -2, 0)  # (T, ..., G)
        _, rest = lax.scan(step, zt[0], zt[1:])
        e = jnp.moveaxis(jnp.concatenate([zt[:1], rest]), 0, -2)
        return self.mu + self.sigma * e

    @property
    def mean(self) -> Array:
        return jnp.broadcast_to(self.mu, self.batch_shape + self.event_shape)


def target_distribution(
    likelihood: Likelihood,
    mu: Array,
    sigma: Array,
    nu: Array | None = None,
    rho: Array | None = None,
) -> dist.Distribution:
    """The target's distribution (..., T, G) as one event: `observation` of every period,
    independent, or `AR1` in time when `rho` (..., batch) is given."""
    if rho is None:
        return observation(likelihood, mu, sigma, nu).to_event(2)
    return AR1(likelihood, mu, sigma, rho, nu)


def pointwise_log_likelihood(noise: dist.Distribution, y: Array) -> Array:
    """(..., T, G) log-likelihood of each observation under `target_distribution`'s `noise`
    (for AR(1): given the period before)."""
    if isinstance(noise, AR1):
        return noise.pointwise_log_prob(y)
    return noise.base_dist.log_prob(y)


def ar1(innovations: np.ndarray, rho: np.ndarray | float, axis: int = 0) -> np.ndarray:
    """AR(1) series along `axis` of independent `innovations`: ``e[0] = z[0]``, ``e[t] = rho
    e[t-1] + sqrt(1 - rho²) z[t]``, so each period keeps the innovations' marginal sd and the
    lag-1 autocorrelation is `rho` (a float, or an array broadcasting against one period)."""
    z = np.moveaxis(innovations, axis, 0)
    out = np.empty_like(z)
    out[0] = z[0]
    scale = np.sqrt(1.0 - np.asarray(rho) ** 2)
    for t in range(1, len(z)):
        out[t] = rho * out[t - 1] + scale * z[t]
    return np.moveaxis(out, 0, axis)
