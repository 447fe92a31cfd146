"""Robyn-style ridge MMM: media features and the regression, vectorised over a batch of
hyperparameter candidates.

Per paid channel the media (`Dataset.media`) is adstocked over history + window
(`geometric` θ, `weibull_cdf` / `weibull_pdf` shape and scale: Robyn's definitions in
`mmmlab.transforms`, unnormalised, Weibull scale rounded as Robyn does), then saturated by
Robyn's Hill curve ``x^α / (x^α + k^α)`` with inflexion ``k = (1-γ) min + γ max`` of the
adstocked series over the training window (`saturation_hill`, transformation.R); k stays
fixed for later windows. The baseline is an intercept, a linear trend, yearly Fourier terms
and the controls. Coefficients come from a ridge fit like Robyn's glmnet call (model.R):
standardised features, unpenalised intercept, paid-media coefficients ≥ 0, λ mapped from a
hyperparameter in [0, 1] onto Robyn's range (`lambda_seq`).

Shapes: B candidates, T window periods, L lags, C channels, K baseline features, P = C + K.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from mmmlab.data import Dataset
from mmmlab.data.dataset import FREQUENCIES
from mmmlab.transforms import adstock_weights, lag_stack

ADSTOCK_HYPERPARAMETERS = {
    "geometric": ("theta",),
    "weibull_cdf": ("shape", "scale"),
    "weibull_pdf": ("shape", "scale"),
}
SATURATION_HYPERPARAMETERS = ("alpha", "gamma")
# Robyn's recommended ranges (demo.R, `hyper_limits`): θ for geometric decay, Weibull
# shape/scale by type, Hill α and γ, and the ridge penalty's λ in [0, 1].
DEFAULT_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "geometric": {"theta": (0.0, 0.8)},
    "weibull_cdf": {"shape": (0.0001, 2.0), "scale": (0.0, 0.1)},
    "weibull_pdf": {"shape": (0.0001, 10.0), "scale": (0.0, 0.1)},
}
SATURATION_RANGES = {"alpha": (0.5, 3.0), "gamma": (0.3, 1.0)}
LAMBDA_RANGE = (0.0, 1.0)
# Admissible values of each hyperparameter (Robyn's `hyper_limits`): (low, high, high open).
LIMITS = {
    "theta": (0.0, 1.0, True),
    "shape": (0.0, 20.0, True),
    "scale": (0.0, 1.0, False),
    "alpha": (0.0, 10.0, True),
    "gamma": (0.0, 1.0, False),
    "lambda": (0.0, 1.0, False),
}
LAMBDA_MIN_RATIO = 1e-4  # glmnet's default, as Robyn uses it
YEAR_PERIODS = {"daily": 365.25, "weekly": 365.25 / 7, "monthly": 12.0}
_LAG_TOL = 1e-12  # lags whose weight is below this share of the largest are dropped


# ---------------------------------------------------------------------------- hyperparameters
def parse_ranges(
    adstock: str, overrides: Mapping[str, Any], channels: Sequence[str] | None = None
) -> dict[str, dict[str, tuple[float, float]]]:
    """Ranges by channel and hyperparameter (plus ``"lambda"`` under channel ``""``).

    overrides : ``{name: [low, high] | value}`` for every channel, and
        ``{channel: {name: [low, high] | value}}`` for one; a single value fixes it.
    channels : the data's channels; None checks the structure only (channel keys unchecked).
    Raises ValueError naming the bad key.
    """
    if adstock not in ADSTOCK_HYPERPARAMETERS:
        raise ValueError(f"adstock: give one of {list(ADSTOCK_HYPERPARAMETERS)}, got {adstock!r}")
    names = ADSTOCK_HYPERPARAMETERS[adstock] + SATURATION_HYPERPARAMETERS
    common = {**DEFAULT_RANGES[adstock], **SATURATION_RANGES}
    per_channel: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        if key in names or key == "lambda":
            common[key] = _range(value, f"hyperparameters.{key}", key)
        elif key in LIMITS:
            raise ValueError(
                f"hyperparameters.{key}: {key} does not apply to {adstock} adstock; it takes "
                f"{list(names)} and lambda"
            )
        elif isinstance(value, Mapping):
            per_channel[key] = dict(value)
        else:
            raise ValueError(
                f"hyperparameters.{key}: not a hyperparameter ({list(names)}, lambda) nor a "
                "channel mapping {name: range}"
            )
    if channels is not None:
        unknown = sorted(set(per_channel) - set(channels))
        if unknown:
            raise ValueError(
                f"hyperparameters: unknown channel(s) {unknown}; the channels are {list(channels)}"
            )
    out = {"": {"lambda": common.pop("lambda", LAMBDA_RANGE)}}
    for ch in channels if channels is not None else list(per_channel):
        ranges = dict(common)
        for name, value in per_channel.get(ch, {}).items():
            if name not in names:
                raise ValueError(
                    f"hyperparameters.{ch}.{name}: unknown; a channel takes {list(names)}"
                )
            ranges[name] = _range(value, f"hyperparameters.{ch}.{name}", name)
        out[ch] = ranges
    return out


def _range(value: Any, where: str, name: str) -> tuple[float, float]:
    pair = [value, value] if isinstance(value, int | float) else value
    try:
        if isinstance(pair, str) or len(pair) != 2:
            raise TypeError
        low, high = float(pair[0]), float(pair[1])
    except (TypeError, ValueError):
        raise ValueError(f"{where}: give [low, high] or one number, got {value!r}") from None
    lo, hi, open_high = LIMITS[name]
    if not (lo <= low <= high and (high < hi if open_high else high <= hi)):
        bracket = ")" if open_high else "]"
        raise ValueError(
            f"{where}: [{low}, {high}] must be ordered and inside [{lo}, {hi}{bracket}"
        )
    return low, high


@dataclass(frozen=True)
class HyperparameterSpace:
    """The searched box: D = (names per channel) × C + 1 (λ) values, name-major.

    names : D labels ``"{channel}_{name}"`` and ``"lambda"``; lower, upper : (D,) bounds
    (equal bounds fix a value). A unit vector u in [0, 1]^D maps to ``lower + u (upper -
    lower)``, Robyn's `qunif` scaling of Nevergrad's samples.
    """

    adstock: str
    channels: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray

    @classmethod
    def build(
        cls, adstock: str, channels: Sequence[str], overrides: Mapping[str, Any]
    ) -> HyperparameterSpace:
        ranges = parse_ranges(adstock, overrides, channels)
        bounds = [ranges[ch][n] for n in cls.kinds_of(adstock) for ch in channels]
        bounds.append(ranges[""]["lambda"])
        low, high = np.array(bounds).T
        return cls(adstock, tuple(channels), low, high)

    @staticmethod
    def kinds_of(adstock: str) -> tuple[str, ...]:
        return ADSTOCK_HYPERPARAMETERS[adstock] + SATURATION_HYPERPARAMETERS

    @property
    def names(self) -> tuple[str, ...]:
        kinds = self.kinds_of(self.adstock)
        return tuple(f"{ch}_{k}" for k in kinds for ch in self.channels) + ("lambda",)

    @property
    def dim(self) -> int:
        return len(self.lower)

    def values(self, unit: np.ndarray) -> np.ndarray:
        """(B, D) unit-cube points -> (B, D) hyperparameter values."""
        return self.lower + np.clip(unit, 0.0, 1.0) * (self.upper - self.lower)

    def split(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """(B, D) values -> {name: (B, C)} and ``{"lambda": (B,)}``."""
        values = np.atleast_2d(values)
        kinds = self.kinds_of(self.adstock)
        media = values[:, :-1].reshape(len(values), len(kinds), len(self.channels))
        return {k: media[:, i] for i, k in enumerate(kinds)} | {"lambda": values[:, -1]}


# ---------------------------------------------------------------------------- features
def lagged_media(dataset: Dataset, l_max: int) -> np.ndarray:
    """(C, T, L): the media of each window row at lags 0..L-1 (history first, zeros before)."""
    full = np.concatenate([dataset.history_media, dataset.media])[:, 0, :]
    history = len(dataset.history_media)
    before = l_max - 1
    if history >= before:
        padded = full[history - before :]
    else:
        padded = np.concatenate([np.zeros((before - history, full.shape[1])), full])
    return np.ascontiguousarray(lag_stack(padded, l_max).transpose(2, 1, 0))


def baseline_features(
    dataset: Dataset, fourier_order: int, period: float
) -> tuple[np.ndarray, tuple[str, ...]]:
    """(T, K) trend (the time index), yearly sin/cos pairs of order 1..`fourier_order` and
    the controls, with their names. The time index keeps counting across splits."""
    t = np.asarray(dataset.time_index, float)
    columns, names = [t], ["trend"]
    for k in range(1, fourier_order + 1):
        angle = 2 * np.pi * k * t / period
        columns += [np.sin(angle), np.cos(angle)]
        names += [f"sin{k}", f"cos{k}"]
    controls = dataset.controls[:, 0, :]
    features = np.column_stack(columns + [controls[:, k] for k in range(controls.shape[1])])
    return features, tuple(names) + dataset.control_names


def media_weights(adstock: str, hyper: Mapping[str, np.ndarray], l_max: int) -> np.ndarray:
    """(L', B, C) lag weights of each candidate and channel (Robyn's adstock definitions),
    trimmed after the last lag that still matters."""
    params = {"alpha": hyper["theta"]} if adstock == "geometric" else hyper
    w = np.asarray(adstock_weights(adstock, params, l_max, normalize=False, round_scale=True))
    peak = np.abs(w).max(axis=(1, 2))
    keep = np.flatnonzero(peak > _LAG_TOL * peak.max())
    return w[: keep[-1] + 1] if len(keep) else w[:1]


class MediaFeatures(NamedTuple):
    """saturated : (B, T, C) Hill(adstocked); carryover : (B, T, C) the Hill curve at the
    carried-over part (adstocked - immediate), or None; inflexion : (B, C)."""

    saturated: np.ndarray
    carryover: np.ndarray | None
    inflexion: np.ndarray


def media_features(
    lagged: np.ndarray,
    adstock: str,
    hyper: Mapping[str, np.ndarray],
    l_max: int,
    inflexion: np.ndarray | None = None,
    with_carryover: bool = False,
) -> MediaFeatures:
    """Adstock then Hill-saturate the media of B candidates.

    lagged : (C, T, L) from `lagged_media`; hyper : {name: (B, C)}; inflexion : (B, C) to
    reuse the training window's, or None to compute it over these T rows.
    """
    w = media_weights(adstock, hyper, l_max)  # (L', B, C)
    adstocked = np.matmul(lagged[:, :, : len(w)], w.transpose(2, 0, 1)).transpose(2, 1, 0)
    alpha, gamma = hyper["alpha"][:, None, :], hyper["gamma"]
    if inflexion is None:
        inflexion = (1 - gamma) * adstocked.min(axis=1) + gamma * adstocked.max(axis=1)
    saturated = hill(adstocked, alpha, inflexion[:, None, :])
    carryover = None
    if with_carryover:
        immediate = w[0][:, None, :] * lagged[:, :, 0].T[None]  # Robyn's x_imme (pdf: w0 x)
        carryover = hill(np.maximum(adstocked - immediate, 0.0), alpha, inflexion[:, None, :])
    return MediaFeatures(saturated, carryover, inflexion)


def hill(x: np.ndarray, alpha: np.ndarray, inflexion: np.ndarray) -> np.ndarray:
    """Robyn's Hill curve ``x^α / (x^α + k^α)``; 0 at x = 0 and 1 above a zero inflexion."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.power(inflexion / x, alpha)
        out = 1.0 / (1.0 + ratio)
    return np.where(x > 0, np.nan_to_num(out, nan=1.0), 0.0)


