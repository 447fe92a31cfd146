"""The Laplace approximation at a mode: the potential's Hessian by batched central differences
of its gradient, its eigen-decomposition, start jitter scales and an inverse mass matrix for
NUTS (`inference.starts` starts chains from it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

HESSIAN_BATCH = 128  # gradients evaluated side by side once 2·D exceeds HESSIAN_FULL_BATCH
HESSIAN_FULL_BATCH = 256


def gradient_jacobian(grad: Callable, x: jnp.ndarray, step: float = 1e-5) -> jnp.ndarray:
    """Hessian (D, D) by central differences of the gradient, batched over directions.

    Compiles to one batched gradient: a third of the program `jax.hessian` (forward over
    reverse mode) builds, which matters because init compiles on every new model shape.
    Memory grows with the batch (each direction holds the model's intermediates), so past
    `HESSIAN_FULL_BATCH` directions they go `HESSIAN_BATCH` at a time: a 50-geo × 30-channel
    model (D ≈ 2100) needed 42 GiB all at once.
    """
    eye = jnp.eye(x.size) * step
    points = jnp.concatenate([x + eye, x - eye])
    if len(points) <= HESSIAN_FULL_BATCH:
        both = jax.vmap(grad)(points)
    else:
        both = jax.lax.map(grad, points, batch_size=HESSIAN_BATCH)
    return (both[: x.size] - both[x.size :]).T / (2.0 * step)


class Laplace(NamedTuple):
    """A Gaussian around a mode: eigenvectors (D, D) of the potential's Hessian, start jitter
    scales (D,) and the inverse mass matrix (D, D) or its diagonal (D,); ok: all finite."""

    vectors: jnp.ndarray
    scale: jnp.ndarray
    inverse_mass: jnp.ndarray
    ok: jnp.ndarray


def laplace_at(f: Callable, mode: jnp.ndarray, dense: bool, floor: float = 1e-2) -> Laplace:
    """The Laplace approximation of ``exp(-f)`` at `mode` (eigenvalues floored at `floor`;
    an identity metric if the Hessian is not finite).

    Start jitter stays within the Gaussian but no more than one unit along flat or
    non-convex directions (floored eigenvalues), which would otherwise throw a start far out.
    """
    hessian = gradient_jacobian(jax.grad(f), mode)
    ok = jnp.all(jnp.isfinite(hessian))
    hessian = jnp.where(ok, 0.5 * (hessian + hessian.T), jnp.eye(mode.size))
    values, vectors = jnp.linalg.eigh(hessian)
    values = jnp.maximum(values, floor)
    inverse_mass = (vectors / values) @ vectors.T
    if not dense:
        inverse_mass = jnp.diag(inverse_mass)
    return Laplace(vectors, jnp.minimum(1.0 / jnp.sqrt(values), 1.0), inverse_mass, ok)
