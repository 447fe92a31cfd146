"""The model scale: how data map to the arrays the additive MMM reads.

`Scaling` is fixed on the training window and reused for every later window: target over its
per-geo mean, media over its per-geo, per-channel mean, controls standardised, time in units
of the training length. `prepare` turns any window of a `Dataset` into `ModelData`, which
carries arrays only, so one compiled sampler serves every dataset of the same shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from mmmlab.data import Dataset
from mmmlab.models.config import ModelConfig
from mmmlab.transforms import lag_stack

Array = jnp.ndarray

# The adstock and saturation run in float32: they are most of a gradient's cost (the lagged
# media are the largest array), and in float32 the CPU's vector units take twice the lanes.
# Measured on medium_business (156 weeks, 8 geos, 8 channels): 136 -> 61 us per gradient of
# the media path. Saturated media come back as float64, so the likelihood, the sums over
# periods and everything the sampler accumulates keep full precision; simulators, whose
# answer key must be exact, bind with float64.
MEDIA_DTYPE = jnp.float32


class ModelData(NamedTuple):
    """Arrays the model reads, on the model scale (a JAX pytree; shapes are the cache key).

    media_lags : (C, T, G, L) lagged media, float32 when fitting (`MEDIA_DTYPE`):
        ``media_lags[c, t, g, l] = x[t - l, g, c]``, with
        the rows before the window taken from its history (zeros before the data begin).
        Channel-major and lag-minor, so the adstock is one batched matrix-vector product
        over contiguous lags and the saturation runs on (C, T, G), whose gradient sums over
        contiguous rows. Measured against (C, L, T, G) with the curves on (T, G, C), value
        and gradient of the whole potential: growing_business 77 -> 45 us, medium_business
        150 -> 116 us, large_business 3.5 -> 2.9 ms.
    fourier : (T, F) seasonality features
    controls : (T, G, K) standardised controls
    t : (T,) time in units of the training length, 0 mid-way through training
    changepoints : (n_cp,) changepoint locations on the `t` scale
    spend_share : (C,) each channel's training spend over the training target (`Scaling`)
    reference_lags : (C, T_train, G, L) training `media_lags` when this window is not the
        training window (channel effects are training-window averages); None while fitting.
    lifts : the lift tests the fit is calibrated on (`LiftData`), or None
    """

    media_lags: Array
    fourier: Array
    controls: Array
    t: Array
    changepoints: Array
    spend_share: Array
    reference_lags: Array | None = None
    lifts: LiftData | None = None


class LiftData(NamedTuple):
    """N lift tests on the model scale (`models.lift.prepare_lifts`), R = the (period, geo)
    rows their lifts are measured over where the spend change reaches them.

    lags : (C, 2R, 1, L) lagged media of each row, the first R with the test's spend change
        and the last R without; only the test's channel is non-zero (media dtype)
    geo : (R, G) one-hot geo of each row
    weight : (N, R) ``y_scale[geo of r] / unit[n]`` where row r belongs to test n, else 0
    lift, lift_se : (N,) measured lift and its standard error, over `unit`
    unit : (N,) target units per model unit of each test (mean `y_scale` of its geos)
    """

    lags: Array
    geo: Array
    weight: Array
    lift: Array
    lift_se: Array
    unit: Array


@dataclass(frozen=True)
class Scaling:
    """How data maps to the model scale; fixed on the training window and reused everywhere.

    y_scale : (G,) target divisor per geo; media_scale : (G, C) media divisor;
    control_mean, control_std : (G, K); t_origin : time_index of the training start;
    t_span : number of training periods; changepoints : (n_cp,) on the `t` scale;
    spend_share : (C,) spend over the target's absolute sum, both summed over training
        periods and geos: a ROAS prior times it is the prior of `effect` (None in fits saved
        before it existed).
    """

    y_scale: np.ndarray
    media_scale: np.ndarray
    control_mean: np.ndarray
    control_std: np.ndarray
    t_origin: int
    t_span: int
    changepoints: np.ndarray
    spend_share: np.ndarray | None = None

    @classmethod
    def fit(cls, train: Dataset, config: ModelConfig) -> Scaling:
        """Scaling from the training window."""
        y_scale = np.abs(train.target).mean(axis=0)
        y_scale = np.where(y_scale > 0, y_scale, 1.0)
        media = train.media
        per_geo = media.mean(axis=0)  # (G, C)
        overall = media.mean(axis=(0, 1))  # (C,)
        overall = np.where(overall > 0, overall, 1.0)
        media_scale = np.where(per_geo > 0, per_geo, overall)
        mean = train.controls.mean(axis=0)
        std = train.controls.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        n = config.n_changepoints if config.trend == "piecewise" else 0
        changepoints = np.linspace(0.0, 1.0, n + 2)[1:-1] - 0.5
        total = np.abs(train.target).sum()
        spend_share = train.spend.sum(axis=(0, 1)) / (total if total > 0 else 1.0)
        return cls(
            y_scale=y_scale,
            media_scale=media_scale,
            control_mean=mean,
            control_std=std,
            t_origin=int(train.time_index[0]),
            t_span=max(train.n_time, 1),
            changepoints=changepoints,
            spend_share=spend_share,
        )

    def to_json(self) -> dict[str, Any]:
        return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Scaling:
        arrays = {
            "y_scale", "media_scale", "control_mean", "control_std", "changepoints", "spend_share"
        }  # fmt: skip
        return cls(
            **{
                k: np.asarray(v, dtype=float) if k in arrays and v is not None else v
                for k, v in raw.items()
            }
        )


def fourier_features(dates: Any, frequency: str, config: ModelConfig) -> np.ndarray:
    """Seasonality features (T, F): yearly modes, plus weekly modes for daily data."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    days = dates.astype(np.int64).astype(float)  # days since 1970-01-01
    cols = []
    periods = [(365.25, config.yearly_seasonality)]
    if frequency == "daily":
        periods.append((7.0, config.weekly_seasonality))
    for period, n_modes in periods:
        for k in range(1, n_modes + 1):
            angle = 2.0 * np.pi * k * days / period
            cols += [np.sin(angle), np.cos(angle)]
    return np.stack(cols, axis=1) if cols else np.zeros((len(days), 0))


