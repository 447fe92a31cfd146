"""Media transforms in pure JAX: adstock (carry-over) and saturation (diminishing returns).

Conventions
-----------
Media arrays have time on axis 0 and any trailing dims, e.g. ``x`` of shape (T, G, C).
Parameters broadcast against the trailing dims, e.g. ``alpha`` of shape (C,) or (G, C).
Every saturation maps ``[0, inf)`` onto ``[0, 1)``, so a channel's coefficient is its
maximum effect; every adstock is a causal convolution with lag weights ``w[0..l_max-1]``
and zeros assumed before the first row (prepend history rows to carry over earlier spend).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

Array = jnp.ndarray


# ---------------------------------------------------------------------------- adstock weights
def _lags(l_max: int, like: Array) -> Array:
    """Lags 0..l_max-1 shaped (L, 1, ..., 1) to broadcast against a parameter like `like`."""
    return jnp.arange(l_max, dtype=jnp.result_type(float)).reshape((l_max,) + (1,) * jnp.ndim(like))


def geometric_weights(alpha: Array, l_max: int, normalize: bool = True) -> Array:
    """Weights ``alpha**l`` for lags l = 0..l_max-1; shape (L, *alpha.shape)."""
    alpha = jnp.asarray(alpha, jnp.result_type(alpha, float))
    # exp(l log alpha), not power(alpha, l): its gradient is w * l / alpha, one product, where
    # power's takes a second power; 3.3 -> 0.7 us of a Hill-mixture gradient (README, Speed).
    # alpha = 0 gives (1, 0, 0, ...) exactly, with a finite gradient.
    lags = _lags(l_max, alpha)
    log_alpha = jnp.log(jnp.maximum(alpha, jnp.finfo(alpha.dtype).tiny))
    w = jnp.where(alpha > 0, jnp.exp(lags * log_alpha), lags == 0)
    return w / w.sum(axis=0) if normalize else w


def delayed_weights(alpha: Array, theta: Array, l_max: int, normalize: bool = True) -> Array:
    """Delayed adstock weights ``alpha**((l - theta)**2)``, peaking at lag `theta`; (L, ...)."""
    alpha, theta = jnp.broadcast_arrays(jnp.asarray(alpha), jnp.asarray(theta))
    w = jnp.power(alpha, (_lags(l_max, alpha) - theta) ** 2)
    return w / w.sum(axis=0) if normalize else w


def _weibull_scale(scale: Array, l_max: int, round_scale: bool) -> Array:
    # Robyn takes the `scale` quantile of the lags 1..l_max (linear interpolation) as the
    # Weibull scale, then rounds it. Rounding makes the weights flat in `scale`, which leaves
    # NUTS without a gradient, so it is optional here (on only to reproduce Robyn exactly).
    lam = 1.0 + jnp.asarray(scale) * (l_max - 1)
    return jnp.round(lam) if round_scale else lam


def weibull_cdf_weights(shape: Array, scale: Array, l_max: int, round_scale: bool = False) -> Array:
    """Robyn's weibull_cdf adstock weights: the Weibull survival function, cumulated.

    ``theta_1 = 1``, ``theta_l = 1 - F(l - 1)`` for l = 2..L with F the Weibull CDF of
    (`shape`, scale quantile), and the weights are ``cumprod(theta)``. `scale` lies in [0, 1].
    """
    shape, scale = jnp.broadcast_arrays(jnp.asarray(shape), jnp.asarray(scale))
    lam = _weibull_scale(scale, l_max, round_scale)
    bins = _lags(l_max, shape) + 1.0  # 1..L
    survival = jnp.exp(-jnp.power(bins[:-1] / lam, shape))  # 1 - F(1..L-1)
    theta = jnp.concatenate([jnp.ones_like(survival[:1]), survival], axis=0)
    return jnp.cumprod(theta, axis=0)


def weibull_pdf_weights(shape: Array, scale: Array, l_max: int, round_scale: bool = False) -> Array:
    """Robyn's weibull_pdf adstock weights: the Weibull density at lags 1..L, min-max scaled.

    Robyn min-max normalises the density over the window (largest weight 1, smallest 0).
    """
    shape, scale = jnp.broadcast_arrays(jnp.asarray(shape), jnp.asarray(scale))
    lam = _weibull_scale(scale, l_max, round_scale)
    bins = _lags(l_max, shape) + 1.0
    z = bins / lam
    log_pdf = jnp.log(shape / lam) + (shape - 1.0) * jnp.log(z) - jnp.power(z, shape)
    pdf = jnp.exp(log_pdf)
    lo, hi = pdf.min(axis=0), pdf.max(axis=0)
    return (pdf - lo) / jnp.maximum(hi - lo, 1e-12)


def convolve_lags(x: Array, weights: Array) -> Array:
    """Causal convolution ``y[t] = sum_l weights[l] * x[t - l]`` along axis 0.

    x: (T, ...); weights: (L, ...) broadcasting against x's trailing dims. Returns (T, ...).
    """
    l_max = weights.shape[0]
    T = x.shape[0]
    pad = jnp.concatenate([jnp.zeros((l_max - 1,) + x.shape[1:], x.dtype), x], axis=0)
    # A short Python loop over lags: XLA fuses it into one pass; l_max is small and static.
    out = weights[0] * x
    for lag in range(1, l_max):
        out = out + weights[lag] * pad[l_max - 1 - lag : l_max - 1 - lag + T]
    return out


def lag_stack(x: np.ndarray, l_max: int) -> np.ndarray:
    """Lagged copies ``out[l, t] = x[t + l_max - 1 - l]`` of x (L - 1 + T, ...) -> (L, T, ...).

    Give x with its L - 1 earlier rows in front (zeros where there is no history); then
    ``out[l, t]`` is the media l periods before window row t. Data only: computed once.
    """
    x = np.asarray(x)
    T = x.shape[0] - (l_max - 1)
    return np.stack([x[l_max - 1 - lag : l_max - 1 - lag + T] for lag in range(l_max)])


def geometric_adstock(x: Array, alpha: Array, l_max: int = 8, normalize: bool = True) -> Array:
    """Geometric carry-over with decay `alpha` in [0, 1); x (T, ...) -> (T, ...)."""
    return convolve_lags(x, geometric_weights(alpha, l_max, normalize))


def delayed_adstock(
    x: Array, alpha: Array, theta: Array, l_max: int = 8, normalize: bool = True
) -> Array:
    """Carry-over peaking `theta` periods after spend; x (T, ...) -> (T, ...)."""
    return convolve_lags(x, delayed_weights(alpha, theta, l_max, normalize))


def weibull_cdf_adstock(
    x: Array, shape: Array, scale: Array, l_max: int = 8, round_scale: bool = False
) -> Array:
    """Robyn's weibull_cdf carry-over; x (T, ...) -> (T, ...)."""
    return convolve_lags(x, weibull_cdf_weights(shape, scale, l_max, round_scale))


