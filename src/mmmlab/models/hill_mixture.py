"""Hill-mixture MMMs: total media spend, un-normalised geometric adstock, and a response that
is one Hill curve or a mixture of K, marginalised over each period's component.

``y_t ~ sum_k w_k Normal(b_t + A_k s_t^n_k / (k_k^n_k + s_t^n_k), sigma)`` with baseline
``b_t = intercept + slope * t_std`` and ``s_t = x_t + alpha s_{t-1}``.

Kinds (`KINDS`): `single_hill` (K = 1); `mixture_k2` (independent components); `mixture_k3`
(hierarchical, non-centred log-A and log-n around shared means); `sparse_k5` (a sparse
Dirichlet(1/K) prior on the weights, so unneeded components empty out). Components are
ordered by half-saturation point, which removes label switching.

Priors are empirical Bayes on the training window (the published defaults): N(ybar, 2 sd_y)
on the mean level of the target (see `mean_media`), slope N(0, sd_y), log A located at
log(0.3 range_y), sigma HalfNormal(sd_y), half-saturation located at the median adstocked
spend (at alpha = 0.5), alpha Beta(2, 2). `t_std` uses the training window's mean and sd of
the time index for every window.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from mmmlab.transforms import geometric_weights, hill

KINDS = {"single_hill": 1, "mixture_k2": 2, "mixture_k3": 3, "sparse_k5": 5}
HYPER = ("ybar", "sd_y", "log_a0", "log_k0")


class MixtureData(NamedTuple):
    """Arrays of one window. lagged : (T, T) lower-triangular ``x[t - l]`` over the series
    from its first period (so adstock carries over); t_std : (T,); hyper : (4,) the
    empirical-Bayes constants `HYPER`."""

    lagged: jnp.ndarray
    t_std: jnp.ndarray
    hyper: jnp.ndarray


def lagged_matrix(x: np.ndarray) -> np.ndarray:
    """(T, T) with ``out[t, l] = x[t - l]`` for l <= t, else 0."""
    T = len(x)
    t, lag = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
    return np.where(lag <= t, x[np.clip(t - lag, 0, None)], 0.0)


def adstock(lagged: jnp.ndarray, alpha: jnp.ndarray) -> jnp.ndarray:
    """``s_t = x_t + alpha s_{t-1}`` exactly: the lag matrix (T, L) times the un-normalised
    geometric weights of `transforms`; alpha () gives (T,), alpha (S,) gives (T, S)."""
    return lagged @ geometric_weights(alpha, lagged.shape[1], normalize=False)


def hyperparameters(x_train: np.ndarray, y_train: np.ndarray) -> np.ndarray:
    """The empirical-Bayes constants (4,) from the training window."""
    s = np.asarray(adstock(jnp.asarray(lagged_matrix(x_train)), 0.5))
    y_range = max(float(np.ptp(y_train)), 1e-9)
    return np.array(
        [
            float(np.mean(y_train)),
            max(float(np.std(y_train)), 1e-9),
            np.log(0.3 * y_range),
            np.log(max(float(np.median(s)), 1e-9)),
        ]
    )


def sample_components(
    kind: str, hyper: jnp.ndarray, s: jnp.ndarray
) -> tuple[dict[str, jnp.ndarray], jnp.ndarray]:
    """Sample the component sites of `kind`; return the component parameters (K,) (as
    `derive` maps the sites) and their Hill curves (T, K) over s (T,), the adstocked spend
    of the training window.

    The maximum effects are sampled through the scale of the response they make over the
    window, ``log_response_sd = log A_k + c_k`` with ``c_k = log sd_t h_k(s_t)``
    (`response_shift`): the data pin that scale, while log A itself trades off against the
    curve's shape along a curved ridge (the baseline moving with the response at low spend).
    For fixed shapes it is a shift of log A, so the prior is the published one exactly:
    ``log A_k ~ N(log_a0, 1)``, or for `mixture_k3` ``log A_k = mu_A + tau_A z_k`` with
    ``mu_A ~ N(log_a0, 1)``, shifted at mu_A by the mean of c_k.
    """
    K = KINDS[kind]
    log_a0, log_k0 = hyper[2], hyper[3]
    raw: dict[str, jnp.ndarray] = {}
    if kind == "mixture_k3":
        raw["log_max_effect_sd"] = numpyro.sample("log_max_effect_sd", dist.HalfNormal(0.5))
        raw["log_hill_slope_mean"] = numpyro.sample(
            "log_hill_slope_mean", dist.Normal(np.log(1.5), 0.4)
        )
        raw["log_hill_slope_sd"] = numpyro.sample("log_hill_slope_sd", dist.HalfNormal(0.3))
        with numpyro.plate("component", K):
            raw["log_max_effect_z"] = numpyro.sample("log_max_effect_z", dist.Normal(0.0, 1.0))
            raw["log_hill_slope_z"] = numpyro.sample("log_hill_slope_z", dist.Normal(0.0, 1.0))
    else:
        with numpyro.plate("component", K):
            raw["hill_slope"] = numpyro.sample("hill_slope", dist.LogNormal(np.log(1.5), 0.4))
    raw["log_half_saturation_first"] = numpyro.sample(
        "log_half_saturation_first", dist.Normal(log_k0 - 0.3 * (K > 1), 1.0)
    )
    if K > 1:
        with numpyro.plate("gap", K - 1):
            raw["log_half_saturation_gap"] = numpyro.sample(
                "log_half_saturation_gap", dist.HalfNormal(0.5)
            )
        concentration = 1.0 / K if kind == "sparse_k5" else 2.0
        raw["weights"] = numpyro.sample("weights", dist.Dirichlet(jnp.full(K, concentration)))
    params = _shape(raw, kind)
    curves = hill_curves(params, s)
    shift = response_shift(curves)
    if kind == "mixture_k3":
        loc = log_a0 + shift.mean(axis=-1)
        raw["log_response_sd_mean"] = numpyro.sample("log_response_sd_mean", dist.Normal(loc, 1.0))
    else:
        with numpyro.plate("component", K):
            loc = log_a0 + shift
            raw["log_response_sd"] = numpyro.sample("log_response_sd", dist.Normal(loc, 1.0))
    return params | {"max_effect": _max_effect(raw, kind, shift)}, curves


def response_shift(curves: jnp.ndarray) -> jnp.ndarray:
    """(..., K) ``c_k = log sd_t h_k(s_t)``: the log sd over the training window of each
    component's Hill curve (`hill_curves`, (..., T, K)); floored so it stays finite."""
    return 0.5 * jnp.log(curves.var(axis=-2) + 1e-30)