# ---------------------------------------------------------------------------- regression
def lambda_max(raw: np.ndarray, y: np.ndarray) -> float:
    """Robyn's largest λ: ``0.1 max_j |Σ_t x̃_tj y_t| / (0.001 n)`` over the raw (untransformed)
    features standardised with the 1/n sd (`lambda_seq`, model.R; the 0.1 is Robyn's)."""
    sd = raw.std(axis=0)
    x = (raw - raw.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return 0.1 * float(np.abs(x.T @ np.asarray(y, float)).max()) / (0.001 * len(y))


def scaled_lambda(lambda_hp: np.ndarray, lam_max: float) -> np.ndarray:
    """Robyn's λ from its hyperparameter in [0, 1]: ``λ_min + (λ_max - λ_min) hp`` with
    ``λ_min = λ_max × 1e-4``."""
    lam_min = lam_max * LAMBDA_MIN_RATIO
    return lam_min + (lam_max - lam_min) * np.asarray(lambda_hp, float)


class RidgeSolution(NamedTuple):
    """coef : (B, P) in data units (media first); intercept : (B,); fitted : (B, T)."""

    coef: np.ndarray
    intercept: np.ndarray
    fitted: np.ndarray


def ridge_fit(
    features: np.ndarray, y: np.ndarray, lambda_hp: np.ndarray, lam_max: float, n_media: int
) -> RidgeSolution:
    """glmnet-style ridge for B problems at once.

    features : (B, T, P) or (T, P); y : (B, T) or (T,); lambda_hp : (B,) in [0, 1] mapped by
    `scaled_lambda`. Columns are
    standardised (1/n sd) and y centred; the intercept is not penalised. glmnet scales y to
    unit variance before applying λ, so the penalty in y's units is ``n λ / sd(y)``.
    The first `n_media` coefficients must be ≥ 0: any that comes out negative is fixed at
    zero and the rest refitted, until none is negative (an active-set approximation of
    glmnet's box constraints).
    """
    y = np.atleast_2d(np.asarray(y, float))
    lambda_hp = np.atleast_1d(np.asarray(lambda_hp, float))
    b = max(len(y), len(lambda_hp), features.shape[0] if features.ndim == 3 else 1)
    z = np.broadcast_to(features, (b,) + features.shape[-2:])
    n, p = z.shape[1], z.shape[2]
    mean, sd = z.mean(axis=1), z.std(axis=1)
    sd = np.where(sd > 1e-12 * (np.abs(mean) + 1.0), sd, np.inf)  # constant column -> 0
    zs = (z - mean[:, None, :]) / sd[:, None, :]
    y = np.broadcast_to(y, (b, n))
    y_mean = y.mean(axis=1)
    yc = y - y_mean[:, None]
    lam = scaled_lambda(np.broadcast_to(lambda_hp, (b,)), lam_max)
    kappa = n * lam / np.maximum(y.std(axis=1), 1e-300)
    gram = np.matmul(zs.transpose(0, 2, 1), zs) + kappa[:, None, None] * np.eye(p)
    rhs = np.einsum("btp,bt->bp", zs, yc)
    active = np.broadcast_to(np.isfinite(sd), (b, p)).copy()
    eye = np.eye(p, dtype=bool)
    for _ in range(n_media + 1):
        pair = active[:, :, None] & active[:, None, :]
        system = np.where(pair, gram, np.where(eye, 1.0, 0.0))
        beta = np.linalg.solve(system, np.where(active, rhs, 0.0)[..., None])[..., 0]
        negative = beta[:, :n_media] < 0
        if not negative.any():
            break
        active[:, :n_media] &= ~negative
    beta[:, :n_media] = np.maximum(beta[:, :n_media], 0.0)
    coef = beta / sd
    intercept = y_mean - np.einsum("bp,bp->b", coef, mean)
    fitted = intercept[:, None] + np.einsum("btp,bp->bt", z, coef)
    return RidgeSolution(coef, intercept, fitted)


# ---------------------------------------------------------------------------- design
@dataclass(frozen=True, eq=False)
class RidgeDesign:
    """What a training window fixes for every candidate.

    lagged : (C, T, L) media at lags 0..L-1, L = history + training periods (Robyn adstocks
    over all the data it has; the Weibull scale quantile is taken over those L lags)
    baseline : (T, K) with `baseline_names`; y : (T,); spend : (C,) training spend
    dates : (T,) period dates; period_days : days a period spans; lam_max : Robyn's λ_max
    """

    adstock: str
    channels: tuple[str, ...]
    l_max: int
    lagged: np.ndarray
    baseline: np.ndarray
    baseline_names: tuple[str, ...]
    y: np.ndarray
    spend: np.ndarray
    dates: pd.DatetimeIndex
    period_days: int
    fourier_order: int
    period: float
    lam_max: float

    @classmethod
    def build(cls, train: Dataset, adstock: str, fourier_order: int = 2) -> RidgeDesign:
        """The design of a national training window (checked by the caller)."""
        l_max = len(train.history_media) + train.n_time
        lagged = lagged_media(train, l_max)
        period = YEAR_PERIODS[train.frequency]
        baseline, names = baseline_features(train, fourier_order, period)
        y = np.asarray(train.target[:, 0], float)
        n_features = train.n_channels + baseline.shape[1]
        if train.n_time <= n_features + 1:
            raise ValueError(
                f"dataset {train.name!r}: {train.n_time} training periods for {n_features} "
                "regressors; the ridge backend needs more periods than regressors + 1 "
                "(lower fourier_order or use a longer window)"
            )
        raw = np.column_stack([lagged[:, :, 0].T, baseline])
        spend = train.spend[:, 0, :].sum(axis=0)
        return cls(
            adstock,
            train.channels,
            l_max,
            lagged,
            baseline,
            names,
            y,
            spend,
            train.dates,
            FREQUENCIES[train.frequency],
            fourier_order,
            period,
            lambda_max(raw, y),
        )

    def features(self, saturated: np.ndarray) -> np.ndarray:
        """(B, T, P): the saturated media of B candidates beside the shared baseline."""
        base = np.broadcast_to(self.baseline, (len(saturated),) + self.baseline.shape)
        return np.concatenate([saturated, base], axis=2)