def weibull_pdf_adstock(
    x: Array, shape: Array, scale: Array, l_max: int = 8, round_scale: bool = False
) -> Array:
    """Robyn's weibull_pdf carry-over (allows a lagged peak); x (T, ...) -> (T, ...)."""
    return convolve_lags(x, weibull_pdf_weights(shape, scale, l_max, round_scale))


# ---------------------------------------------------------------------------- saturation
def hill(x: Array, half_saturation: Array, slope: Array) -> Array:
    """Hill curve ``x**S / (x**S + K**S)``; equals 1/2 at ``x = K``."""
    # Written as a logistic in log space: stable for x = 0 and large slopes. `sigmoid` (not
    # 1 / (1 + exp(-r))) keeps the gradient finite where exp(-r) overflows, e.g. x = 0 and
    # slope > ~11, whose NaN would survive the `where` and poison NUTS.
    log_ratio = slope * (jnp.log(jnp.maximum(x, 1e-30)) - jnp.log(half_saturation))
    return jnp.where(x > 0, jax.nn.sigmoid(log_ratio), 0.0)


def logistic(x: Array, lam: Array) -> Array:
    """Logistic saturation ``(1 - exp(-lam x)) / (1 + exp(-lam x))`` = ``tanh(lam x / 2)``."""
    return jnp.tanh(lam * x / 2.0)


def michaelis_menten(x: Array, half_saturation: Array) -> Array:
    """Michaelis-Menten curve ``x / (K + x)``; equals 1/2 at ``x = K``."""
    return x / (half_saturation + x)


def tanh(x: Array, scale: Array) -> Array:
    """Hyperbolic tangent saturation ``tanh(x / scale)``."""
    return jnp.tanh(x / scale)


# ---------------------------------------------------------------------------- registries
ADSTOCK_PARAMS: dict[str, tuple[str, ...]] = {
    "geometric": ("alpha",),
    "delayed": ("alpha", "theta"),
    "weibull_cdf": ("shape", "scale"),
    "weibull_pdf": ("shape", "scale"),
}
SATURATION_PARAMS: dict[str, tuple[str, ...]] = {
    "hill": ("half_saturation", "slope"),
    "logistic": ("lam",),
    "michaelis_menten": ("half_saturation",),
    "tanh": ("scale",),
}


def adstock_weights(
    name: str,
    params: dict[str, Array],
    l_max: int,
    normalize: bool,
    round_scale: bool = False,
) -> Array:
    """Lag weights (L, ...) of the adstock `name` with its parameters by name.

    `normalize` applies to geometric and delayed; `round_scale` to the Weibull adstocks.
    """
    if name == "geometric":
        return geometric_weights(params["alpha"], l_max, normalize)
    if name == "delayed":
        return delayed_weights(params["alpha"], params["theta"], l_max, normalize)
    if name == "weibull_cdf":
        return weibull_cdf_weights(params["shape"], params["scale"], l_max, round_scale)
    if name == "weibull_pdf":
        return weibull_pdf_weights(params["shape"], params["scale"], l_max, round_scale)
    raise KeyError(f"unknown adstock {name!r}; choose one of {sorted(ADSTOCK_PARAMS)}")


SATURATIONS: dict[str, Callable[..., Array]] = {
    "hill": hill,
    "logistic": logistic,
    "michaelis_menten": michaelis_menten,
    "tanh": tanh,
}


def saturation(name: str, x: Array, params: dict[str, Array]) -> Array:
    """Apply the saturation `name` to x with its parameters by name."""
    if name not in SATURATIONS:
        raise KeyError(f"unknown saturation {name!r}; choose one of {sorted(SATURATIONS)}")
    return SATURATIONS[name](x, *(params[p] for p in SATURATION_PARAMS[name]))
