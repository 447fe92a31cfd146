"""The Hill-mixture model's media response: the curve and adstock of `transforms`, evaluated
by the model's own functions inside NumPyro and over posterior draws in the backend."""

from __future__ import annotations

import jax
import numpy as np
import numpyro.distributions as dist

import mmmlab  # noqa: F401  (JAX settings)
from mmmlab.backends.hill_mixture import adstocked_draws, response_curve
from mmmlab.models.hill_mixture import (
    adstock,
    component_means,
    component_media,
    lagged_matrix,
    log_likelihood,
    mean_media,
)


def _draws(rng: np.random.Generator, S: int, K: int) -> dict[str, np.ndarray]:
    return {
        "weights": rng.dirichlet(np.ones(K), S),
        "max_effect": rng.gamma(5.0, 5.0, (S, K)),
        "half_saturation": np.sort(rng.lognormal(1.5, 0.3, (S, K)), axis=1),
        "hill_slope": rng.lognormal(0.3, 0.3, (S, K)),
        "intercept": rng.normal(50.0, 1.0, S),
        "slope": rng.normal(2.0, 0.1, S),
        "adstock_alpha": rng.uniform(0.2, 0.8, S),
    }


def test_media_response_is_the_hill_curve_for_every_draw():
    rng = np.random.default_rng(0)
    S, K, T = 4, 3, 12
    d = _draws(rng, S, K)
    s = rng.lognormal(1.5, 0.5, (S, T))
    A, k, n = d["max_effect"], d["half_saturation"], d["hill_slope"]
    expected = A[:, None, :] * s[..., None] ** n[:, None, :]
    expected /= k[:, None, :] ** n[:, None, :] + s[..., None] ** n[:, None, :]
    media = np.asarray(component_media(d, s))
    np.testing.assert_allclose(media, expected, rtol=1e-12)
    mean = np.einsum("sk,sk->s", d["weights"], expected.mean(axis=1))
    np.testing.assert_allclose(np.asarray(mean_media(d, s)), mean, rtol=1e-12)
    t_std = np.linspace(-1.7, 1.7, T)
    base = d["intercept"][:, None] + d["slope"][:, None] * t_std
    means = np.asarray(component_means(d, s, t_std))
    np.testing.assert_allclose(means, base[..., None] + expected, rtol=1e-12)
    one = {key: value[0] for key, value in d.items()}  # no batch axis, as inside the model
    np.testing.assert_allclose(np.asarray(component_media(one, s[0])), expected[0], rtol=1e-12)


def test_response_curve_is_the_weighted_mixture_at_each_level():
    rng = np.random.default_rng(1)
    d = _draws(rng, 5, 2)
    levels = np.array([1.0, 4.0, 9.0])
    curve = response_curve(d, levels)
    A, k, n, w = d["max_effect"], d["half_saturation"], d["hill_slope"], d["weights"]
    for q, level in enumerate(levels):
        direct = (w * A * level**n / (k**n + level**n)).sum(axis=1)
        np.testing.assert_allclose(curve[:, q], direct, rtol=1e-12)


def test_adstock_over_draws_is_the_recursion_for_each_alpha():
    rng = np.random.default_rng(2)
    x, start = rng.lognormal(1.5, 0.6, 30), 10
    alpha = np.array([0.0, 0.3, 0.9])
    s = adstocked_draws(x, start, alpha)
    assert s.shape == (3, 20)
    for row, a in zip(s, alpha, strict=True):
        recursion = np.zeros_like(x)
        for t in range(len(x)):
            recursion[t] = x[t] + (a * recursion[t - 1] if t else 0.0)
        np.testing.assert_allclose(row, recursion[start:], rtol=1e-12)
        single = np.asarray(adstock(lagged_matrix(x), a))[start:]
        np.testing.assert_allclose(row, single, rtol=1e-14)


def test_the_likelihood_is_numpyros_mixture_of_normals():
    """The model's hand-written mixture likelihood equals NumPyro's MixtureSameFamily, in
    value and gradient, and stays finite where a weight is exactly 0."""
    rng = np.random.default_rng(3)
    T, K = 30, 4
    y, means = rng.normal(50.0, 5.0, T), rng.normal(50.0, 5.0, (T, K))
    for weights in (rng.dirichlet(np.ones(K)), np.array([0.6, 0.0, 0.3, 0.1])):

        def numpyros(means, weights, sigma):
            mixing = dist.Categorical(probs=weights)
            return dist.MixtureSameFamily(mixing, dist.Normal(means, sigma)).log_prob(y).sum()

        def ours(means, weights, sigma):
            return log_likelihood(y, means, weights, sigma).sum()

        args = (means, weights, 4.0)
        np.testing.assert_allclose(ours(*args), numpyros(*args), rtol=1e-12)
        got, want = jax.grad(ours, (0, 2))(*args), jax.grad(numpyros, (0, 2))(*args)
        for ours_d, numpyros_d in zip(got, want, strict=True):
            np.testing.assert_allclose(ours_d, numpyros_d, rtol=1e-10, atol=1e-300)
        assert np.all(np.isfinite(jax.grad(ours, 1)(*args)))
