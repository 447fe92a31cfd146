"""The Hill-mixture worlds of the published "Hill Mixture MMM" benchmark, with their answer key.

One geo, one channel, ``T = 200`` weekly periods by default:

- spend ``x_t ~ LogNormal(1.5, 0.6)`` i.i.d. (log-mean and log-sd);
- un-normalised geometric adstock ``s_t = x_t + 0.5 s_{t-1}`` with ``s_0 = x_0``;
- baseline ``50 + 2 t_std``, with ``t_std = (t - mean(t)) / std(t)`` over ``t = 0..T-1``
  (population standard deviation, ``ddof=0``);
- each period draws a component ``z_t ~ Categorical(pi)`` and
  ``y_t = baseline_t + A_z s_t^n_z / (k_z^n_z + s_t^n_z) + eps_t``, ``eps_t ~ N(0, 3^2)``,
  with ``k_z = ratio_z * median(s)``. `hill_single` is the one-component case.

Randomness comes from ``np.random.default_rng(seed)`` in a fixed order: T spend draws, then
T uniforms that pick the components (inverse CDF of pi), then T noise draws. Every world
consumes the same draws, so one seed gives the same spend and the same noise in all four
worlds (common random numbers): only the media response differs between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import pandas as pd

from mmmlab.data import Dataset
from mmmlab.synth.truth import Truth, marginal_roas, total_roas
from mmmlab.transforms import convolve_lags, geometric_weights, hill

SPEND_LOG_MEAN = 1.5  # mean of log spend
SPEND_LOG_SD = 0.6  # standard deviation of log spend
ADSTOCK_ALPHA = 0.5  # geometric decay of the un-normalised adstock
INTERCEPT = 50.0
TREND_SLOPE = 2.0  # per standard deviation of the time index
NOISE_SD = 3.0
START_DATE = "2020-01-05"  # a Sunday: weekly periods ending Sunday
# The recursion is an infinite geometric sum; 64 lags leave alpha**64 = 5e-20 of the weight
# out at alpha = 0.5, far below the 1e-12 relative error the benchmark tolerates.
MIN_ADSTOCK_LAGS = 64
_TRUNCATION = 1e-16  # largest lag weight left out of the convolution, for other alphas

GEO = "national"
CHANNEL = "spend"


@dataclass(frozen=True)
class HillMixtureDGP:
    """One world of the benchmark: a mixture of K Hill response curves of adstocked spend.

    Attributes
    ----------
    name : the canonical name, e.g. ``"hill_mixture_k2"``
    description : one line saying what the world is
    weights : tuple of float, length K; probability pi_k that a period uses component k
    half_saturation_ratios : tuple of float, length K; k_k / median(adstocked spend)
    max_effects : tuple of float, length K; A_k, the response at saturation (target units)
    hill_slopes : tuple of float, length K; n_k, the steepness of each Hill curve
    """

    name: str
    description: str
    weights: tuple[float, ...]
    half_saturation_ratios: tuple[float, ...]
    max_effects: tuple[float, ...]
    hill_slopes: tuple[float, ...]

    def __post_init__(self) -> None:
        fields = ("weights", "half_saturation_ratios", "max_effects", "hill_slopes")
        for key in fields:
            object.__setattr__(self, key, tuple(float(v) for v in getattr(self, key)))
        lengths = {key: len(getattr(self, key)) for key in fields}
        if len(set(lengths.values())) != 1 or self.n_components == 0:
            raise ValueError(f"Hill-mixture world {self.name!r}: lengths differ or are 0 {lengths}")
        for key in fields:
            if min(getattr(self, key)) <= 0:
                raise ValueError(f"Hill-mixture world {self.name!r}: every {key} must be > 0")
        if abs(sum(self.weights) - 1.0) > 1e-12:
            raise ValueError(
                f"Hill-mixture world {self.name!r}: weights sum to {sum(self.weights)}, not 1"
            )

    @property
    def n_components(self) -> int:
        """K, the number of Hill curves."""
        return len(self.weights)


HILL_MIXTURE_DGPS: dict[str, HillMixtureDGP] = {
    dgp.name: dgp
    for dgp in (
        HillMixtureDGP(
            name="hill_single",
            description="one Hill curve of adstocked spend (A 30, k = median, n 1.5)",
            weights=(1.0,),
            half_saturation_ratios=(1.0,),
            max_effects=(30.0,),
            hill_slopes=(1.5,),
        ),
        HillMixtureDGP(
            name="hill_mixture_k2",
            description="each period follows one of 2 Hill curves: steep and small or flat and big",
            weights=(0.6, 0.4),
            half_saturation_ratios=(0.7, 1.3),
            max_effects=(20.0, 40.0),
            hill_slopes=(2.0, 1.2),
        ),
        HillMixtureDGP(
            name="hill_mixture_k3",
            description="each period follows one of 3 Hill curves, maximum effect 15 to 60",
            weights=(0.4, 0.3, 0.3),
            half_saturation_ratios=(0.5, 1.0, 1.2),
            max_effects=(15.0, 30.0, 60.0),
            hill_slopes=(2.0, 1.5, 1.0),
        ),
        HillMixtureDGP(
            name="hill_mixture_k5",
            description="each period follows one of 5 Hill curves, maximum effect 10 to 70",
            weights=(0.30, 0.25, 0.20, 0.15, 0.10),
            half_saturation_ratios=(0.4, 0.7, 1.0, 1.3, 1.6),
            max_effects=(10.0, 20.0, 35.0, 50.0, 70.0),
            hill_slopes=(2.5, 2.0, 1.5, 1.2, 1.0),
        ),
    )
}


def adstock_lags(alpha: float) -> int:
    """Number of lags that carries the geometric sum to within 1e-16 of its weight (>= 64)."""
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"adstock alpha must lie in [0, 1), got {alpha}")
    if alpha == 0.0:
        return MIN_ADSTOCK_LAGS
    return max(MIN_ADSTOCK_LAGS, math.ceil(math.log(_TRUNCATION) / math.log(alpha)))


def adstocked(spend_1d: np.ndarray, alpha: float = ADSTOCK_ALPHA) -> np.ndarray:
    """Un-normalised geometric adstock ``s_t = x_t + alpha s_{t-1}``, ``s_0 = x_0``.

    Computed with `mmmlab.transforms` (``geometric_weights(normalize=False)`` and
    `convolve_lags`) over `adstock_lags(alpha)` lags, so models share this definition.

    Parameters
    ----------
    spend_1d : array (T,), spend per period
    alpha : decay in [0, 1)

    Returns
    -------
    array (T,), float64
    """
    x = np.asarray(spend_1d, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"adstocked: spend must be 1-D (T,), got shape {x.shape}")
    weights = geometric_weights(jnp.asarray(alpha, dtype=jnp.float64), adstock_lags(alpha), False)
    return np.asarray(convolve_lags(jnp.asarray(x), weights), dtype=np.float64)


def _response(s: np.ndarray, labels: np.ndarray, k: np.ndarray, dgp: HillMixtureDGP) -> np.ndarray:
    """(T,) ``A_z hill(s_t; k_z, n_z)`` with each period's drawn component z = labels[t]."""
    A = np.asarray(dgp.max_effects)[labels]
    n = np.asarray(dgp.hill_slopes)[labels]
    return A * np.asarray(hill(jnp.asarray(s), jnp.asarray(k[labels]), jnp.asarray(n)))


