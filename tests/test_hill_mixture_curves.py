"""The Hill-mixture model's media response: the curve and adstock of `transforms`, evaluated
by the model's own functions inside NumPyro and over posterior draws in the backend."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro import handlers
from numpyro.infer.util import log_density

import mmmlab  # noqa: F401  (JAX settings)
from mmmlab.backends.hill_mixture import adstocked_draws, response_curve
from mmmlab.models.hill_mixture import (
    KINDS,
    MixtureData,
    adstock,
    component_means,
    component_media,
    derive,
    hill_curves,
    hill_mixture,
    hyperparameters,
    lagged_matrix,
    log_likelihood,
    mean_media,
    response_shift,
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
    media = np.asarray(component_media(d, hill_curves(d, s)))
    np.testing.assert_allclose(media, expected, rtol=1e-12)
    mean = np.einsum("sk,sk->s", d["weights"], expected.mean(axis=1))
    np.testing.assert_allclose(np.asarray(mean_media(d, hill_curves(d, s))), mean, rtol=1e-12)
    t_std = np.linspace(-1.7, 1.7, T)
    base = d["intercept"][:, None] + d["slope"][:, None] * t_std
    means = np.asarray(component_means(d, hill_curves(d, s), t_std))
    np.testing.assert_allclose(means, base[..., None] + expected, rtol=1e-12)
    one = {key: value[0] for key, value in d.items()}  # no batch axis, as inside the model
    np.testing.assert_allclose(
        np.asarray(component_media(one, hill_curves(one, s[0]))), expected[0], rtol=1e-12
    )


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


def _published(data: MixtureData, y, kind: str) -> None:
    """The published model in its own coordinates: log A_k sampled directly (hierarchical and
    non-centred for `mixture_k3`), the intercept centred as in mmmlab's model."""
    K = KINDS[kind]
    ybar, sd_y, log_a0, log_k0 = data.hyper
    p = {
        "adstock_alpha": numpyro.sample("adstock_alpha", dist.Beta(2.0, 2.0)),
        "level": numpyro.sample("level", dist.Normal(ybar, 2.0 * sd_y)),
        "slope": numpyro.sample("slope", dist.Normal(0.0, sd_y)),
        "sigma": numpyro.sample("sigma", dist.HalfNormal(sd_y)),
    }
    if kind == "mixture_k3":
        mu_a = numpyro.sample("log_max_effect_mean", dist.Normal(log_a0, 1.0))
        tau_a = numpyro.sample("log_max_effect_sd", dist.HalfNormal(0.5))
        mu_n = numpyro.sample("log_hill_slope_mean", dist.Normal(np.log(1.5), 0.4))
        tau_n = numpyro.sample("log_hill_slope_sd", dist.HalfNormal(0.3))
    with numpyro.plate("component", K):
        if kind == "mixture_k3":
            z_a = numpyro.sample("log_max_effect_z", dist.Normal(0.0, 1.0))
            z_n = numpyro.sample("log_hill_slope_z", dist.Normal(0.0, 1.0))
            p["max_effect"] = jnp.exp(mu_a + tau_a * z_a)
            p["hill_slope"] = jnp.exp(mu_n + tau_n * z_n)
        else:
            p["max_effect"] = jnp.exp(numpyro.sample("log_max_effect", dist.Normal(log_a0, 1.0)))
            p["hill_slope"] = numpyro.sample("hill_slope", dist.LogNormal(np.log(1.5), 0.4))
    first = numpyro.sample("log_half_saturation_first", dist.Normal(log_k0 - 0.3 * (K > 1), 1.0))
    log_k, p["weights"] = first[None], jnp.ones(1)
    if K > 1:
        with numpyro.plate("gap", K - 1):
            gaps = numpyro.sample("log_half_saturation_gap", dist.HalfNormal(0.5))
        log_k = jnp.concatenate([log_k, first + jnp.cumsum(gaps)])
        concentration = 1.0 / K if kind == "sparse_k5" else 2.0
        p["weights"] = numpyro.sample("weights", dist.Dirichlet(jnp.full(K, concentration)))
    p["half_saturation"] = jnp.exp(log_k)
    s = adstock(data.lagged, p["adstock_alpha"])
    p["intercept"] = p["level"] - mean_media(p, hill_curves(p, s))
    numpyro.factor(
        "y",
        log_likelihood(
            y, component_means(p, hill_curves(p, s), data.t_std), p["weights"], p["sigma"]
        ).sum(),
    )


def test_the_model_is_the_published_one_in_other_coordinates():
    """mmmlab samples each maximum effect through the scale of its response over the window
    (``log A_k + log sd_t h_k``); for fixed shapes that is a shift, so the log density at the
    same parameters equals the published model's, for every kind."""
    rng = np.random.default_rng(4)
    x, t = rng.lognormal(1.5, 0.6, 60), np.arange(50.0)
    y = 40.0 + rng.normal(0.0, 3.0, 50)
    lagged = lagged_matrix(x)[10:]
    hyper = hyperparameters(x[10:], y)
    data = MixtureData(
        jnp.asarray(lagged), jnp.asarray((t - t.mean()) / t.std()), jnp.asarray(hyper)
    )
    for kind, K in KINDS.items():
        model = handlers.seed(functools.partial(hill_mixture, data, jnp.asarray(y), kind), 0)
        trace = handlers.trace(model).get_trace()
        ours = {
            k: v["value"]
            for k, v in trace.items()
            if v["type"] == "sample" and not v["is_observed"]
        }
        s = adstock(data.lagged, ours["adstock_alpha"])
        params, curves = derive(ours, kind, s)
        theirs = {k: v for k, v in ours.items() if not k.startswith("log_response_sd")}
        if kind == "mixture_k3":
            shift = response_shift(curves).mean()
            theirs["log_max_effect_mean"] = ours["log_response_sd_mean"] - shift
        else:
            theirs["log_max_effect"] = jnp.log(params["max_effect"])
        want, _ = log_density(_published, (data, jnp.asarray(y), kind), {}, theirs)
        got, _ = log_density(hill_mixture, (data, jnp.asarray(y)), {"kind": kind}, ours)
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=kind)
        assert params["max_effect"].shape == (K,)
