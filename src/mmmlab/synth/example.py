"""The built-in example: a weekly business whose true parameters, contributions and ROAS are known.

The data are simulated by the model itself with its parameters fixed (`numpyro.handlers.
substitute`), so generator and model cannot drift apart. Scenario worlds and presets build on
the same mechanism. The default example is also stored beside this module (`example.npz`,
written by ``python -m mmmlab.synth.example``): simulating it runs the model op by op, about
a second of a new process's `mmmlab fit --example`; a test checks the stored one against a
fresh simulation.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from numpyro.handlers import seed, substitute, trace

from mmmlab.data import Dataset
from mmmlab.models.config import ModelConfig
from mmmlab.models.mmm import bind, mean_of, mmm, saturated_media
from mmmlab.models.units import natural_params
from mmmlab.synth.truth import Truth, marginal_roas, total_roas
from mmmlab.synth.world import fixed_parts

CHANNELS = ("tv", "search", "social", "display")
# On the model scale (target / its mean, media / its mean): max effect, decay, steepness.
TRUE_BETA = np.array([0.25, 0.15, 0.10, 0.08])
TRUE_ALPHA = np.array([0.60, 0.20, 0.40, 0.30])
TRUE_LAM = np.array([1.0, 2.0, 1.5, 3.0])
TRUE_BASELINE = 0.6
MEAN_SPEND = np.array([40_000.0, 25_000.0, 15_000.0, 10_000.0])
REVENUE_SCALE = 400_000.0


def _spend(rng: np.random.Generator, n_weeks: int, n_geos: int) -> np.ndarray:
    """Weekly spend (T, G, C): seasonal budgets, bursts, and TV flighting (weeks off air)."""
    t = np.arange(n_weeks)
    season = 1.0 + 0.3 * np.sin(2 * np.pi * t / 52.18 + 1.0)
    weights = rng.dirichlet(np.full(n_geos, 8.0)) * n_geos  # geo sizes, mean 1
    spend = np.empty((n_weeks, n_geos, len(CHANNELS)))
    for c, mean in enumerate(MEAN_SPEND):
        shape = 2.0 + 2.0 * c
        level = rng.gamma(shape, 1.0 / shape, size=(n_weeks, n_geos)) * season[:, None]
        spend[:, :, c] = mean * level * weights
    on_air = rng.random(n_weeks) < 0.75
    spend[~on_air, :, 0] = 0.0
    return spend


STORED = Path(__file__).with_name("example.npz")  # simulate_example() with its defaults
DEFAULTS = (1, 156, 0, 0.04)  # (n_geos, n_weeks, seed_value, noise) of the stored example


def example_dataset(
    n_geos: int = 1, n_weeks: int = 156, seed_value: int = 0, noise: float = 0.04
) -> tuple[Dataset, Truth]:
    """The example business: `n_weeks` of weekly data, 4 channels, 1 control (price index).

    Generated under the default `ModelConfig` (geometric adstock l_max 8, logistic saturation,
    linear trend, yearly seasonality with 2 modes). Returns the Dataset and its `Truth`;
    with the default arguments, as stored (`STORED`), else simulated (`simulate_example`).
    """
    if (n_geos, n_weeks, seed_value, noise) == DEFAULTS and STORED.exists():
        return read_example(STORED)
    return simulate_example(n_geos, n_weeks, seed_value, noise)


def store_example(path: Path = STORED) -> Path:
    """Write `simulate_example()` with its defaults to `path` (.npz: arrays at full
    precision, the truth as JSON)."""
    dataset, truth = simulate_example(*DEFAULTS)
    np.savez_compressed(
        path,
        dates=dataset.dates.values,
        geos=np.array(dataset.geos),
        channels=np.array(dataset.channels),
        spend=dataset.spend,
        target=dataset.target,
        controls=dataset.controls,
        control_names=np.array(dataset.control_names),
        meta=np.array(json.dumps({"name": dataset.name, "source": dataset.source})),
        truth=np.array(json.dumps(truth.to_json())),
    )
    return path


def read_example(path: Path = STORED) -> tuple[Dataset, Truth]:
    """The Dataset and Truth `store_example` wrote to `path`."""
    with np.load(path) as stored:
        meta = json.loads(str(stored["meta"]))
        dataset = Dataset(
            dates=pd.DatetimeIndex(stored["dates"]),
            geos=tuple(stored["geos"].tolist()),
            channels=tuple(stored["channels"].tolist()),
            spend=stored["spend"],
            target=stored["target"],
            controls=stored["controls"],
            control_names=tuple(stored["control_names"].tolist()),
            name=meta["name"],
            source=meta["source"],
        )
        return dataset, Truth.from_json(json.loads(str(stored["truth"])))


def simulate_example(
    n_geos: int = 1, n_weeks: int = 156, seed_value: int = 0, noise: float = 0.04
) -> tuple[Dataset, Truth]:
    """`example_dataset`, simulated: the model run with the true parameters."""
    rng = np.random.default_rng(seed_value)
    dates = pd.date_range("2022-01-02", periods=n_weeks, freq="W-SUN")
    geos = ("national",) if n_geos == 1 else tuple(f"geo_{i:02d}" for i in range(n_geos))
    spend = _spend(rng, n_weeks, n_geos)
    price = np.cumsum(rng.normal(0, 0.02, n_weeks)) + 1.0
    controls = np.repeat(price[:, None, None], n_geos, axis=1)
    config = ModelConfig()
    blank = Dataset(
        dates=dates,
        geos=geos,
        channels=CHANNELS,
        spend=spend,
        target=np.ones((n_weeks, n_geos)),
        controls=controls,
        control_names=("price_index",),
        name="example",
    )
    _, s, scaling, data, _ = bind(blank, config, media_dtype=jnp.float64)
    params = {
        "trend_slope": np.array(0.06),
        "seasonality": np.array([0.05, 0.03, 0.01, -0.01]),
        "control": np.array([-0.03]),
        "geometric_alpha": TRUE_ALPHA,
        "logistic_lam": TRUE_LAM,
        "sigma": np.full(n_geos, noise),
    }
    if n_geos > 1:
        params |= {
            "effect_geo_sd": np.full(len(CHANNELS), 0.15),
            "effect_geo_z": rng.normal(size=(len(CHANNELS), n_geos)),
        }
    shape_params = {"geometric_alpha": TRUE_ALPHA, "logistic_lam": TRUE_LAM}
    shaped = np.asarray(saturated_media(data.media_lags, shape_params, s))  # (T, G, C)
    params["effect"] = TRUE_BETA * shaped.mean(axis=(0, 1))
    # The model's intercept is the mean level with media at its average: baseline + effects.
    geo_level = TRUE_BASELINE * np.exp(rng.normal(0.0, 0.1, n_geos))
    params["intercept"] = geo_level + params["effect"].sum()
    key = jax.random.PRNGKey(seed_value)
    model = substitute(seed(mmm, key), data={k: jnp.asarray(v) for k, v in params.items()})
    y_model = np.asarray(trace(model).get_trace(data, s)["y"]["value"])
    parts, bumped = fixed_parts(params, data, s)
    revenue_scale = REVENUE_SCALE * spend.sum(axis=(0, 2)) / spend.sum() * n_geos
    target = y_model * revenue_scale
    contributions = parts["media"] * revenue_scale[:, None]
    dataset = Dataset(
        dates=dates,
        geos=geos,
        channels=CHANNELS,
        spend=spend,
        target=target,
        controls=controls,
        control_names=("price_index",),
        population=None,
        name="example" if n_geos == 1 else f"example_{n_geos}geo",
        source={"simulator": "mmmlab.synth.example", "seed": seed_value},
    )
    named, dims = natural_params(params, s, replace(scaling, y_scale=revenue_scale))
    truth = Truth(
        name=dataset.name,
        seed=seed_value,
        description="The built-in example business (logistic saturation, geometric adstock).",
        channels=CHANNELS,
        geos=geos,
        params=named,
        dims=dims,
        contributions=contributions,
        roas=total_roas(contributions, spend),
        mroas=marginal_roas(contributions, bumped * revenue_scale[:, None], spend),
        counterfactual=target[..., None] - contributions,
        baseline={
            k: parts[k] * revenue_scale for k in ("baseline", "trend", "seasonality", "controls")
        },
        noise=(y_model - np.asarray(mean_of(parts))) * revenue_scale,
    )
    return dataset, truth


if __name__ == "__main__":
    print(store_example())
