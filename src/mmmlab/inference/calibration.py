"""Simulation-based calibration (SBC, Talts et al. 2018) of the MMM and its NUTS sampler.

For each simulation: draw every parameter from the prior and a target `y` from the likelihood,
refit that `y` with NUTS, and rank the prior draw among thinned posterior draws. Ranks are
uniform when model and sampler are calibrated; the statistics live in `mmmlab.metrics.sbc`.

This bypasses `fit()` on purpose: `fit()` rescales the target by its own mean, so a target
simulated on the model scale would be refitted on another scale than the one its parameters
were drawn on. Here the simulated `y` is fed to the very model it came from, bound once to
the dataset's spend and scaling; as every simulation has the same shapes, NUTS compiles once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from numpyro.handlers import seed, trace

from mmmlab.data import Dataset
from mmmlab.data.lift_tests import as_lift_tests
from mmmlab.files import write_json
from mmmlab.inference.constrain import constrain
from mmmlab.inference.diagnostics import convergence
from mmmlab.inference.fit import check_rows
from mmmlab.inference.nuts import run_nuts
from mmmlab.inference.programs import PROGRAMS
from mmmlab.inference.progress import ProgressBar
from mmmlab.inference.settings import SBC_SETTINGS, SamplerSettings, sampler_settings
from mmmlab.metrics.sbc import plot_rank_histograms, rank_histogram, sbc_rank, sbc_summary, thin
from mmmlab.models.config import ModelConfig
from mmmlab.models.mmm import Bound, bind


@dataclass(frozen=True)
class SbcResult:
    """The outcome of an SBC run over N simulations.

    ranks : name -> (N,) rank of the prior draw among `num_draws` posterior draws, in
        0..num_draws, for every scalar parameter (e.g. ``"geometric_alpha[tv]"``,
        ``"sigma[national]"``, ``"trend_slope"``, ``"seasonality[0]"``)
    num_draws : L, the thinned posterior draws each rank is taken among
    num_bins : bins of the rank histograms the summary tests for uniformity
    summary : one row per parameter, from `mmmlab.metrics.sbc.sbc_summary` (chi2, p_value,
        mean_rank_fraction, rejected_1pct)
    diagnostics : one row per simulation: sim, max_rhat, divergences, min_ess_bulk,
        compile_s, sample_s
    seconds : wall time of the whole run
    prior_draws : name -> (N,) the parameter values each simulation was generated from
    posterior_draws : name -> (N, L) the thinned posterior draws they were ranked among
    """

    ranks: dict[str, np.ndarray]
    num_draws: int
    num_bins: int
    summary: pd.DataFrame
    diagnostics: pd.DataFrame
    seconds: float
    prior_draws: dict[str, np.ndarray] = field(default_factory=dict)
    posterior_draws: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def num_simulations(self) -> int:
        return len(self.diagnostics)


def _prior_simulator(bound: Bound) -> Callable:
    """Compiled ``(rng_key, data) -> {site: value}``: one joint draw of parameters and `y`.

    Cached per model structure, like the samplers, so repeated runs do not recompile.
    """
    model = bound.model

    def simulate(rng_key: jax.Array, data) -> dict[str, jax.Array]:
        tr = trace(seed(model, rng_key)).get_trace(data)
        return {name: site["value"] for name, site in tr.items() if site["type"] == "sample"}

    program, _ = PROGRAMS.get(("prior simulation", bound.structure.key), lambda: jax.jit(simulate))
    return program


def _plate_labels(bound: Bound, dataset: Dataset) -> dict[str, tuple[str, ...]]:
    """Element names along each plate of the model (plates not listed are indexed 0..n-1)."""
    channels = bound.structure.channels
    labels = {
        "geo": dataset.geos,
        "geo_of_channel": dataset.geos,
        "channel": channels,
        "channel_of_geo": channels,
        "control_dim": dataset.control_names,
    }
    for site, idx in bound.structure.media_sites:
        labels[f"channel_{site}"] = tuple(channels[i] for i in idx)
    return labels


def scalar_names(bound: Bound, dataset: Dataset) -> dict[str, list[tuple[str, tuple[int, ...]]]]:
    """Name every scalar element of every latent site of the bound model.

    Parameters
    ----------
    bound : the model bound to `dataset`
    dataset : the dataset it was bound to (for geo and control names)

    Returns
    -------
    dict
        site -> list of (name, index) pairs in C order, e.g. ``("effect[tv]", (0,))``,
        ``("effect_geo_z[tv,geo_01]", (0, 1))`` or ``("trend_slope", ())``. Axes under a
        plate of channels, geos or controls are labelled by name, others by position.
    """
    # With `y` observed, its site is not a parameter.
    tr = trace(seed(bound.model, jax.random.PRNGKey(0))).get_trace(bound.data, bound.y)
    labels = _plate_labels(bound, dataset)
    out = {}
    for name, site in tr.items():
        if site["type"] != "sample" or site["is_observed"]:
            continue
        shape = np.shape(site["value"])
        frames = {frame.dim: frame.name for frame in site["cond_indep_stack"]}
        axes = []
        for axis, size in enumerate(shape):
            names = labels.get(frames.get(axis - len(shape), ""), ())
            axes.append(names if len(names) == size else tuple(str(i) for i in range(size)))
        out[name] = [
            (f"{name}[{','.join(a[i] for a, i in zip(axes, index, strict=True))}]", index)
            if shape
            else (name, index)
            for index in np.ndindex(*shape)
        ]
    return out


def run_sbc(
    dataset: Dataset,
    config: ModelConfig | None = None,
    num_simulations: int = 100,
    seed: int = 0,
    num_draws: int = 99,
    num_bins: int = 20,
    progress: bool | Callable[[int, int], None] = False,
    settings: SamplerSettings = SBC_SETTINGS,
    lift_tests: Any = None,
    **options: Any,
) -> SbcResult:
    """Simulation-based calibration of the MMM bound to `dataset`.

    Simulation i uses the key ``fold_in(PRNGKey(seed), i)``: it draws all parameters from the
    prior and `y` (T, G) from the likelihood on the model scale, with the dataset's spend,
    controls, dates and scaling, then runs NUTS on that `y` with the same bound model and
    ranks each scalar prior draw among `num_draws` evenly thinned posterior draws (chains
    stacked). The dataset's own target only sets the scaling; it is never fitted.

    Parameters
    ----------
    dataset : the design (T, G, C): spend, controls and dates the simulations share
    config : model components and priors (default `ModelConfig()`)
    num_simulations : N, prior draws to simulate and refit
    seed : random seed; equal seeds give equal results
    num_draws : L posterior draws ranked against, at most ``num_chains * num_samples``
    num_bins : rank histogram bins; must divide ``num_draws + 1``
    progress : True for a progress bar over simulations, or a callback ``progress(done, N)``
    settings, **options : NUTS settings per refit (`SBC_SETTINGS`: 2 chains of 500 + 500),
        `options` over `settings` as in `fit` (dense mass matrix for national data,
        diagonal for geo panels, unless ``dense_mass`` says)
    lift_tests : lift tests on the dataset (as `fit` takes them): each simulation also draws
        their readouts from the lift term and refits on them; their measured lifts are unused

    Returns
    -------
    SbcResult
        Ranks (N,) per scalar parameter, their uniformity summary, and per-simulation
        convergence diagnostics (check them: ranks from unconverged fits mislead).
    """
    config = ModelConfig() if config is None else config
    settings = sampler_settings(settings, **options)
    if settings.dense_mass is None:
        settings = settings.model_copy(update={"dense_mass": dataset.n_geos == 1})
    num_chains, num_samples = settings.num_chains, settings.num_samples
    if num_simulations < 1:
        raise ValueError(f"num_simulations must be at least 1, got {num_simulations}")
    if not 1 <= num_draws <= num_chains * num_samples:
        raise ValueError(
            f"num_draws={num_draws} must lie in 1..num_chains * num_samples = "
            f"{num_chains * num_samples}; lower num_draws or raise num_samples"
        )
    rank_histogram(np.zeros(0, dtype=int), num_draws, num_bins)  # fail now on bad bins
    check_rows(dataset, config)
    bound = bind(dataset, config, lift_tests=as_lift_tests(lift_tests))
    model, s = bound.model, bound.structure
    simulate = _prior_simulator(bound)
    names = scalar_names(bound, dataset)
    prior = {n: np.empty(num_simulations) for site in names.values() for n, _ in site}
    posterior = {n: np.empty((num_simulations, num_draws)) for n in prior}
    rows = []

    t0 = time.perf_counter()
    with ProgressBar(progress, "SBC") as callback:
        for i in range(num_simulations):
            key_prior, key_fit = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), i))
            draw = jax.device_get(simulate(key_prior, bound.data))
            data = bound.data
            if data.lifts is not None:  # refit on the simulated readouts of the lift tests
                data = data._replace(lifts=data.lifts._replace(lift=jnp.asarray(draw["lift"])))
            args = (data, jnp.asarray(draw["y"]))
            run = run_nuts(key_fit, s.key, model, args, settings)
            post = {k: np.asarray(v) for k, v in constrain(s.key, model, args, run.z).items()}
            rhat, ess_bulk, *_ = convergence(post)
            rows.append(
                {
                    "sim": i,
                    "max_rhat": rhat,
                    "divergences": int(np.sum(run.stats.diverging)),
                    "min_ess_bulk": ess_bulk,
                    "compile_s": run.compile_s,
                    "sample_s": run.sample_s,
                }
            )
            for site, elements in names.items():
                stacked = post[site].reshape((-1,) + post[site].shape[2:])
                kept = thin(stacked, num_draws, axis=0)  # (L, *site_shape)
                for name, index in elements:
                    prior[name][i] = np.asarray(draw[site])[index]
                    posterior[name][i] = kept[(slice(None),) + index]
            if callback is not None:
                callback(i + 1, num_simulations)
    seconds = time.perf_counter() - t0

    rng = np.random.default_rng(seed)  # breaks ties only; continuous draws have none
    ranks = {n: sbc_rank(prior[n], posterior[n], axis=1, rng=rng) for n in prior}
    return SbcResult(
        ranks=ranks,
        num_draws=num_draws,
        num_bins=num_bins,
        summary=sbc_summary(ranks, num_draws, num_bins),
        diagnostics=pd.DataFrame(rows),
        seconds=seconds,
        prior_draws=prior,
        posterior_draws=posterior,
    )


def write_sbc(result: SbcResult, out_dir: str | Path) -> dict[str, Path]:
    """Write an SBC result to `out_dir` (created if missing).

    Files: ``ranks.csv`` (N rows indexed by ``sim``, one column per parameter),
    ``summary.csv`` (one row per parameter), ``diagnostics.csv`` (one row per simulation),
    ``sbc.json`` (num_simulations, num_draws, num_bins, seconds, and chi2 / p_value /
    rejected_1pct per parameter) and ``rank_histograms.png``.

    Returns
    -------
    dict[str, Path]
        ``{"ranks", "summary", "diagnostics", "json", "plot"}`` -> path written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "ranks": out / "ranks.csv",
        "summary": out / "summary.csv",
        "diagnostics": out / "diagnostics.csv",
        "json": out / "sbc.json",
        "plot": out / "rank_histograms.png",
    }
    ranks = pd.DataFrame(result.ranks)
    ranks.index.name = "sim"
    ranks.to_csv(paths["ranks"])
    result.summary.to_csv(paths["summary"], index=False)
    result.diagnostics.to_csv(paths["diagnostics"], index=False)
    parameters = {
        row.parameter: {
            "chi2": float(row.chi2),
            "p_value": float(row.p_value),
            "rejected_1pct": bool(row.rejected_1pct),
        }
        for row in result.summary.itertuples()
    }
    meta = {
        "num_simulations": result.num_simulations,
        "num_draws": result.num_draws,
        "num_bins": result.num_bins,
        "seconds": result.seconds,
        "parameters": parameters,
    }
    write_json(paths["json"], meta, indent=2)
    plot_rank_histograms(result.ranks, result.num_draws, result.num_bins, paths["plot"])
    return paths
