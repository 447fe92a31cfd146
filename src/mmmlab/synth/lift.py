"""The true lift of a lift test in a simulated world: its answer key for an experiment.

A world's target is the additive MMM with its parameters fixed (`synth.world`), so the lift a
change of spend would have caused is the model's own `predicted_lift` under the true
parameters: the same lagged media with and without the change, the same adstock and
saturation, and the world's coefficients. Scenario worlds whose response departs from the
model (a drifting effect) have no such answer and are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import jax.numpy as jnp
import numpy as np

from mmmlab.data import Dataset
from mmmlab.data.lift_tests import LiftExperiment
from mmmlab.models.config import ModelConfig
from mmmlab.models.lift import prepare_lifts
from mmmlab.models.mmm import media_coefficient, predicted_lift, saturated_media, structure_of
from mmmlab.models.scaling import Scaling, prepare
from mmmlab.synth.truth import Truth


def true_lifts(
    tests: Sequence[LiftExperiment], dataset: Dataset, truth: Truth, config: ModelConfig
) -> np.ndarray:
    """(N,) the lift each test would have measured in the world, without noise (target units).

    dataset, truth : the world's whole simulated window and its answer key (`Truth.check_data`)
    config : the world's model config (`WorldSpec.model_config_of`)

    Raises ValueError when the truth's contributions are not the model's response under
    `config` (another config, or a world that departs from the model).
    """
    truth.check_data(dataset)
    world = replace(dataset, exposure=None, history_exposure=None)  # spend drives the response
    # The world's media scale, and target units as the model's (y_scale 1): the lifts come
    # out in target units, with the true effects (G, C) in target units per period.
    scaling = replace(Scaling.fit(world, config), y_scale=np.ones(world.n_geos))
    s = structure_of(config, world.channels, world.n_geos)
    data = prepare(world, config, scaling, jnp.float64)
    lifts = prepare_lifts(tests, world, config, scaling, jnp.float64)
    missing = [site for site, _ in s.media_sites if site not in truth.params]
    if missing:
        raise ValueError(
            f"truth {truth.name!r}: no true {missing}; this config's response is not the "
            "world's: give the world's own config (WorldSpec.model_config_of)"
        )
    params = {
        site: jnp.asarray(np.asarray(truth.params[site], float)[list(idx)])
        for site, idx in s.media_sites
    }
    shaped = saturated_media(data.media_lags, params, s)  # (T, G, C)
    beta = media_coefficient(shaped, jnp.asarray(truth.params["effect"], dtype=float))
    response = np.asarray(beta * shaped)
    gap = np.abs(response - truth.contributions).max() / max(np.abs(truth.contributions).max(), 1)
    if gap > 1e-9:
        raise ValueError(
            f"truth {truth.name!r} (seed {truth.seed}): its contributions are not the model's "
            f"response under this config (largest gap {gap:.1e} of the largest contribution): "
            "give the world's own config (WorldSpec.model_config_of), or a world whose media "
            "response is the model's"
        )
    return np.asarray(predicted_lift(params, beta, lifts, s) * lifts.unit)


def measured_lifts(
    tests: Sequence[LiftExperiment],
    dataset: Dataset,
    truth: Truth,
    config: ModelConfig,
    se_fraction: float,
    rng: np.random.Generator,
) -> tuple[LiftExperiment, ...]:
    """`tests` as an experiment would read them out: the true lift (`true_lifts`) plus
    Normal noise whose sd, the stated ``lift_se``, is `se_fraction` of the true lift."""
    lifts = true_lifts(tests, dataset, truth, config)
    se = se_fraction * np.abs(lifts)
    noisy = lifts + se * rng.standard_normal(len(lifts))
    return tuple(
        replace(t, lift=float(v), lift_se=float(e))
        for t, v, e in zip(tests, noisy, se, strict=True)
    )


def team_designs(
    dataset: Dataset,
    rng: np.random.Generator,
    go_dark: str,
    boost: str,
    margin: int,
    dark_periods: int = 8,
    boost_periods: int = 4,
) -> tuple[LiftExperiment, ...]:
    """Two experiments a team would run, at random starts `margin` or more periods from
    either end: a go-dark of `go_dark` (its spend to 0 over `dark_periods`) and a +50% test
    of `boost` over `boost_periods` in which it was on air; tests of one channel are `margin`
    or more periods apart, so neither's window or carry-over holds the other's change.
    Lifts are placeholders (`measured_lifts` reads them out)."""
    d, spend, T = dataset.dates, dataset.spend, dataset.n_time
    dark, plus = dataset.channels.index(go_dark), dataset.channels.index(boost)
    a = int(rng.integers(margin, T - dark_periods - margin))
    clash = range(a - boost_periods - margin, a + dark_periods + margin + 1)
    on_air = [
        t
        for t in range(margin, T - boost_periods - margin)
        if (spend[t : t + boost_periods, :, plus] > 0).all() and not (plus == dark and t in clash)
    ]
    b = int(rng.choice(on_air))
    removed = -spend[a : a + dark_periods, :, dark].sum()
    added = 0.5 * spend[b : b + boost_periods, :, plus].sum()
    return (
        LiftExperiment(
            go_dark, d[a], d[a + dark_periods - 1], removed, 0.0, 1.0,
            spread="proportional", where=f"{go_dark} go-dark",
        ),
        LiftExperiment(
            boost, d[b], d[b + boost_periods - 1], added, 0.0, 1.0,
            spread="proportional", where=f"{boost} +50%",
        ),
    )  # fmt: skip
