"""`fit(dataset, config, seed)` and the `Fit` value it returns."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import jax
import numpy as np

from mmmlab.data import Dataset, DatasetError
from mmmlab.inference.diagnostics import Diagnostics, nuts_diagnostics
from mmmlab.inference.nuts import WARMUP_TREE_DEPTH, NutsSettings, constrain, run_nuts
from mmmlab.models.config import ModelConfig
from mmmlab.models.likelihood import draw_noise
from mmmlab.models.mmm import Structure, bind, components, mean_of, structure_of
from mmmlab.models.scaling import ModelData, Scaling, prepare

Method = Literal["nuts", "map", "svi"]
PARTS = ("baseline", "trend", "seasonality", "controls")


@dataclass(frozen=True)
class Components:
    """Posterior draws of the mean's additive parts, in the target's units.

    parts : name -> (S, T, G) for baseline, trend, seasonality, controls
    media : (S, T, G, C) contribution of each channel
    mean : (S, T, G) expected target; S = chains × draws.
    """

    parts: dict[str, np.ndarray]
    media: np.ndarray
    mean: np.ndarray


@dataclass(frozen=True, eq=False)
class Fit:
    """A fitted MMM: posterior draws, settings, scaling, diagnostics and the training data.

    posterior : site -> (chain, draw, *shape) on the model scale
    sample_stats : name -> (chain, draw) sampler statistics (empty for map/svi)
    train : the Dataset the model was fitted on
    """

    config: ModelConfig
    train: Dataset
    scaling: Scaling
    posterior: dict[str, np.ndarray]
    sample_stats: dict[str, np.ndarray]
    diagnostics: Diagnostics
    method: str
    seed: int
    settings: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def _reference_lags(self) -> jax.Array:
        """Training-window lagged media: channel effects are averages over it."""
        return prepare(self.train, self.config, self.scaling).media_lags

    @property
    def structure(self) -> Structure:
        return structure_of(self.config, self.train.channels, self.train.n_geos)

    @property
    def channels(self) -> tuple[str, ...]:
        return self.train.channels

    @property
    def num_draws(self) -> int:
        first = next(iter(self.posterior.values()))
        return int(first.shape[0] * first.shape[1])

    def flat_posterior(self) -> dict[str, np.ndarray]:
        """site -> (S, *shape) with chains stacked."""
        return {k: v.reshape((-1,) + v.shape[2:]) for k, v in self.posterior.items()}

    def _check_window(self, dataset: Dataset) -> None:
        if dataset.channels != self.train.channels or dataset.geos != self.train.geos:
            raise DatasetError(
                f"dataset '{dataset.name}': channels {dataset.channels} / geos {dataset.geos} "
                f"differ from the fitted ones {self.train.channels} / {self.train.geos}"
            )
        if dataset.control_names != self.train.control_names:
            raise DatasetError(
                f"dataset '{dataset.name}': controls {dataset.control_names} differ from the "
                f"fitted ones {self.train.control_names}"
            )

    def components(self, dataset: Dataset | None = None, media_scale: float = 1.0) -> Components:
        """Additive parts for `dataset` (default: the training window), target units.

        Any later window works: its adstock starts from the spend before it, and its time
        index continues from training. `media_scale` multiplies all media (what-if spend).
        """
        dataset = self.train if dataset is None else dataset
        self._check_window(dataset)
        data = prepare(dataset, self.config, self.scaling)
        data = data._replace(
            media_lags=data.media_lags * media_scale, reference_lags=self._reference_lags
        )
        out = evaluate_draws(self.structure, self.flat_posterior(), data)
        y_scale = self.scaling.y_scale
        media = out["media"]
        media *= y_scale[:, None]  # in place: for a large panel this array is gigabytes
        return Components(
            parts={k: out[k] * y_scale for k in PARTS},
            media=media,
            mean=out["mean"] * y_scale,
        )

    def predict(
        self, dataset: Dataset | None = None, seed: int = 0, components: Components | None = None
    ) -> np.ndarray:
        """Posterior predictive draws (S, T, G) of the target for `dataset`, target units.

        Pass `components` (of the same window) when you already have them.
        """
        comp = self.components(dataset) if components is None else components
        post = self.flat_posterior()
        sigma = np.asarray(post["sigma"]).reshape(len(comp.mean), -1)[:, None, :]
        nu = np.asarray(post["nu"]).reshape(-1, 1, 1) if "nu" in post else None
        rng = np.random.default_rng(seed)
        if self.config.likelihood == "student_t":
            # Student-t predictions have always begun with a normal draw they do not use;
            # kept, so a seed gives the predictions it always gave.
            rng.standard_normal(comp.mean.shape)
        noise = draw_noise(self.config.likelihood, rng, sigma, comp.mean.shape, nu)
        return comp.mean + noise * self.scaling.y_scale

    def roas(self, dataset: Dataset | None = None):
        """ROAS and marginal ROAS per channel (see `mmmlab.analysis.roas`)."""
        from mmmlab.analysis.roas import roas_table

        return roas_table(self, dataset)

    def save(self, directory: str) -> None:
        """Write posterior (NetCDF), config and metadata (JSON) and the training data."""
        from mmmlab.inference.serialize import save_fit

        save_fit(self, directory)


_EVALUATORS: dict[str, Callable] = {}


EVAL_CHUNK_ELEMENTS = 2**24  # per chunk of draws: draws × T × G × C elements at most


def evaluate_draws(s: Structure, flat: dict, data: ModelData) -> dict[str, np.ndarray]:
    """Every part (S, T, G) and the media (S, T, G, C) of each posterior draw, in model units.

    Draws go through in chunks (`EVAL_CHUNK_ELEMENTS`), each as large as the last, so one
    compiled program serves and memory stays at the outputs plus one chunk's intermediates.
    """
    n = len(next(iter(flat.values())))
    n_channels, n_time, n_geos, _ = data.media_lags.shape
    size = max(1, min(n, EVAL_CHUNK_ELEMENTS // max(n_channels * n_time * n_geos, 1)))
    fn = _evaluate(s)
    out: dict[str, np.ndarray] = {}
    for start in range(0, n, size):
        rows = np.arange(start, start + size) % n  # the last chunk wraps; extra rows dropped
        part = jax.device_get(fn({k: np.asarray(v)[rows] for k, v in flat.items()}, data))
        keep = min(size, n - start)
        for k, v in part.items():
            if k not in out:
                out[k] = np.empty((n, *np.shape(v)[1:]), dtype=np.asarray(v).dtype)
            out[k][start : start + keep] = np.asarray(v)[:keep]
    return out


def _evaluate(s: Structure) -> Callable:
    """Compiled ``(flat posterior, data) -> parts`` for a structure (cached per structure)."""
    if s.key not in _EVALUATORS:

        def one(params: dict, data: ModelData) -> dict:
            parts = components(params, data, s)
            return {**parts, "mean": mean_of(parts)}

        _EVALUATORS[s.key] = jax.jit(jax.vmap(one, in_axes=(0, None)))
    return _EVALUATORS[s.key]


def check_settings(target_accept: float, **counts: int) -> None:
    """Refuse sampler settings out of range before anything compiles: `target_accept` in
    (0, 1), `seed` 0 or more and every other count 1 or more."""
    for name, value in counts.items():
        low = 0 if name == "seed" else 1
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"{name} must be an integer of {low} or more, got {value!r}")
    if not 0 < target_accept < 1:
        raise ValueError(f"target_accept must be between 0 and 1 (exclusive), got {target_accept}")


def check_rows(train: Dataset, config: ModelConfig) -> None:
    """Refuse data too short for the model it would fit."""
    n_coef = train.n_channels * 2 + train.n_controls + 2 * config.yearly_seasonality + 3
    need = max(n_coef + 5, config.l_max + 5)
    if train.n_time < need:
        raise DatasetError(
            f"dataset '{train.name}': {train.n_time} periods are too few for this model "
            f"(~{n_coef} coefficients per geo; need at least {need}). Use more history, fewer "
            "channels or controls, or fewer seasonality modes."
        )
    flat = np.ptp(train.target, axis=0) == 0
    if flat.any():
        geo = train.geos[int(np.argmax(flat))]
        raise DatasetError(f"dataset '{train.name}': target is constant in geo {geo!r}")


def fit(
    dataset: Dataset,
    config: ModelConfig | None = None,
    seed: int = 0,
    method: Method = "nuts",
    num_warmup: int = 1000,
    num_samples: int = 1000,
    num_chains: int = 2,
    target_accept: float = 0.85,
    max_tree_depth: int = 10,
    warmup_tree_depth: int = WARMUP_TREE_DEPTH,
    dense_mass: bool | None = None,
    num_starts: int | None = None,
    progress: bool | Callable[[int, int], None] = False,
) -> Fit:
    """Fit the additive MMM to `dataset`.

    Parameters
    ----------
    dataset : the training window (T, G, C)
    config : model components and priors (default `ModelConfig()`)
    seed : the random seed; equal seeds give equal posteriors
    method : 'nuts' (full posterior), 'map' (posterior mode, seconds) or 'svi' (mean-field
        variational approximation)
    num_warmup, num_samples, num_chains, target_accept, max_tree_depth : NUTS settings
    warmup_tree_depth : the NUTS depth cap during warmup (`inference.nuts.WARMUP_TREE_DEPTH`)
    dense_mass : full mass matrix; None chooses: dense for national data (few, correlated
        parameters), diagonal for geo panels (a dense estimate of ~100+ dimensions from
        warmup draws is too noisy to help)
    num_starts : optimised starting points (None = 1: each chain optimises its own start);
        more start every chain near the best mode found (`NutsSettings`)
    progress : True for a progress bar, or a callback ``progress(done, total)``
    """
    config = ModelConfig() if config is None else config
    check_settings(
        seed=seed,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        max_tree_depth=max_tree_depth,
        target_accept=target_accept,
    )
    check_rows(dataset, config)
    model, s, scaling, data, y = bind(dataset, config)
    rng_key = jax.random.PRNGKey(seed)
    if method == "nuts":
        settings = NutsSettings(
            num_warmup=num_warmup,
            num_samples=num_samples,
            num_chains=num_chains,
            target_accept=target_accept,
            max_tree_depth=max_tree_depth,
            warmup_tree_depth=warmup_tree_depth,
            dense_mass=dataset.n_geos == 1 if dense_mass is None else dense_mass,
            num_starts=num_starts or 1,
        )
        with _ProgressBar(progress, "NUTS") as callback:
            run = run_nuts(rng_key, s.key, model, (data, y), settings, callback)
        posterior = constrain(s.key, model, (data, y), settings, run.z)
        posterior = {k: np.asarray(v) for k, v in posterior.items()}
        stats = {k: np.asarray(v) for k, v in run.stats._asdict().items()}
        diagnostics = nuts_diagnostics(posterior, run, num_chains, num_samples)
        settings_json: dict[str, Any] = settings._asdict()
    elif method in ("map", "svi"):
        from mmmlab.inference.optimize import fit_map, fit_svi

        t0 = time.perf_counter()
        runner = fit_map if method == "map" else fit_svi
        posterior = runner(rng_key, s.key, model, (data, y), num_draws=num_samples)
        elapsed = time.perf_counter() - t0
        stats = {}
        first = next(iter(posterior.values()))
        diagnostics = Diagnostics(
            max_rhat=float("nan"),
            min_ess_bulk=float("nan"),
            min_ess_tail=float("nan"),
            divergences=0,
            min_bfmi=float("nan"),
            compile_s=0.0,
            sample_s=elapsed,
            ess_per_s=float("nan"),
            num_chains=int(first.shape[0]),
            num_draws=int(first.shape[1]),
            method=method,
        )
        settings_json = {"num_samples": num_samples}
    else:
        raise ValueError(f"method must be 'nuts', 'map' or 'svi', got {method!r}")
    return Fit(
        config=config,
        train=dataset,
        scaling=scaling,
        posterior=posterior,
        sample_stats=stats,
        diagnostics=diagnostics,
        method=method,
        seed=seed,
        settings=settings_json,
    )


class _ProgressBar:
    """Context manager: a Rich progress bar (with ETA) or a user callback, or nothing."""

    def __init__(self, progress: bool | Callable[[int, int], None], label: str) -> None:
        self.progress, self.label, self._bar = progress, label, None

    def __enter__(self) -> Callable[[int, int], None] | None:
        if callable(self.progress):
            return self.progress
        if not self.progress:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            transient=True,
        )
        self._bar.start()
        task = self._bar.add_task(f"{self.label} (compiling on first use)", total=None)

        def update(done: int, total: int) -> None:
            self._bar.update(task, completed=done, total=total, description=self.label)

        return update

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