def _shape(raw: dict, kind: str) -> dict[str, jnp.ndarray]:
    """weights, half_saturation k (increasing) and hill_slope n, each (..., K)."""
    K = KINDS[kind]
    if kind == "mixture_k3":
        hill_slope = jnp.exp(
            raw["log_hill_slope_mean"][..., None]
            + raw["log_hill_slope_sd"][..., None] * raw["log_hill_slope_z"]
        )
    else:
        hill_slope = raw["hill_slope"]
    first = raw["log_half_saturation_first"][..., None]
    if K > 1:
        steps = jnp.cumsum(raw["log_half_saturation_gap"], axis=-1)
        log_k = jnp.concatenate([first, first + steps], axis=-1)
        weights = raw["weights"]
    else:
        log_k, weights = first, jnp.ones_like(first)
    return {"weights": weights, "half_saturation": jnp.exp(log_k), "hill_slope": hill_slope}


def _max_effect(raw: dict, kind: str, shift: jnp.ndarray) -> jnp.ndarray:
    """(..., K) A_k from the sampled response scale and the shift c_k (`sample_components`)."""
    if kind == "mixture_k3":
        spread = raw["log_max_effect_sd"][..., None] * raw["log_max_effect_z"]
        return jnp.exp((raw["log_response_sd_mean"] - shift.mean(axis=-1))[..., None] + spread)
    return jnp.exp(raw["log_response_sd"] - shift)


