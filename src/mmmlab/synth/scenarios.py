"""Scenario worlds: each breaks one assumption of the additive MMM, with its answer key.

Every scenario starts from one national business (`scenario_base`, a shipped world file: 3
years weekly, 4 channels, a price index) and changes one thing. `Truth.breaks` names the
broken assumption, `Truth.facts` measures how badly it is broken (checked by the tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mmmlab.data import Dataset
from mmmlab.synth.presets import shipped_world
from mmmlab.synth.spend import log_noise
from mmmlab.synth.truth import Truth
from mmmlab.synth.world import Alteration, Draw, WorldSpec, draw_inputs, respond
from mmmlab.transforms import adstock_weights

# The assumption of the additive MMM each scenario breaks.
BREAKS = {
    "confounded": "no unobserved confounding: every common cause of spend and sales is a control",
    "collinear": "channels vary independently enough to separate their effects",
    "misspecified_transforms": "geometric adstock (peak effect in the week of spend) and "
    "Hill/logistic saturation",
    "drifting_effect": "channel effects are constant over time",
    "heavy_tails": "normal noise",
    "structural_break": "a smooth baseline (linear trend and seasonality)",
    "zero_effect": "every channel has a positive effect (the half-normal effect prior)",
}


def scenario_base() -> WorldSpec:
    """The well-specified national business every scenario departs from
    (`synth/worlds/scenario_base.yaml`)."""
    return shipped_world("scenario_base")


@dataclass(frozen=True)
class Scenario:
    """A named world that breaks `breaks`; `simulate(seed)` returns (Dataset, Truth)."""

    name: str
    description: str
    breaks: str
    simulate: Callable[[int], tuple[Dataset, Truth]]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def _inputs(spec: WorldSpec, seed: int) -> tuple[np.random.Generator, Draw]:
    """The seed's generator and the inputs `spec` draws from it first."""
    rng = np.random.default_rng(seed)
    return rng, draw_inputs(spec, rng)


def _breaking(name: str, description: str, **changes) -> Alteration:
    """The alteration of scenario `name`, which breaks ``BREAKS[name]``."""
    return Alteration(name=name, description=description, breaks=BREAKS[name], **changes)


def confounded(seed: int) -> tuple[Dataset, Truth]:
    """An unobserved demand shock u_t (AR(1)) raises both search spend and sales."""
    spec = scenario_base()
    rng, draw = _inputs(spec, seed)
    u = np.log(log_noise(rng, (spec.n_periods,), cv=1.0, phi=0.9))
    u = (u - u.mean()) / u.std()
    c = 1  # search: budgets follow demand
    spend = draw.spend.copy()
    spend[:, :, c] *= np.exp(0.5 * u)[:, None]
    demand = 0.08 * u[:, None] * draw.level[None, :]
    facts = {
        "confounder_spend_corr": _corr(u, np.log(spend[:, 0, c])),
        "confounder_target_share": float(np.abs(demand).mean() / draw.level.mean()),
    }
    alteration = _breaking(
        "confounded",
        "Unobserved demand drives search spend and sales alike.",
        extra={"confounder": demand},
        facts=facts,
    )
    return respond(spec, draw._replace(spend=spend), rng, seed, alteration)


def collinear(seed: int) -> tuple[Dataset, Truth]:
    """Social spend follows search spend almost exactly (one budget split in fixed shares)."""
    spec = scenario_base()
    rng, draw = _inputs(spec, seed)
    spend = draw.spend.copy()
    ratio = spend[:, :, 2].mean() / spend[:, :, 1].mean()
    spend[:, :, 2] = spend[:, :, 1] * ratio * log_noise(rng, spend[:, :, 1].shape, cv=0.05)
    alteration = _breaking(
        "collinear",
        "Search and social spend move together (correlation above 0.95).",
        facts={"spend_corr_search_social": _corr(spend[:, :, 1], spend[:, :, 2])},
    )
    return respond(spec, draw._replace(spend=spend), rng, seed, alteration)


