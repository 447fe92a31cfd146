"""Simulated businesses: a `WorldSpec` says what is true (`world_from_file` reads one, the
shipped worlds too), `simulate_world` draws data from it.

The target is the additive MMM itself with its parameters fixed: the model's `components`,
`geo_effects` and `mean_of`, and the noise of its observation model (`models.likelihood`), so
generator and fitted model share one definition of each. Only the order of the NumPy draws
and of the sums in target units is the world's own (it fixes a seed's bytes). Parameters are
given in business terms (ROAS, decay, half-saturation relative to average spend, baseline
level, growth, lifts) and translated to the model's scale here.

The response is always driven by spend. A world with `exposure` also reports what the spend
bought (impressions, clicks) at a drifting CPM: the variable a team might model instead, so a
benchmark can find which media variable recovers the truth.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal, NamedTuple

import jax.numpy as jnp
import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mmmlab.data import Dataset
from mmmlab.files import schema_errors
from mmmlab.models.config import AdstockName, ChannelTransforms, ModelConfig, SaturationName
from mmmlab.models.likelihood import Likelihood, ar1, draw_noise
from mmmlab.models.mmm import Structure, bind, components, geo_effects, mean_of
from mmmlab.models.scaling import ModelData
from mmmlab.models.units import natural_params
from mmmlab.synth.spend import PatternSpec, buy_exposure, draw_series
from mmmlab.synth.truth import Truth, marginal_roas, total_roas
from mmmlab.transforms import ADSTOCK_PARAMS, SATURATION_PARAMS

_STRICT = ConfigDict(extra="forbid", frozen=True)


class ChannelSpec(PatternSpec):
    """A paid channel: its spend pattern (see `PatternSpec`) and its true response.

    roas : the channel's average return per unit of spend over the window, per geo (the
        realised value, exact for national data, is in the truth)
    adstock, adstock_params : carry-over family and parameters (e.g. geometric alpha)
    saturation, saturation_params : diminishing-returns family and parameters; a
        half-saturation is relative to the channel's average spend in each geo
    cpm : price per thousand exposures (impressions; clicks for search) when the world
        reports exposure; None = the channel is not bought by exposure (its exposure column
        carries its spend)
    cpm_cv : period-to-period coefficient of variation of the CPM (AR(1), 0.7 per week)
    """

    name: str
    roas: float = Field(ge=0)
    adstock: AdstockName = "geometric"
    adstock_params: dict[str, float]
    saturation: SaturationName = "hill"
    saturation_params: dict[str, float]
    cpm: float | None = Field(None, gt=0)
    cpm_cv: float = Field(0.25, ge=0)

    @model_validator(mode="after")
    def _params_match_families(self) -> ChannelSpec:
        for kind, name, given, table in (
            ("adstock", self.adstock, self.adstock_params, ADSTOCK_PARAMS),
            ("saturation", self.saturation, self.saturation_params, SATURATION_PARAMS),
        ):
            if set(given) != set(table[name]):
                raise ValueError(
                    f"channel {self.name!r}: {kind} {name!r} takes parameters "
                    f"{list(table[name])}, got {sorted(given)}"
                )
        return self


class ControlSpec(PatternSpec):
    """A control variable (event, sale, price, ...): its pattern and its effect.

    lift : change in the target, as a fraction of the baseline level, when the control moves
        from 0 to its `base` value (negative for a drag such as price)
    """

    name: str
    lift: float


class WorldSpec(BaseModel):
    """A simulated business. Strict: unknown keys are errors.

    n_periods, frequency, start : the calendar (weekly periods end on Sundays)
    geos : geo names (one name = national data)
    geo_size_sd : log-sd of geo sizes, which scale spend and baseline together
    geo_spend_cv : period-to-period spend noise of a geo around the shared plan
    baseline_sd : log-sd of each geo's baseline around its size
    effect_geo_sd : log-sd of channel effects across geos (the model's `effect_geo_sd`)
    base_sales : baseline level (sales without media) of an average geo, per period
    growth : baseline growth over the whole window, as a fraction of the level
    seasonal_amplitude, seasonal_phase : yearly baseline cycle (fraction of the level, radians)
    weekday_amplitude, weekday_peak : day-of-week cycle of daily worlds (fraction of the level;
        peak day 0 = Monday .. 6 = Sunday); it sums to zero over a week
    noise : sd of the noise as a fraction of the level; likelihood, nu : its family
    noise_ar1 : lag-1 autocorrelation of the noise in time (AR(1), same marginal sd); 0 (the
        default) draws independent noise, byte for byte as before
    l_max : adstock window, in periods
    exposure : also report exposure (spend × 1000 / CPM) in `Dataset.exposure`
    population : people in an average geo; when set, each geo reports a population of this
        times its size (`Dataset.population`, rounded; no draw, so nothing else changes).
        None (the default) reports none
    """

    model_config = _STRICT
    name: str
    description: str = ""
    n_periods: int = Field(ge=20)
    frequency: Literal["weekly", "daily"] = "weekly"
    start: str = "2021-01-03"
    geos: list[str] = Field(default_factory=lambda: ["national"], min_length=1)
    geo_size_sd: float = Field(0.5, ge=0)
    geo_spend_cv: float = Field(0.15, ge=0)
    baseline_sd: float = Field(0.1, ge=0)
    effect_geo_sd: float = Field(0.1, ge=0)
    base_sales: float = Field(gt=0)
    growth: float = 0.1
    seasonal_amplitude: float = Field(0.1, ge=0)
    seasonal_phase: float = 0.0
    weekday_amplitude: float = Field(0.0, ge=0)
    weekday_peak: int = Field(5, ge=0, le=6)
    noise: float = Field(0.05, gt=0)
    likelihood: Likelihood = "normal"
    nu: float = Field(4.0, gt=0)
    noise_ar1: float = Field(0.0, ge=0, lt=1)
    l_max: int = Field(8, ge=1)
    channels: list[ChannelSpec] = Field(min_length=1)
    controls: list[ControlSpec] = Field(default_factory=list)
    exposure: bool = False
    population: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _weekday_cycle_needs_days(self) -> WorldSpec:
        if self.weekday_amplitude and self.frequency != "daily":
            raise ValueError(
                f"world {self.name!r}: weekday_amplitude needs daily data (weekly periods sum "
                "the day-of-week cycle away); set frequency: daily or drop it"
            )
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> WorldSpec:
        for label, names in (
            ("channel", [c.name for c in self.channels]),
            ("control", [c.name for c in self.controls]),
            ("geo", self.geos),
        ):
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"duplicate {label} names {dup}")
        return self

    def model_config_of(self) -> ModelConfig:
        """The `ModelConfig` this world is generated under (per-channel transforms)."""
        return ModelConfig(
            adstock="geometric",
            saturation="hill",
            l_max=self.l_max,
            trend="linear",
            yearly_seasonality=2,
            weekly_seasonality=1,
            likelihood=self.likelihood,
            channels={
                c.name: ChannelTransforms(adstock=c.adstock, saturation=c.saturation)
                for c in self.channels
            },
        )

    @property
    def dates(self) -> pd.DatetimeIndex:
        freq = "W-SUN" if self.frequency == "weekly" else "D"
        return pd.date_range(self.start, periods=self.n_periods, freq=freq)


class Draw(NamedTuple):
    """The inputs `simulate_world` drew; scenario worlds alter them before `respond`.

    spend : (T, G, C); controls : (T, G, K); size : (G,) geo sizes, mean 1;
    level : (G,) each geo's baseline level in target units.
    """

    spend: np.ndarray
    controls: np.ndarray
    size: np.ndarray
    level: np.ndarray


def draw_inputs(spec: WorldSpec, rng: np.random.Generator) -> Draw:
    """Geo sizes and levels, then spend per channel and controls, in that order."""
    G = len(spec.geos)
    size = np.exp(spec.geo_size_sd * rng.standard_normal(G)) if G > 1 else np.ones(1)
    size = size / size.mean()
    level = (
        spec.base_sales
        * size
        * (np.exp(spec.baseline_sd * rng.standard_normal(G)) if G > 1 else np.ones(1))
    )
    dates = spec.dates
    spend = np.stack(
        [draw_series(rng, dates, c, size, spec.geo_spend_cv) for c in spec.channels], axis=-1
    )
    controls = np.zeros((spec.n_periods, G, len(spec.controls)))
    for k, c in enumerate(spec.controls):
        # Controls (events, sales, prices) are national: one series for every geo.
        controls[:, :, k] = draw_series(rng, dates, c, np.ones(1), 0.0)[:, :1]
    return Draw(spend=spend, controls=controls, size=size, level=level)


def model_params(
    spec: WorldSpec,
    s: Structure,
    draw: Draw,
    control_std: np.ndarray,
    rng: np.random.Generator,
    fourier_width: int,
) -> dict[str, np.ndarray]:
    """The model-scale parameters (model unit = each geo's baseline level) of the world.

    control_std : (K,) sd of each control (the model standardises controls).
    """
    given: dict[str, dict[int, float]] = {}
    for i, ch in enumerate(spec.channels):
        for family, values in (
            (ch.adstock, ch.adstock_params),
            (ch.saturation, ch.saturation_params),
        ):
            for key, value in values.items():
                given.setdefault(f"{family}_{key}", {})[i] = value
    params = {site: np.array([given[site][i] for i in idx]) for site, idx in s.media_sites}
    roas = np.array([c.roas for c in spec.channels])
    # Pooled effect: average contribution per period over baseline, across all geos.
    mean_spend = draw.spend.mean(axis=0)  # (G, C)
    params["effect"] = roas * mean_spend.sum(axis=0) / draw.level.sum()
    G = len(spec.geos)
    if G > 1:
        params["effect_geo_sd"] = np.full(len(roas), spec.effect_geo_sd)
        params["effect_geo_z"] = rng.standard_normal((len(roas), G))
    # The intercept is the level with media at its average: baseline (1) plus the effects.
    params["intercept"] = 1.0 + geo_effects(params, G).sum(axis=1)
    params["sigma"] = np.full(G, spec.noise)
    params["trend_slope"] = np.asarray(spec.growth)
    a, phi = spec.seasonal_amplitude, spec.seasonal_phase
    # Fourier columns are (sin, cos) per mode: A cos(wt + phi) = -A sin(phi) sin + A cos(phi) cos.
    season = [
        -a * np.sin(phi),
        a * np.cos(phi),
        -0.3 * a * np.sin(2 * phi),
        0.3 * a * np.cos(2 * phi),
    ]
    # Weekly modes exist for daily data only; Fourier days count from 1970-01-01, a Thursday.
    w, peak = spec.weekday_amplitude, -2 * np.pi * (spec.weekday_peak - 3) / 7
    weekday = [-w * np.sin(peak), w * np.cos(peak)] if w else [0.0, 0.0]
    params["seasonality"] = np.asarray((season + weekday)[:fourier_width])
    lifts = np.array([c.lift for c in spec.controls])
    bases = np.array([c.base for c in spec.controls])
    params["control"] = lifts * control_std / bases
    if spec.likelihood == "student_t":
        params["nu"] = np.asarray(spec.nu)
    return params


def world_from_file(path: str | Path) -> WorldSpec:
    """A `WorldSpec` from YAML or JSON; errors name the file and the offending key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as err:
        raise ValueError(f"{path}: world file not found") from err
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML/JSON: {err}") from err
    try:
        return WorldSpec.model_validate(raw)
    except ValidationError as err:
        raise ValueError(f"{path}: invalid world spec\n" + schema_errors(err)) from err


def simulate_world(spec: WorldSpec, seed: int) -> tuple[Dataset, Truth]:
    """Draw a dataset and its full answer key from `spec`; equal seeds give equal bytes.

    Randomness comes from one ``np.random.default_rng(seed)`` in a fixed order: geo sizes and
    levels, spend, controls, geo effect deviations, noise. The CPMs of an `exposure` world
    come from a second stream, ``np.random.default_rng([seed, 1])``, so turning exposure on
    leaves spend, target and truth as they were.
    """
    rng = np.random.default_rng(seed)
    draw = draw_inputs(spec, rng)
    return respond(spec, draw, rng, seed)


def fixed_parts(
    params: dict[str, np.ndarray], data: ModelData, s: Structure
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The model's additive parts (model scale) with its parameters fixed, and the media
    contributions (T, G, C) with every period's media raised by 1% (for marginal ROAS)."""
    jparams = {k: jnp.asarray(v) for k, v in params.items()}
    parts = {k: np.asarray(v) for k, v in components(jparams, data, s).items()}
    more = data._replace(media_lags=data.media_lags * 1.01, reference_lags=data.media_lags)
    return parts, np.asarray(components(jparams, more, s)["media"])


class Alteration(NamedTuple):
    """How a scenario world departs from the model after the model has drawn the target.

    media_multiplier : (T, G, C) factor on each channel's contribution (a drifting effect)
    extra : component name -> (T, G) additive parts of the target the model does not have
        (a confounder, a baseline break, outliers), kept in `Truth.baseline`
    noise_extra : (T, G) additional noise (outliers)
    name, description, breaks : the scenario's label, what it is, and the assumption it breaks
    facts : scalar checks of the world
    """

    media_multiplier: np.ndarray | None = None
    extra: dict[str, np.ndarray] = {}
    noise_extra: np.ndarray | None = None
    name: str | None = None
    description: str | None = None
    breaks: str | None = None
    facts: dict[str, float] = {}


def respond(
    spec: WorldSpec,
    draw: Draw,
    rng: np.random.Generator,
    seed: int,
    alteration: Alteration | None = None,
) -> tuple[Dataset, Truth]:
    """The target and truth for drawn inputs: the model with its parameters fixed, then any
    `alteration` of a scenario world. Draws the geo effect deviations, then the noise; the
    CPMs of an `exposure` world come from ``np.random.default_rng([seed, 1])``."""
    alt = Alteration() if alteration is None else alteration
    name = alt.name or spec.name
    config = spec.model_config_of()
    T, G, C = draw.spend.shape
    blank = Dataset(
        dates=spec.dates,
        geos=tuple(spec.geos),
        channels=tuple(c.name for c in spec.channels),
        spend=draw.spend,
        target=np.ones((T, G)),
        controls=draw.controls,
        control_names=tuple(c.name for c in spec.controls),
        name=name,
    )
    bound = bind(blank, config, media_dtype=jnp.float64)
    s, data = bound.structure, bound.data
    control_std = bound.scaling.control_std[0] if draw.controls.shape[2] else np.zeros(0)
    params = model_params(spec, s, draw, control_std, rng, int(data.fourier.shape[1]))
    parts, bumped = fixed_parts(params, data, s)
    noise = draw_noise(spec.likelihood, rng, params["sigma"][None, :], (T, G), spec.nu)
    if spec.noise_ar1 > 0:
        noise = ar1(noise, spec.noise_ar1)
    level = draw.level[None, :]
    multiplier = 1.0 if alt.media_multiplier is None else alt.media_multiplier
    contributions = parts["media"] * multiplier * level[..., None]
    bumped = bumped * multiplier * level[..., None]
    baseline = {k: parts[k] * level for k in ("baseline", "trend", "seasonality", "controls")}
    baseline |= alt.extra
    noise = noise * level
    if alt.noise_extra is not None:
        noise = noise + alt.noise_extra
    target = mean_of(baseline | {"media": contributions}) + noise
    exposure = None
    if spec.exposure:
        exposure = buy_exposure(
            np.random.default_rng([seed, 1]),
            blank.dates,
            draw.spend,
            [c.cpm for c in spec.channels],
            [c.cpm_cv for c in spec.channels],
        )
    dataset = Dataset(
        dates=blank.dates,
        geos=blank.geos,
        channels=blank.channels,
        spend=draw.spend,
        exposure=exposure,
        target=target,
        population=None if spec.population is None else np.round(spec.population * draw.size),
        controls=draw.controls,
        control_names=blank.control_names,
        name=name,
        source={"simulator": "mmmlab.synth", "world": name, "seed": seed},
    )
    named, dims = natural_params(params, s, replace(bound.scaling, y_scale=draw.level))
    truth = Truth(
        name=name,
        seed=seed,
        description=alt.description or spec.description,
        breaks=alt.breaks,
        channels=blank.channels,
        geos=blank.geos,
        params=named,
        dims=dims,
        contributions=contributions,
        roas=total_roas(contributions, draw.spend),
        mroas=marginal_roas(contributions, bumped, draw.spend),
        # Media enter additively, so switching a channel off removes exactly its contribution.
        counterfactual=target[..., None] - contributions,
        baseline=baseline,
        noise=noise,
        facts={"media_share": float(contributions.sum() / target.sum())} | alt.facts,
    )
    return dataset, truth