def derive(raw: dict, kind: str, s: jnp.ndarray) -> tuple[dict[str, jnp.ndarray], jnp.ndarray]:
    """Component parameters (..., K) from the sampled sites (leading batch axes allowed):
    weights, max_effect A, half_saturation k (increasing) and hill_slope n; with their Hill
    curves (..., T, K) over s (..., T), the training window's adstocked spend under the same
    draws (see `sample_components`)."""
    params = _shape(raw, kind)
    curves = hill_curves(params, s)
    return params | {"max_effect": _max_effect(raw, kind, response_shift(curves))}, curves


# Parameters below are (..., K) per component and (...) otherwise, with leading batch axes
# (posterior draws) or none (inside the model); `curves` are `hill_curves` (..., T, K).
def hill_curves(params: dict, s: jnp.ndarray) -> jnp.ndarray:
    """(..., T, K) each component's Hill curve of the adstocked spend `s` (..., T)
    (`transforms.hill`); computed once per window, every quantity below reads them."""
    k, n = params["half_saturation"][..., None, :], params["hill_slope"][..., None, :]
    return hill(s[..., None], k, n)


def component_media(params: dict, curves: jnp.ndarray) -> jnp.ndarray:
    """(..., T, K) each component's media response ``A_k h_k(s_t)``."""
    return params["max_effect"][..., None, :] * curves


def mean_media(params: dict, curves: jnp.ndarray) -> jnp.ndarray:
    """(...) the expected media response averaged over the window, ``sum_k w_k mean_t A_k
    h_k(s_t)``.

    The model samples the mean `level` of the target and sets ``intercept = level - mean
    media``: centring the media term removes the ridge between the intercept and the maximum
    effects that otherwise forces NUTS into deep trees."""
    weighted = params["weights"] * params["max_effect"]
    return jnp.sum(weighted * curves.mean(axis=-2), axis=-1)


def component_means(params: dict, curves: jnp.ndarray, t_std: jnp.ndarray) -> jnp.ndarray:
    """(..., T, K) the expected target under each component; t_std (T,)."""
    base = params["intercept"][..., None] + params["slope"][..., None] * t_std
    return base[..., None] + component_media(params, curves)


def hill_mixture(data: MixtureData, y: jnp.ndarray | None = None, kind: str = "mixture_k2"):
    """The NumPyro model; `y` (T,) the target of the window in `data`."""
    ybar, sd_y = data.hyper[0], data.hyper[1]
    params = {
        "adstock_alpha": numpyro.sample("adstock_alpha", dist.Beta(2.0, 2.0)),
        "level": numpyro.sample("level", dist.Normal(ybar, 2.0 * sd_y)),
        "slope": numpyro.sample("slope", dist.Normal(0.0, sd_y)),
        "sigma": numpyro.sample("sigma", dist.HalfNormal(sd_y)),
    }
    s = adstock(data.lagged, params["adstock_alpha"])
    components, curves = sample_components(kind, data.hyper, s)  # curves once: 15% of a gradient
    params |= components
    params["intercept"] = params["level"] - mean_media(params, curves)
    means = component_means(params, curves, data.t_std)
    if y is None:  # generative: draw each period's component, then its noise
        noise = dist.Normal(means, params["sigma"])
        mixing = dist.Categorical(probs=params["weights"])
        numpyro.sample("y", dist.MixtureSameFamily(mixing, noise))
    else:
        numpyro.factor("y", log_likelihood(y, means, params["weights"], params["sigma"]).sum())


def log_likelihood(
    y: jnp.ndarray, means: jnp.ndarray, weights: jnp.ndarray, sigma: jnp.ndarray
) -> jnp.ndarray:
    """(T,) ``log sum_k w_k Normal(y_t | means_tk, sigma)``; y (T,), means (T, K), weights (K,).

    What ``MixtureSameFamily(Categorical(weights), Normal)`` computes, without its
    renormalisation of weights that already sum to 1: a fifth of a 5-component gradient.
    Weights floored at the smallest normal float keep the gradient finite where one is 0."""
    log_w = jnp.log(jnp.maximum(weights, jnp.finfo(weights.dtype).tiny))
    z = (y[:, None] - means) / sigma
    log_normal = -0.5 * z**2 - jnp.log(sigma) - 0.5 * jnp.log(2 * jnp.pi)
    return jax.nn.logsumexp(log_w + log_normal, axis=-1)
