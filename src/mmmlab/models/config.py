"""`ModelConfig`: the strict, frozen description of an MMM's components and priors."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpyro.distributions as dist
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mmmlab.files import schema_errors
from mmmlab.models.likelihood import Likelihood, Noise
from mmmlab.transforms import ADSTOCK_PARAMS, SATURATION_PARAMS

AdstockName = Literal["geometric", "delayed", "weibull_cdf", "weibull_pdf"]
SaturationName = Literal["hill", "logistic", "michaelis_menten", "tanh"]

_STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

# The parameters each prior family reads (scale, a, b and df must be positive where read).
FAMILY_PARAMS: dict[str, tuple[str, ...]] = {
    "normal": ("loc", "scale"),
    "half_normal": ("scale",),
    "lognormal": ("loc", "scale"),
    "beta": ("a", "b"),
    "gamma": ("a", "b"),
    "exponential": ("b",),
    "laplace": ("loc", "scale"),
    "student_t": ("df", "loc", "scale"),
    "half_student_t": ("df", "scale"),
    "uniform": ("lower", "upper"),
}


class Prior(BaseModel):
    """A prior by family and named parameters, e.g. ``{dist: beta, a: 1, b: 3}``.

    Families and their parameters: normal(loc, scale), half_normal(scale), lognormal(loc,
    scale), beta(a, b), gamma(a = shape, b = rate), exponential(b = rate), laplace(loc,
    scale), student_t(df, loc, scale), half_student_t(df, scale), uniform(lower, upper).
    """

    model_config = _STRICT
    dist: Literal[
        "normal",
        "half_normal",
        "lognormal",
        "beta",
        "gamma",
        "exponential",
        "laplace",
        "student_t",
        "half_student_t",
        "uniform",
    ]
    loc: float = 0.0
    scale: float = 1.0
    a: float = 1.0
    b: float = 1.0
    df: float = 3.0
    lower: float = 0.0
    upper: float = 1.0

    @field_validator("scale", "a", "b", "df")
    @classmethod
    def _positive(cls, value: float, info: ValidationInfo) -> float:
        family = info.data.get("dist")
        if value <= 0 and info.field_name in FAMILY_PARAMS.get(family, ()):
            raise ValueError(f"must be > 0 for the {family} family, got {value:g}")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> Prior:
        if self.dist == "uniform" and not self.lower < self.upper:
            raise ValueError(
                f"a uniform prior needs lower < upper, got lower {self.lower:g}, "
                f"upper {self.upper:g}"
            )
        return self

    def build(self, **override: object) -> dist.Distribution:
        """The NumPyro distribution; `override` replaces parameters by name (arrays allowed)."""
        p = {**self.model_dump(exclude={"dist"}), **override}
        builders = {
            "normal": lambda: dist.Normal(p["loc"], p["scale"]),
            "half_normal": lambda: dist.HalfNormal(p["scale"]),
            "lognormal": lambda: dist.LogNormal(p["loc"], p["scale"]),
            "beta": lambda: dist.Beta(p["a"], p["b"]),
            "gamma": lambda: dist.Gamma(p["a"], p["b"]),
            "exponential": lambda: dist.Exponential(p["b"]),
            "laplace": lambda: dist.Laplace(p["loc"], p["scale"]),
            "student_t": lambda: dist.StudentT(p["df"], p["loc"], p["scale"]),
            "half_student_t": lambda: (
                dist.HalfCauchy(p["scale"])
                if p["df"] == 1
                else dist.FoldedDistribution(dist.StudentT(p["df"], 0.0, p["scale"]))
            ),
            "uniform": lambda: dist.Uniform(p["lower"], p["upper"]),
        }
        return builders[self.dist]()


def P(dist_name: str, **params: float) -> Prior:
    """Short constructor for the defaults table."""
    return Prior(dist=dist_name, **params)


# Defaults on the model's scale: target divided by its per-geo mean, media by its per-channel
# mean, controls standardised, time in units of the training length. Weakly informative there.
DEFAULT_PRIORS: dict[str, Prior] = {
    "intercept": P("normal", loc=1.0, scale=0.5),
    "trend_slope": P("normal", loc=0.0, scale=0.5),
    "trend_delta": P("laplace", loc=0.0, scale=0.1),
    "seasonality": P("normal", loc=0.0, scale=0.2),
    "control": P("normal", loc=0.0, scale=0.2),
    "effect": P("half_normal", scale=0.2),
    "effect_geo_sd": P("half_normal", scale=0.2),
    "sigma": P("half_normal", scale=0.2),
    "nu": P("gamma", a=2.0, b=0.1),
    "noise_rho": P("uniform", lower=-1.0, upper=1.0),
    "geometric_alpha": P("beta", a=1.0, b=3.0),
    "delayed_alpha": P("beta", a=1.0, b=3.0),
    "delayed_theta": P("uniform", lower=0.0, upper=3.0),
    "weibull_cdf_shape": P("lognormal", loc=0.0, scale=0.5),
    "weibull_cdf_scale": P("beta", a=1.5, b=6.0),
    "weibull_pdf_shape": P("lognormal", loc=0.5, scale=0.5),
    "weibull_pdf_scale": P("beta", a=1.5, b=6.0),
    "hill_half_saturation": P("lognormal", loc=0.0, scale=0.7),
    "hill_slope": P("lognormal", loc=0.0, scale=0.4),
    "logistic_lam": P("gamma", a=2.0, b=2.0),
    "michaelis_menten_half_saturation": P("lognormal", loc=0.0, scale=0.7),
    "tanh_scale": P("lognormal", loc=0.5, scale=0.7),
}
# A prior on each channel's ROAS in place of the one on `effect`: prior keys "roas" (every
# channel) and "roas.channel". The model rescales it into the effect's prior by the channel's
# spend over the target in training (see `mmm.effect_prior`), so it is for revenue targets, or
# for targets whose units per unit of spend the user has a belief about. Channels without a key
# of their own take this: Meridian's default ROI prior, median ROAS 1.2, 90% within 0.28-5.3.
ROAS = "roas"
DEFAULT_ROAS_PRIOR = P("lognormal", loc=0.2, scale=0.9)
ROAS_FAMILIES = {"half_normal", "lognormal", "gamma", "exponential", "half_student_t"}

# Sites with one value per channel; a prior key "site.channel" overrides one channel.
CHANNEL_SITES = {"effect", "effect_geo_sd", ROAS} | {
    f"{name}_{param}"
    for table in (ADSTOCK_PARAMS, SATURATION_PARAMS)
    for name, params in table.items()
    for param in params
}


class ChannelTransforms(BaseModel):
    """Per-channel choice of adstock and saturation (unset fields use the model-wide choice)."""

    model_config = _STRICT
    adstock: AdstockName | None = None
    saturation: SaturationName | None = None


class ModelConfig(BaseModel):
    """What the additive MMM contains. Frozen, and unknown keys are rejected.

    The media effect of channel c is ``beta_c * saturation(adstock(x_c))``, with ``beta_c``
    set through the sampled ``effect_c``: the channel's average contribution per period over
    the training window (model scale), i.e. its ROAS up to known constants. `channels`
    overrides the transforms for named channels. `priors` overrides any default prior by site
    name (see `DEFAULT_PRIORS`), or one channel's prior with the key ``"site.channel"``. A key
    ``"roas"`` or ``"roas.channel"`` puts the channels' prior on ROAS instead of `effect`
    (see `ROAS`). `noise` is ``"iid"`` (independent in time) or ``"ar1"``: AR(1) in time with
    lag-1 autocorrelation `noise_rho`, so a slow, unobserved driver of the target counts as
    the few independent facts it is, not as many (`models.likelihood.AR1`). `endogenous`
    names channels whose spend follows demand: each gets a Gaussian copula control, so
    demand that moves its spend is not credited to it (`models.copula`).
    """

    model_config = _STRICT
    adstock: AdstockName = "geometric"
    saturation: SaturationName = "logistic"
    l_max: int = Field(8, ge=1, le=104)
    normalize_adstock: bool = True
    channels: dict[str, ChannelTransforms] = Field(default_factory=dict)
    trend: Literal["none", "linear", "piecewise"] = "linear"
    n_changepoints: int = Field(5, ge=1, le=50)
    yearly_seasonality: int = Field(2, ge=0, le=20)
    weekly_seasonality: int = Field(3, ge=0, le=3)
    likelihood: Likelihood = "normal"
    noise: Noise = "iid"
    priors: dict[str, Prior] = Field(default_factory=dict)
    endogenous: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_prior_keys(self) -> ModelConfig:
        for key, prior in self.priors.items():
            site = key.split(".", 1)[0]
            if site not in DEFAULT_PRIORS and site != ROAS:
                raise ValueError(
                    f"priors: unknown site {site!r} in key {key!r}; known sites: "
                    f"{sorted([*DEFAULT_PRIORS, ROAS])}"
                )
            if "." in key and site not in CHANNEL_SITES:
                raise ValueError(f"priors: {site!r} has no per-channel values; use key {site!r}")
            if site == ROAS and prior.dist not in ROAS_FAMILIES:
                raise ValueError(
                    f"priors.{key}: a ROAS prior must be positive, one of "
                    f"{sorted(ROAS_FAMILIES)}; got {prior.dist!r}"
                )
        effect_keys = [k for k in self.priors if k.split(".", 1)[0] == "effect"]
        if self.roas_prior and effect_keys:
            raise ValueError(
                f"priors: {effect_keys} and a 'roas' prior both set the channel effects; give "
                "each channel's prior on ROAS ('roas', 'roas.channel') or on 'effect', not both"
            )
        return self

    @property
    def roas_prior(self) -> bool:
        """Whether the channel effects have their prior on ROAS (a ``"roas"`` prior key)."""
        return any(k.split(".", 1)[0] == ROAS for k in self.priors)

    def prior(self, site: str, channel: str | None = None) -> Prior:
        """The prior of `site` (for `channel` where it has per-channel values)."""
        if channel is not None and f"{site}.{channel}" in self.priors:
            return self.priors[f"{site}.{channel}"]
        default = DEFAULT_ROAS_PRIOR if site == ROAS else DEFAULT_PRIORS[site]
        return self.priors.get(site, default)

    def transforms_of(self, channel: str) -> tuple[str, str]:
        """(adstock, saturation) used by `channel`."""
        spec = self.channels.get(channel, ChannelTransforms())
        return spec.adstock or self.adstock, spec.saturation or self.saturation

    @classmethod
    def from_yaml(cls, path: str | Path) -> ModelConfig:
        """Read a config file; errors name the file and the offending key."""
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError as err:
            raise ValueError(f"{path}: config file not found") from err
        except yaml.YAMLError as err:
            raise ValueError(f"{path}: not valid YAML: {err}") from err
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: expected a mapping of keys, got {type(raw).__name__}")
        try:
            return cls.model_validate(raw)
        except ValidationError as err:
            raise ValueError(f"{path}: invalid model config\n" + schema_errors(err)) from err
