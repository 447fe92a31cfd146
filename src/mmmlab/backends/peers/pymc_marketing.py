"""PyMC-Marketing's multidimensional ``MMM`` (``pymc-marketing`` 0.x) behind the backend interface.

Install the extra: ``pip install 'mmmlab[pymc]'`` (``make test-peers`` builds ``.venv-pymc``);
without it a benchmark cell is skipped with that hint. The 0.x line is used because
pymc-marketing 1.x requires ArviZ 1.x and mmmlab pins ArviZ below 1.

Model, as the published PyMC-Marketing vs Meridian study (pymc-labs/mmm-param-recovery, its
second round without spend-share priors) built it:

- ``pymc_marketing.mmm.multidimensional.MMM`` with ``dims=("geo",)`` (a national dataset is
  one geo); channels and target max-scaled per geo (scaling dims ``()``), controls unscaled;
- ``GeometricAdstock(l_max=8)`` (normalised weights), ``adstock_alpha ~ Beta(1, 3)`` per
  channel;
- ``HillSaturationSigmoid``: ``saturation_beta``, ``saturation_lam ~ HalfNormal(1.5)`` per
  channel; ``saturation_sigma ~ LogNormalPrior(mean=0.25, std=0.25)`` per channel for one
  geo, and for panels a non-centred ``LogNormalPrior`` over (channel, geo) whose mean is
  ``Gamma(mu=0.25, sigma=0.10)`` and std ``Exponential(scale=0.10)`` per channel;
- ``yearly_seasonality=2`` Fourier modes; PyMC-Marketing's own defaults for the rest:
  intercept ``Normal(0, 2)``, ``gamma_control ~ Normal(0, 2)``, ``gamma_fourier ~
  Laplace(0, 1)``, Normal likelihood with ``y_sigma ~ HalfNormal(2)``, all per geo.

`params`: ``sampler`` (PyMC's ``nuts_sampler``: pymc | nutpie | numpyro | blackjax; nutpie
with its JAX backend, as the study ran it), ``l_max``, ``yearly_seasonality`` (0: none) and
``priors``: model-config overrides by name (`PRIOR_KEYS`), each a pymc-extras ``Prior`` or its
dict form, e.g. ``{"adstock_alpha": {"dist": "Beta", "kwargs": {"alpha": 2, "beta": 2},
"dims": ["channel"]}}``. Data in: `Dataset.media` (exposure, else spend) as the channel
columns, the controls and the target, one row per (date, geo).

Out: PyMC-Marketing can only carry adstock into the periods right after its training data
(``include_last_observations``), so every `BackendFit` output is computed by this module from
the posterior draws and the model's scales, for any window, with the window's history rows
feeding the adstock. The peer tests check it against PyMC-Marketing's own graph on the
training window (contributions, mean and log-likelihood). PyMC-Marketing starts the training
window's adstock from zero, so fit a window without history (as `Dataset.split`'s train is).

Timing (`Diagnostics`): ``compile_s`` covers building the model (``MMM`` + ``build_model``)
and, per sampler, pymc: everything ``pm.sample`` does besides its sampling loop (NUTS set-up,
the C compilation of log-density and gradient, initial points); nutpie:
``nutpie.compile_pymc_model``; numpyro, blackjax and nutpie: the JAX tracing, lowering and
XLA compilation inside the sampler call (the union of JAX's monitoring time spans).
``sample_s`` is pymc's own sampling-loop time, or the sampler call less that compilation.
R-hat and ESS cover the free random variables only (``model.free_RVs``), no deterministics.
The pymc sampler runs one process per core (PyMC's default takes half the CPUs); in a pip
environment PyTensor links no BLAS for its C code, as it warns.
"""

from __future__ import annotations

import functools
import os
import time
from contextlib import contextmanager
from typing import Any

import numpy as np

from mmmlab.backends.base import Capabilities, Environment, Incompatible
from mmmlab.backends.peers.pymc_marketing_fit import PymcMarketingFit, fit_from
from mmmlab.data import Dataset
from mmmlab.inference.diagnostics import Diagnostics, bfmi, convergence

INSTALL_HINT = "pymc-marketing is not installed; install the extra: pip install 'mmmlab[pymc]'"
SAMPLERS = ("pymc", "nutpie", "numpyro", "blackjax")
DEFAULTS: dict[str, Any] = {"sampler": "pymc", "l_max": 8, "yearly_seasonality": 2, "priors": {}}
PRIOR_KEYS = (
    "intercept",
    "likelihood",
    "gamma_control",
    "gamma_fourier",
    "adstock_alpha",
    "saturation_sigma",
    "saturation_beta",
    "saturation_lam",
)
RESERVED_COLUMNS = ("date", "geo", "y")