def prepare(
    dataset: Dataset, config: ModelConfig, scaling: Scaling, media_dtype: Any = MEDIA_DTYPE
) -> ModelData:
    """Model-scale arrays for any window of data (train or later) under a fixed `scaling`.

    `media_dtype` is the precision of the lagged media and so of the whole adstock and
    saturation path (see `MEDIA_DTYPE`); everything else stays float64.
    """
    media = padded_media(dataset, config, scaling)
    controls = (dataset.controls - scaling.control_mean) / scaling.control_std
    t = (dataset.time_index - scaling.t_origin) / scaling.t_span - 0.5
    share = scaling.spend_share
    return ModelData(
        media_lags=jnp.asarray(
            lag_stack(media, config.l_max).transpose(3, 1, 2, 0).copy(), dtype=media_dtype
        ),
        fourier=jnp.asarray(fourier_features(dataset.dates, dataset.frequency, config)),
        controls=jnp.asarray(controls),
        t=jnp.asarray(t, dtype=float),
        changepoints=jnp.asarray(scaling.changepoints),
        spend_share=jnp.ones(dataset.n_channels) if share is None else jnp.asarray(share),
    )


def padded_media(dataset: Dataset, config: ModelConfig, scaling: Scaling) -> np.ndarray:
    """Media on the model scale (L - 1 + T, G, C): the window with its ``l_max - 1`` periods
    of history in front (zeros before the data begin), as `lag_stack` takes it."""
    lead = config.l_max - 1
    history = dataset.history_media[-lead:] if lead else dataset.history_media[:0]
    pad = np.zeros((lead - len(history), dataset.n_geos, dataset.n_channels))
    return np.concatenate([pad, history, dataset.media]) / scaling.media_scale


def scaled_target(dataset: Dataset, scaling: Scaling) -> Array:
    """Target (T, G) on the model scale."""
    return jnp.asarray(dataset.target / scaling.y_scale)