def misspecified_transforms(seed: int) -> tuple[Dataset, Truth]:
    """TV's carry-over peaks weeks after airing (Weibull pdf) and every channel saturates as
    tanh: neither is the geometric adstock nor the Hill/logistic curve a default fit assumes."""
    spec = scenario_base()
    channels = []
    for ch in spec.channels:
        update = {"saturation": "tanh", "saturation_params": {"scale": 1.5}}
        if ch.name == "tv":
            update |= {"adstock": "weibull_pdf", "adstock_params": {"shape": 3.0, "scale": 0.3}}
        channels.append(ch.model_copy(update=update))
    spec = spec.model_copy(update={"channels": channels})
    weights = np.asarray(
        adstock_weights("weibull_pdf", {"shape": 3.0, "scale": 0.3}, spec.l_max, True)
    )
    alteration = _breaking(
        "misspecified_transforms",
        "TV's carry-over peaks weeks after airing; all channels saturate as tanh.",
        facts={"tv_adstock_peak_lag": float(np.argmax(weights))},
    )
    rng, draw = _inputs(spec, seed)
    return respond(spec, draw, rng, seed, alteration)


def drifting_effect(seed: int) -> tuple[Dataset, Truth]:
    """TV's effectiveness grows steadily, from 0.4× to 1.6× its average over the window."""
    spec = scenario_base()
    rng, draw = _inputs(spec, seed)
    T, G, C = draw.spend.shape
    multiplier = np.ones((T, G, C))
    multiplier[:, :, 0] = np.linspace(0.4, 1.6, T)[:, None]
    drift = multiplier[-T // 4 :, 0, 0].mean() / multiplier[: T // 4, 0, 0].mean()
    alteration = _breaking(
        "drifting_effect",
        "TV's effect per unit of saturated spend drifts from 0.4x to 1.6x.",
        media_multiplier=multiplier,
        facts={"tv_effect_last_over_first_quarter": float(drift)},
    )
    return respond(spec, draw, rng, seed, alteration)


def heavy_tails(seed: int) -> tuple[Dataset, Truth]:
    """Student-t noise with 2 degrees of freedom plus four outlier weeks of ±8 noise sds."""
    spec = scenario_base().model_copy(update={"likelihood": "student_t", "nu": 2.0})
    rng, draw = _inputs(spec, seed)
    T = spec.n_periods
    where = rng.choice(T, size=4, replace=False)
    shocks = np.zeros((T, 1))
    shocks[where, 0] = 8.0 * spec.noise * draw.level[0] * rng.choice([-1.0, 1.0], size=4)
    alteration = _breaking(
        "heavy_tails",
        "Noise is Student-t with 2 degrees of freedom, plus four outlier weeks.",
        noise_extra=shocks,
    )
    dataset, truth = respond(spec, draw, rng, seed, alteration)
    z = truth.noise / (spec.noise * draw.level[0])
    facts = truth.facts | {
        "outliers_beyond_5sd": float((np.abs(z) > 5).sum()),
        "noise_kurtosis": float(np.mean(z**4) / np.mean(z**2) ** 2),
    }
    object.__setattr__(truth, "facts", facts)
    return dataset, truth


def structural_break(seed: int) -> tuple[Dataset, Truth]:
    """The baseline steps up by 25% of its level at 60% of the window (a new store format)."""
    spec = scenario_base()
    rng, draw = _inputs(spec, seed)
    at = int(0.6 * spec.n_periods)
    step = np.zeros((spec.n_periods, 1))
    step[at:] = 0.25 * draw.level[0]
    alteration = _breaking(
        "structural_break",
        "The baseline jumps by 25% at 60% of the window.",
        extra={"break": step},
        facts={"break_period": float(at), "break_size_fraction": 0.25},
    )
    return respond(spec, draw, rng, seed, alteration)


def zero_effect(seed: int) -> tuple[Dataset, Truth]:
    """Display is bought every week but does nothing."""
    spec = scenario_base()
    channels = [
        c.model_copy(update={"roas": 0.0}) if c.name == "display" else c for c in spec.channels
    ]
    spec = spec.model_copy(update={"channels": channels})
    rng, draw = _inputs(spec, seed)
    alteration = _breaking(
        "zero_effect", "Display spend has no effect at all.", facts={"display_true_roas": 0.0}
    )
    return respond(spec, draw, rng, seed, alteration)


SCENARIOS: dict[str, Scenario] = {
    fn.__name__: Scenario(fn.__name__, (fn.__doc__ or "").split("\n")[0], BREAKS[fn.__name__], fn)
    for fn in (
        confounded,
        collinear,
        misspecified_transforms,
        drifting_effect,
        heavy_tails,
        structural_break,
        zero_effect,
    )
}