def _draw_labels(uniforms: np.ndarray, weights: tuple[float, ...]) -> np.ndarray:
    """(T,) component index by inverse CDF of `weights` at `uniforms` in [0, 1)."""
    cdf = np.cumsum(weights)
    cdf[-1] = 1.0  # u < 1 always, so rounding of the sum cannot produce index K
    return np.searchsorted(cdf, uniforms, side="right").astype(np.int64)


def simulate_hill_mixture(name: str, seed: int, n_periods: int = 200) -> tuple[Dataset, Truth]:
    """Simulate one Hill-mixture world and its answer key.

    Parameters
    ----------
    name : one of `HILL_MIXTURE_DGPS`
    seed : seed of ``np.random.default_rng``; equal seeds give bit-identical data
    n_periods : T, the number of weekly periods (at least 2)

    Returns
    -------
    dataset : `Dataset` with spend (T, 1, 1), target (T, 1) and no controls
    truth : `Truth`; contributions and counterfactual (T, 1, 1), baseline parts and noise
        (T, 1), labels (T,), roas and mroas (1,), params in target / adstocked-spend units
    """
    if name not in HILL_MIXTURE_DGPS:
        raise ValueError(
            f"unknown Hill-mixture world {name!r}; choose one of {sorted(HILL_MIXTURE_DGPS)}"
        )
    if n_periods < 2:
        raise ValueError(f"{name}: n_periods must be at least 2, got {n_periods}")
    dgp = HILL_MIXTURE_DGPS[name]
    T = int(n_periods)
    rng = np.random.default_rng(seed)
    spend = rng.lognormal(SPEND_LOG_MEAN, SPEND_LOG_SD, size=T)
    labels = _draw_labels(rng.random(T), dgp.weights)
    noise = rng.normal(0.0, NOISE_SD, size=T)

    s = adstocked(spend)
    median_s = float(np.median(s))
    k = np.asarray(dgp.half_saturation_ratios) * median_s
    contribution = _response(s, labels, k, dgp)
    # Spend +1% everywhere: the adstock is linear, and the drawn components stay as they were.
    bumped = _response(adstocked(1.01 * spend), labels, k, dgp)

    t = np.arange(T, dtype=np.float64)
    t_std = (t - t.mean()) / t.std()  # ddof=0
    intercept = np.full(T, INTERCEPT)
    trend = TREND_SLOPE * t_std
    target = intercept + trend + contribution + noise

    spend3, contrib3 = spend[:, None, None], contribution[:, None, None]
    dataset = Dataset(
        dates=pd.date_range(START_DATE, periods=T, freq="W-SUN"),
        geos=(GEO,),
        channels=(CHANNEL,),
        spend=spend3,
        target=target[:, None],
        controls=np.zeros((T, 1, 0)),
        control_names=(),
        name=name,
        source={"simulator": __name__, "dgp": name, "seed": seed},
    )
    K = dgp.n_components
    scalar, per_component = (), ("component",)
    params = {
        "adstock_alpha": (np.asarray(ADSTOCK_ALPHA), scalar),
        "intercept": (np.asarray(INTERCEPT), scalar),
        "slope": (np.asarray(TREND_SLOPE), scalar),
        "sigma": (np.asarray(NOISE_SD), scalar),
        "weights": (np.asarray(dgp.weights), per_component),
        "half_saturation": (k, per_component),
        "half_saturation_ratio": (np.asarray(dgp.half_saturation_ratios), per_component),
        "max_effect": (np.asarray(dgp.max_effects), per_component),
        "hill_slope": (np.asarray(dgp.hill_slopes), per_component),
    }
    shares = np.bincount(labels, minlength=K) / T
    facts = {"median_adstock": median_s}
    facts.update({f"share_of_component_{j}": float(shares[j]) for j in range(K)})
    facts["media_share"] = float(contribution.sum() / target.sum())
    truth = Truth(
        name=name,
        seed=int(seed),
        description=dgp.description,
        breaks=None if K == 1 else "one saturation curve per channel",
        channels=(CHANNEL,),
        geos=(GEO,),
        params={key: value for key, (value, _) in params.items()},
        dims={key: dims for key, (_, dims) in params.items()},
        contributions=contrib3,
        roas=total_roas(contrib3, spend3),
        mroas=marginal_roas(contrib3, bumped[:, None, None], spend3),
        counterfactual=(target - contribution)[:, None, None],
        baseline={"intercept": intercept[:, None], "trend": trend[:, None]},
        noise=noise[:, None],
        labels=labels,
        facts=facts,
    )
    return dataset, truth
