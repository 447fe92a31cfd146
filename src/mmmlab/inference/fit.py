"""`fit(dataset, config, seed)`, the `Fit` value it returns, and `load_fit`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import jax
import numpy as np
import pandas as pd

from mmmlab.data import Dataset, DatasetError
from mmmlab.data.lift_tests import LiftExperiment, as_lift_tests
from mmmlab.inference.components import (
    PARTS,
    Components,
    chunk_size,
    evaluate_draws,
    evaluate_lifts,
    evaluate_media,
)
from mmmlab.inference.constrain import constrain, constrain_in_pieces
from mmmlab.inference.diagnostics import Diagnostics, nuts_diagnostics
from mmmlab.inference.nuts import run_nuts
from mmmlab.inference.progress import ProgressBar
from mmmlab.inference.serialize import read_fit, save_fit
from mmmlab.inference.settings import SamplerSettings, check_seed, sampler_settings
from mmmlab.metrics.roas import MARGIN, roas_draws, roas_summary
from mmmlab.models.config import ModelConfig
from mmmlab.models.copula import with_copula_controls
from mmmlab.models.lift import prepare_lifts
from mmmlab.models.likelihood import (
    ar1,
    draw_noise,
    pointwise_log_likelihood,
    target_distribution,
)
from mmmlab.models.mmm import Structure, bind, structure_of
from mmmlab.models.scaling import Scaling, prepare

Method = Literal["nuts", "map", "svi"]


@dataclass(frozen=True, eq=False)
class Fit:
    """A fitted MMM: posterior draws, settings, scaling, diagnostics and the training data.

    posterior : site -> (chain, draw, *shape) on the model scale
    sample_stats : name -> (chain, draw) sampler statistics (empty for map/svi)
    train : the Dataset the model was fitted on
    lift_tests : the lift tests the fit was calibrated on (`data.lift_tests`)
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
    lift_tests: tuple[LiftExperiment, ...] = ()

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
        out = evaluate_draws(
            self.structure, self.flat_posterior(), self._window(dataset, media_scale)
        )
        y_scale = self.scaling.y_scale
        media = out["media"]
        media *= y_scale[:, None]  # in place: for a large panel this array is gigabytes
        return Components(
            parts={k: out[k] * y_scale for k in PARTS},
            media=media,
            mean=out["mean"] * y_scale,
        )

    def media(self, dataset: Dataset | None = None, media_scale: float = 1.0) -> np.ndarray:
        """Each channel's contribution (S, T, G, C) for `dataset` (default: the training
        window) in target units: `components(...).media` without the other parts."""
        media = evaluate_media(
            self.structure, self.flat_posterior(), self._window(dataset, media_scale)
        )
        media *= self.scaling.y_scale[:, None]
        return media

    def _window(self, dataset: Dataset | None, media_scale: float):
        """The model's data for `dataset` (default: training), its media scaled by
        `media_scale`, channel effects averaged over the training window."""
        dataset = self.train if dataset is None else dataset
        dataset = with_copula_controls(dataset, self.config.endogenous, self.train)
        self._check_window(dataset)
        data = prepare(dataset, self.config, self.scaling)
        return data._replace(
            media_lags=data.media_lags * media_scale, reference_lags=self._reference_lags
        )

    def _noise_params(
        self, n_draws: int
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Per draw: noise sd (S, 1, G) on the model scale, `nu` and `noise_rho` (S, 1, 1) or
        None."""
        post = self.flat_posterior()
        sigma = np.asarray(post["sigma"]).reshape(n_draws, 1, -1)
        nu, rho = (
            np.asarray(post[k]).reshape(-1, 1, 1) if k in post else None
            for k in ("nu", "noise_rho")
        )
        return sigma, nu, rho

    def predict(
        self, dataset: Dataset | None = None, seed: int = 0, components: Components | None = None
    ) -> np.ndarray:
        """Posterior predictive draws (S, T, G) of the target for `dataset`, target units.

        Pass `components` (of the same window) when you already have them.
        """
        comp = self.components(dataset) if components is None else components
        sigma, nu, rho = self._noise_params(len(comp.mean))
        rng = np.random.default_rng(seed)
        if self.config.likelihood == "student_t":
            # Student-t predictions have always begun with a normal draw they do not use;
            # kept, so a seed gives the predictions it always gave.
            rng.standard_normal(comp.mean.shape)
        noise = draw_noise(self.config.likelihood, rng, sigma, comp.mean.shape, nu)
        if rho is not None:
            noise = ar1(noise, rho[:, 0], axis=1)
        return comp.mean + noise * self.scaling.y_scale

    def log_likelihood(
        self, dataset: Dataset | None = None, components: Components | None = None
    ) -> np.ndarray:
        """(S, T, G) log-likelihood of `dataset`'s target (default: training) per draw and
        observation (`models.likelihood`; with AR(1) noise, each period given the one before)."""
        dataset = self.train if dataset is None else dataset
        comp = self.components(dataset) if components is None else components
        sigma, nu, rho = self._noise_params(len(comp.mean))
        scale = sigma * self.scaling.y_scale
        noise = target_distribution(
            self.config.likelihood, comp.mean, scale, nu, None if rho is None else rho[:, 0, 0]
        )
        return np.asarray(pointwise_log_likelihood(noise, dataset.target[None]))

    def roas_draws(
        self, dataset: Dataset | None = None, components: Components | None = None
    ) -> dict[str, np.ndarray]:
        """Draws (S, C) of total contribution, ROAS and mROAS over `dataset`'s window (default:
        training) and all geos (`metrics.roas.roas_draws`); `components` of the same window
        are reused when given."""
        dataset = self.train if dataset is None else dataset
        base = self.components(dataset) if components is None else components
        bumped = self.media(dataset, media_scale=1.0 + MARGIN)
        return roas_draws(base.media, bumped, dataset.spend)

    def roas(
        self, dataset: Dataset | None = None, components: Components | None = None
    ) -> pd.DataFrame:
        """One row per channel: spend, contribution, ROAS and mROAS (mean, median, 90%
        interval), shares of effect and of spend (`metrics.roas.roas_summary`)."""
        dataset = self.train if dataset is None else dataset
        draws = self.roas_draws(dataset, components)
        return roas_summary(draws, dataset.spend, dataset.channels)

    def lift_draws(self) -> np.ndarray:
        """(S, N) each lift test's predicted lift per draw, in target units: the media
        response with the test's spend change minus without (`models.mmm.predicted_lift`)."""
        if not self.lift_tests:
            return np.zeros((self.num_draws, 0))
        data = prepare(self.train, self.config, self.scaling)
        lifts = prepare_lifts(self.lift_tests, self.train, self.config, self.scaling)
        return evaluate_lifts(self.structure, self.flat_posterior(), data._replace(lifts=lifts))

    def save(self, directory: str | Path) -> None:
        """Write posterior (NetCDF), config and metadata (JSON) and the training data
        (`inference.serialize`); `load_fit` reads them back."""
        save_fit(self, directory)