def validate_params(params: dict[str, Any]) -> dict[str, Any]:
    """`params` merged over `DEFAULTS`; a ValueError names every unknown or bad key."""
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown}; pymc-marketing takes {', '.join(DEFAULTS)}"
        )
    p = DEFAULTS | dict(params)
    if p["sampler"] not in SAMPLERS:
        raise ValueError(f"sampler: give one of {list(SAMPLERS)}, got {p['sampler']!r}")
    for key, low in (("l_max", 1), ("yearly_seasonality", 0)):
        value = p[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{key}: give an integer >= {low}, got {value!r}")
    if not isinstance(p["priors"], dict):
        raise ValueError(f"priors: give a mapping of prior name to prior, got {p['priors']!r}")
    bad = sorted(set(p["priors"]) - set(PRIOR_KEYS))
    if bad:
        raise ValueError(f"priors: unknown name(s) {bad}; known: {', '.join(PRIOR_KEYS)}")
    return p


def model_frame(dataset: Dataset) -> tuple[Any, Any]:
    """PyMC-Marketing's input: X with date, geo, one column per channel (`Dataset.media`) and
    per control, one row per (geo, date); y the target in the same order."""
    import pandas as pd

    names = [*dataset.channels, *dataset.control_names]
    clash = sorted({n for n in names if n in RESERVED_COLUMNS or names.count(n) > 1})
    if clash:
        raise Incompatible(
            f"dataset {dataset.name!r}: channel/control name(s) {clash} clash with each other "
            f"or with PyMC-Marketing's columns {list(RESERVED_COLUMNS)}; rename them"
        )
    T, G = dataset.n_time, dataset.n_geos
    columns: dict[str, Any] = {
        "date": np.tile(dataset.dates.values, G),
        "geo": np.repeat(np.asarray(dataset.geos, dtype=object), T),
    }
    for c, ch in enumerate(dataset.channels):
        columns[ch] = dataset.media[:, :, c].T.ravel()
    for k, name in enumerate(dataset.control_names):
        columns[name] = dataset.controls[:, :, k].T.ravel()
    return pd.DataFrame(columns), pd.Series(dataset.target.T.ravel(), name="y")


def build_mmm(dataset: Dataset, p: dict[str, Any]) -> Any:
    """The study's `MMM` (module docstring) with `p['priors']` over its model config."""
    from pymc_extras.deserialize import deserialize
    from pymc_extras.prior import Prior
    from pymc_marketing.mmm import GeometricAdstock, HillSaturationSigmoid
    from pymc_marketing.mmm.multidimensional import MMM
    from pymc_marketing.special_priors import LogNormalPrior

    overrides = {}
    for name, prior in p["priors"].items():
        try:
            overrides[name] = deserialize(prior) if isinstance(prior, dict) else prior
        except Exception as err:  # pymc-extras raises its own error types
            raise ValueError(
                f"priors.{name}: {err} Give a Prior or its dict form, e.g. "
                '{"dist": "Beta", "kwargs": {"alpha": 1, "beta": 3}, "dims": ["channel"]}'
            ) from None
    if dataset.n_geos == 1:
        sigma = LogNormalPrior(mean=0.25, std=0.25, dims=("channel",))
    else:
        sigma = LogNormalPrior(
            mean=Prior("Gamma", mu=0.25, sigma=0.10, dims=("channel",)),
            std=Prior("Exponential", scale=0.10, dims=("channel",)),
            dims=("channel", "geo"),
            centered=False,
        )
    per_channel = Prior("HalfNormal", sigma=1.5, dims=("channel",))
    return MMM(
        date_column="date",
        target_column="y",
        channel_columns=list(dataset.channels),
        control_columns=list(dataset.control_names) or None,
        dims=("geo",),
        scaling={
            "channel": {"method": "max", "dims": ()},
            "target": {"method": "max", "dims": ()},
        },
        adstock=GeometricAdstock(
            l_max=p["l_max"],
            priors={"alpha": Prior("Beta", alpha=1, beta=3, dims=("channel",))},
        ),
        saturation=HillSaturationSigmoid(
            priors={"sigma": sigma, "beta": per_channel, "lam": per_channel}
        ),
        yearly_seasonality=p["yearly_seasonality"] or None,
        model_config=overrides or None,
    )


@contextmanager
def jax_compile_seconds():
    """Yields a list whose first item becomes the wall seconds JAX spent tracing, lowering and
    compiling inside the block (union of its compile-event spans, so nesting counts once)."""
    from jax import monitoring

    spans: list[tuple[float, float]] = []

    def listen(event: str, start: float, end: float, **_: Any) -> None:
        if event.startswith("/jax/core/compile/"):
            spans.append((start, end))

    out = [0.0]
    monitoring.register_event_time_span_listener(listen)
    try:
        yield out
    finally:
        monitoring.unregister_event_time_span_listener(listen)
        total, reach = 0.0, -np.inf
        for start, end in sorted(spans):
            total += max(0.0, end - max(start, reach))
            reach = max(reach, end)
        out[0] = total


def sample(mmm: Any, sampler: str, settings: dict[str, Any], seed: int) -> tuple[Any, float, float]:
    """(InferenceData, compile seconds, sampling seconds) of NUTS on the built model; see the
    module docstring for what each time covers. settings: draws, tune, chains, target_accept."""
    import jax
    import pymc as pm

    model = mmm.model
    free = [v.name for v in model.free_RVs]
    common = {"model": model, "var_names": free, "progressbar": False, **settings}
    common |= {"random_seed": seed, "compute_convergence_checks": False}
    if sampler == "pymc":
        # PyMC takes half the CPUs for hyper-threads (one process on 2 cores); the other
        # samplers run a chain per core, so this one does too
        t0 = time.perf_counter()
        idata = pm.sample(cores=min(settings["chains"], os.cpu_count() or 1), **common)
        sample_s = float(idata.posterior.attrs["sampling_time"])
        return idata, time.perf_counter() - t0 - sample_s, sample_s
    compile_s = 0.0
    if sampler == "nutpie":
        import nutpie

        t0 = time.perf_counter()
        compiled = nutpie.compile_pymc_model(
            model, var_names=free, backend="jax", gradient_backend="jax"
        )
        compile_s = time.perf_counter() - t0
        run = functools.partial(nutpie.sample, compiled, seed=seed, progress_bar=False, **settings)
    else:
        # pmap needs a device per chain (mmmlab.runtime makes one per core); else vectorise
        method = "parallel" if settings["chains"] <= jax.local_device_count() else "vectorized"
        kwargs = {"chain_method": method}
        run = functools.partial(
            pm.sample, nuts_sampler=sampler, nuts_sampler_kwargs=kwargs, **common
        )
    with jax_compile_seconds() as jit_s:
        t0 = time.perf_counter()
        idata = run()
        wall = time.perf_counter() - t0
    return idata, compile_s + jit_s[0], wall - jit_s[0]


def diagnostics(idata: Any, free: list[str], compile_s: float, sample_s: float) -> Diagnostics:
    """Convergence over the free random variables `free`, divergences and E-BFMI."""
    post, stats_ = idata.posterior, idata.sample_stats
    conv = convergence({k: post[k].values for k in free})
    energy = stats_["energy"].values if "energy" in stats_ else None
    total = compile_s + sample_s
    return Diagnostics(
        max_rhat=conv.max_rhat,
        min_ess_bulk=conv.min_ess_bulk,
        min_ess_tail=conv.min_ess_tail,
        divergences=int(np.asarray(stats_["diverging"]).sum()),
        min_bfmi=bfmi(energy) if energy is not None else float("nan"),
        compile_s=compile_s,
        sample_s=sample_s,
        ess_per_s=conv.min_ess_bulk / total if total > 0 else float("nan"),
        num_chains=int(post.sizes["chain"]),
        num_draws=int(post.sizes["draw"]),
        method="nuts",
        median_ess_bulk=conv.median_ess_bulk,
    )


class PymcMarketingBackend:
    """`params`: see `DEFAULTS` and the module docstring. `inference`: NUTS only, with a
    diagonal mass matrix; num_warmup, num_samples, num_chains and target_accept (study default
    0.9) are used, the samplers' own maximum tree depth (10) applies."""

    name = "pymc-marketing"
    capabilities = Capabilities(
        n_features=True, environment=Environment(extra="pymc", module="pymc_marketing")
    )

    def check_params(self, params: dict[str, Any]) -> None:
        """Raise ValueError naming each unknown or bad key of `params`."""
        validate_params(params)

    def fit(
        self, train: Dataset, params: dict[str, Any], seed: int, inference: dict[str, Any]
    ) -> PymcMarketingFit:
        p = validate_params(params)
        if inference.get("method", "nuts") != "nuts":
            raise Incompatible(
                f"pymc-marketing is fitted with NUTS only, not {inference['method']!r}"
            )
        if inference.get("dense_mass"):
            raise Incompatible("pymc-marketing's samplers adapt a diagonal mass matrix here")
        try:
            import pymc_marketing  # noqa: F401
        except ImportError as err:
            raise Incompatible(INSTALL_HINT) from err
        settings = {
            "draws": int(inference.get("num_samples", 1000)),
            "tune": int(inference.get("num_warmup", 1000)),
            "chains": int(inference.get("num_chains", 4)),
            "target_accept": float(inference.get("target_accept", 0.9)),
        }
        t0 = time.perf_counter()
        mmm = build_mmm(train, p)
        X, y = model_frame(train)
        mmm.build_model(X, y)
        build_s = time.perf_counter() - t0
        idata, compile_s, sample_s = sample(mmm, p["sampler"], settings, seed)
        free = [v.name for v in mmm.model.free_RVs]
        diag = diagnostics(idata, free, build_s + compile_s, sample_s)
        return fit_from(mmm, idata, train, p, diag)