def load_fit(directory: str | Path) -> Fit:
    """The `Fit` saved in `directory`, refused if damaged or edited since
    (`inference.serialize.read_fit`)."""
    return Fit(**read_fit(directory))


# Programs to compile while the sampler compiles, beside constraining the draws: functions of
# a draft `Fit` (one chunk of zero draws of the fit's shapes). Modules above inference add
# theirs on import (`analysis.draws`: the report's), so a process that will write a report
# compiles its programs in the sampler's shadow without inference importing analysis.
WARMUPS: list[Callable[[Fit], None]] = []


def _report_programs(
    model: Callable,
    s: Structure,
    scaling: Scaling,
    data: Any,
    y: Any,
    dataset: Dataset,
    config: ModelConfig,
    settings: SamplerSettings,
    tests: tuple[LiftExperiment, ...],
) -> Callable[[dict[str, Any]], None]:
    """What the fit runs while its sampler compiles: the programs that come after sampling
    (constraining the draws, and `WARMUPS`: the report's), traced and compiled for the fit's
    shapes by running them on zero draws (one chunk of draws). The real
    calls then find them compiled; a new process pays neither their tracing nor their
    compile after sampling. A warm-up only: whatever it raises, the real calls raise."""

    def run(sites: dict[str, Any]) -> None:
        try:
            shape = (settings.num_chains, settings.num_samples)
            z = {k: np.zeros(shape + v.shape, v.dtype) for k, v in sites.items()}
            drawn = {k: np.asarray(v) for k, v in constrain(s.key, model, (data, y), z).items()}
            flat = {k: v.reshape((-1,) + v.shape[2:]) for k, v in drawn.items()}
            size = chunk_size(len(next(iter(flat.values()))), prepare(dataset, config, scaling))
            chunk = {k: v[None, :size] for k, v in flat.items()}
            none: Any = None  # no diagnostics: the draft only evaluates
            draft = Fit(config, dataset, scaling, chunk, {}, none, "nuts", 0, lift_tests=tests)
            for warm in WARMUPS:
                warm(draft)
        except Exception:  # noqa: BLE001, S110  (a warm-up: the real calls report errors)
            pass

    return run


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
    settings: SamplerSettings | None = None,
    progress: bool | Callable[[int, int], None] = False,
    lift_tests: Any = None,
    **options: Any,
) -> Fit:
    """Fit the additive MMM to `dataset`.

    Parameters
    ----------
    dataset : the training window (T, G, C)
    config : model components and priors (default `ModelConfig()`)
    seed : the random seed (0 or more); equal seeds give equal posteriors
    method : 'nuts' (full posterior), 'map' (posterior mode, seconds) or 'svi' (mean-field
        variational approximation; `num_samples` draws of it)
    settings : sampler settings (default `SamplerSettings()`: 2 chains of 1000 warmup
        iterations and 1000 draws, target acceptance 0.85, ...)
    progress : True for a progress bar, or a callback ``progress(done, total)``
    lift_tests : a lift-test file, or `LiftExperiment`s (or their dicts): each adds
        ``lift ~ Normal(predicted lift, lift_se)`` to the likelihood (`data.lift_tests`)
    **options : any field of `SamplerSettings`, over `settings` (``num_warmup=500``). With
        ``dense_mass=None`` (the default) the mass matrix is dense for national data (few,
        correlated parameters) and diagonal for geo panels (a dense estimate of ~100+
        dimensions from warmup draws is too noisy to help).

    Raises ValueError naming the setting when a setting or the seed is out of range, and
    naming the row of a lift test that does not fit the data.
    """
    config = ModelConfig() if config is None else config
    seed = check_seed(seed)
    settings = sampler_settings(settings, **options)
    dataset = with_copula_controls(dataset, config.endogenous)
    check_rows(dataset, config)
    tests = as_lift_tests(lift_tests)
    model, s, scaling, data, y = bind(dataset, config, lift_tests=tests)
    rng_key = jax.random.PRNGKey(seed)
    if method == "nuts":
        dense = dataset.n_geos == 1 if settings.dense_mass is None else settings.dense_mass
        settings = settings.model_copy(
            update={"dense_mass": dense, "num_starts": settings.num_starts or 1}
        )
        with ProgressBar(progress, "NUTS") as callback:
            report = _report_programs(model, s, scaling, data, y, dataset, config, settings, tests)
            run = run_nuts(rng_key, s.key, model, (data, y), settings, callback, report)
        posterior = constrain_in_pieces(s.key, model, (data, y), run.z, settings.num_samples)
        stats = {k: np.asarray(v) for k, v in run.stats._asdict().items()}
        num_draws = run.stats.num_steps.shape[1]  # num_samples, or more (`extra_samples`)
        diagnostics = nuts_diagnostics(posterior, run, settings.num_chains, num_draws)
        settings_json: dict[str, Any] = settings.model_dump()
    elif method in ("map", "svi"):
        from mmmlab.inference.optimize import fit_map, fit_svi

        t0 = time.perf_counter()
        runner = fit_map if method == "map" else fit_svi
        posterior = runner(rng_key, s.key, model, (data, y), num_draws=settings.num_samples)
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
        settings_json = {"num_samples": settings.num_samples}
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
        lift_tests=tests,
    )
