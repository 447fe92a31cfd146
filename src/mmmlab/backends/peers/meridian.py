"""Google Meridian (``google-meridian`` 2.1, JAX backend) behind the backend interface.

Meridian 2.x computes with JAX (TensorFlow Probability's JAX substrate; TensorFlow is still
installed and imported, but only as a dependency). Install the extra: ``pip install
'mmmlab[meridian]'``; without it a benchmark cell is skipped with that hint.

Model, as the published PyMC-Marketing vs Meridian study (pymc-labs/mmm-param-recovery,
September 2025) set it, every item overridable through `params`:

- geo model (national mode for one geo), geometric adstock with ``max_lag`` 8 and Hill
  saturation applied after it (``hill_before_adstock=False``);
- time-varying baseline from knots, one every 26 periods (``knots``); a number gives Meridian
  that many knots, a list their positions, ``"auto"`` Meridian's automatic knot selection and
  ``"meridian"`` Meridian's own default (a knot per period in a geo model, one nationally);
- ``media_prior_type="coefficient"``, ``media_effects_dist="log_normal"``, one residual scale
  per geo (``unique_sigma_for_each_geo``), adstock decay prior ``alpha_m ~ Beta(1, 3)`` and
  Meridian's default priors for everything else (the study's later run also dropped its
  spend-share prior on ``beta_m``); ``priors`` replaces any of them, e.g.
  ``{"alpha_m": {"dist": "Beta", "concentration1": 1, "concentration0": 3}}``.

Data in: kpi = target (revenue), media = `Dataset.media` (exposure, else spend), media spend
= spend, controls, population (ones when the dataset has none); up to ``max_lag`` periods of
`Dataset.history_media` go in as Meridian's lagged media, so adstock carries over into the
training window. Meridian divides kpi by population, then centres and scales it by the
mean and standard deviation over geos × times; media by population × each channel's median
non-zero population-scaled media; controls are centred and scaled per control.

Out: every `BackendFit` output is computed from the posterior draws for any window
(`meridian_fit`). The test suite checks the training window against Meridian's expected and
incremental outcomes.

Timing (`Diagnostics`): ``compile_s`` is building ``InputData`` and the ``Meridian`` model
plus the seconds JAX itself reports tracing, lowering and XLA-compiling inside
``sample_posterior`` (the union of its monitoring time spans). Meridian traces its NUTS
kernel anew on every call, so a warm-up call would not make the real one cheaper.
``sample_s`` is the rest of that call: running the chains, and Meridian rebuilding its
deterministic quantities. Importing Meridian (TensorFlow included) is counted in neither.
R-hat and ESS cover the free parameters NUTS samples (non-centred deviations rebuilt from
the saved quantities; parameters Meridian pins to a constant, as in national mode,
left out). Meridian records no energy, so ``min_bfmi`` is NaN.

Meridian's JAX backend computes in 64-bit, as `mmmlab.runtime` already sets JAX for the
process.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from typing import Any

import numpy as np

from mmmlab.backends.base import Capabilities, Environment, Incompatible
from mmmlab.backends.peers.meridian_fit import MeridianFit, MeridianScaling
from mmmlab.data import Dataset
from mmmlab.inference.diagnostics import Diagnostics, convergence

INSTALL_HINT = "google-meridian is not installed; install the extra: pip install 'mmmlab[meridian]'"
DEFAULTS: dict[str, Any] = {
    "max_lag": 8,
    "knots": None,  # None: one every `KNOT_SPACING` periods, as the published study set them
    "media_effects_dist": "log_normal",
    "media_prior_type": "coefficient",
    "unique_sigma_for_each_geo": True,
    "priors": {},
}
KNOT_SPACING = 26
DEFAULT_PRIORS = {"alpha_m": {"dist": "Beta", "concentration1": 1.0, "concentration0": 3.0}}
PRIOR_TYPES = ("coefficient", "roi", "mroi", "contribution")
PRIOR_NAMES = (
    ("knot_values", "tau_g_excl_baseline", "sigma", "alpha_m", "ec_m", "slope_m")
    + ("beta_m", "eta_m", "gamma_c", "xi_c")
    + tuple(f"{kind}_m" for kind in PRIOR_TYPES[1:])
)
INFERENCE_KEYS = ("method", "num_warmup", "num_samples", "num_chains", "target_accept")
INFERENCE_KEYS += ("max_tree_depth", "dense_mass", "num_starts")
_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


def validate_params(params: dict[str, Any]) -> dict[str, Any]:
    """`params` merged over `DEFAULTS`; a ValueError names every unknown or bad key."""
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; meridian takes {sorted(DEFAULTS)}")
    p = DEFAULTS | params
    if not _whole(p["max_lag"], 0):
        raise ValueError(f"max_lag: give a whole number >= 0, got {p['max_lag']!r}")
    knots = p["knots"]
    ok = knots is None or knots in ("auto", "meridian") or _whole(knots, 1)
    if not ok and isinstance(knots, list | tuple):
        ok = len(knots) >= 1 and all(_whole(k, 0) for k in knots)
    if not ok:
        raise ValueError(
            "knots: give a number of knots, a list of knot positions (periods from the start "
            f"of the training window), 'auto' or 'meridian', got {knots!r}"
        )
    if p["media_effects_dist"] not in ("log_normal", "normal"):
        raise ValueError(
            f"media_effects_dist: 'log_normal' or 'normal', got {p['media_effects_dist']!r}"
        )
    if p["media_prior_type"] not in PRIOR_TYPES:
        raise ValueError(
            f"media_prior_type: one of {list(PRIOR_TYPES)}, got {p['media_prior_type']!r}"
        )
    if not isinstance(p["unique_sigma_for_each_geo"], bool):
        raise ValueError("unique_sigma_for_each_geo: give true or false")
    if not isinstance(p["priors"], dict):
        raise ValueError("priors: give a mapping of Meridian prior name -> {dist: ..., args}")
    for name, prior in p["priors"].items():
        if name not in PRIOR_NAMES:
            raise ValueError(
                f"priors.{name}: not a Meridian media-model prior; known: {PRIOR_NAMES}"
            )
        if not isinstance(prior, dict) or not isinstance(prior.get("dist"), str):
            raise ValueError(
                f"priors.{name}: give {{dist: <tfp distribution name>, <its arguments>}}, "
                f"got {prior!r}"
            )
    return p


def _whole(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


class MeridianBackend:
    """`params`: see `DEFAULTS` and the module docstring. `inference`: NUTS with
    ``num_warmup`` split as the study did into Meridian's ``n_adapt`` (first half) and
    ``n_burnin`` (rest), ``num_samples`` kept per chain, ``num_chains``, ``target_accept``
    and ``max_tree_depth``. Meridian adapts a diagonal mass matrix from its prior's starts:
    ``dense_mass=True`` or another method makes the cell incompatible; ``num_starts``
    (mmmlab's optimised starts) does not apply and is ignored."""

    name = "meridian"
    capabilities = Capabilities(environment=Environment(extra="meridian", module="meridian"))

    def check_params(self, params: dict[str, Any]) -> None:
        """Raise ValueError naming each unknown or bad key of `params`."""
        validate_params(params)

    def fit(
        self, train: Dataset, params: dict[str, Any], seed: int, inference: dict[str, Any]
    ) -> MeridianFit:
        p = validate_params(params)
        run = _sampling(inference)
        if train.n_time + min(len(train.history_media), p["max_lag"]) <= p["max_lag"]:
            raise Incompatible(f"{train.n_time} periods are too few for max_lag {p['max_lag']}")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            import meridian  # noqa: F401
        except ImportError as err:
            raise Incompatible(INSTALL_HINT) from err
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return _fit(train, p, seed, run)


def _sampling(inference: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(inference) - set(INFERENCE_KEYS))
    if unknown:
        raise ValueError(f"unknown inference key(s) {unknown}; known: {list(INFERENCE_KEYS)}")
    if inference.get("method", "nuts") != "nuts":
        raise Incompatible(f"Meridian samples with NUTS only, not {inference['method']!r}")
    if inference.get("dense_mass"):
        raise Incompatible("Meridian's NUTS adapts a diagonal mass matrix only (dense_mass)")
    warmup = int(inference.get("num_warmup", 1000))
    adapt = max(1, math.ceil(warmup / 2))
    return {
        "n_chains": int(inference.get("num_chains", 4)),
        "n_adapt": adapt,
        "n_burnin": warmup - adapt,
        "n_keep": int(inference.get("num_samples", 1000)),
        "max_tree_depth": int(inference.get("max_tree_depth", 10)),
        "dual_averaging_kwargs": {
            "target_accept_prob": float(inference.get("target_accept", 0.85))
        },
    }


def _input_data(train: Dataset, max_lag: int):
    """Meridian `InputData` from the training window; arrays go in as (geo, time, ...)."""
    from meridian.data.nd_array_input_data_builder import NDArrayInputDataBuilder

    step = train.dates[1] - train.dates[0]
    lagged = train.history_media[
        len(train.history_media) - min(len(train.history_media), max_lag) :
    ]
    media_dates = [train.dates[0] - step * k for k in range(len(lagged), 0, -1)] + list(train.dates)
    builder = NDArrayInputDataBuilder(kpi_type="revenue")
    builder.time_coords = [d.strftime("%Y-%m-%d") for d in train.dates]
    builder.media_time_coords = [d.strftime("%Y-%m-%d") for d in media_dates]
    if not train.is_national:  # national: Meridian names its one geo and fixes population 1
        builder.geos = list(train.geos)
        population = np.ones(train.n_geos) if train.population is None else train.population
        builder.with_population(np.asarray(population, dtype=float))
    builder.with_kpi(train.target.T)
    if train.n_controls:
        builder.with_controls(train.controls.transpose(1, 0, 2), list(train.control_names))
    media = np.concatenate([lagged, train.media]).transpose(1, 0, 2)
    builder.with_media(media, train.spend.transpose(1, 0, 2), list(train.channels))
    return builder.build()


def _model_spec(train: Dataset, p: dict[str, Any]):
    from meridian import backend
    from meridian.model import prior_distribution, spec

    priors = {}
    for name, prior in (DEFAULT_PRIORS | p["priors"]).items():
        dist = getattr(backend.tfd, prior["dist"], None)
        if dist is None:
            raise ValueError(
                f"priors.{name}: {prior['dist']!r} is not a TensorFlow Probability distribution"
            )
        args = {
            k: np.asarray(v, dtype=backend.np_float_dtype) for k, v in prior.items() if k != "dist"
        }
        try:
            priors[name] = dist(**args, name=name)
        except (TypeError, ValueError) as err:
            raise ValueError(f"priors.{name}: {err}") from err
    knots, aks = p["knots"], False
    if knots is None:
        knots = list(range(0, train.n_time, KNOT_SPACING))
        knots = knots if len(knots) > 1 else 1
    elif knots == "auto":
        knots, aks = None, True
    elif knots == "meridian":
        knots = None
    return spec.ModelSpec(
        prior=prior_distribution.PriorDistribution(**priors),
        media_effects_dist=p["media_effects_dist"],
        hill_before_adstock=False,
        max_lag=p["max_lag"],
        unique_sigma_for_each_geo=p["unique_sigma_for_each_geo"] and not train.is_national,
        media_prior_type=p["media_prior_type"],
        knots=list(knots) if isinstance(knots, tuple) else knots,
        enable_aks=aks,
    )


class _CompileClock:
    """Seconds JAX reports tracing, lowering and compiling, as the union of its time spans."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []

    def __call__(self, event: str, start: float, end: float, **_: Any) -> None:
        if event in _COMPILE_EVENTS:
            self.spans.append((start, end))

    def seconds(self) -> float:
        total, stop = 0.0, -math.inf
        for start, end in sorted(self.spans):
            total += max(0.0, end - max(start, stop))
            stop = max(stop, end)
        return total


def _fit(train: Dataset, p: dict[str, Any], seed: int, run: dict[str, Any]) -> MeridianFit:
    import jax.monitoring
    from immutabledict import immutabledict
    from meridian.model import model

    t0 = time.perf_counter()
    mmm = model.Meridian(
        input_data=_input_data(train, p["max_lag"]), model_spec=_model_spec(train, p)
    )
    setup_s = time.perf_counter() - t0
    clock = _CompileClock()
    jax.monitoring.register_event_time_span_listener(clock)
    try:
        t0 = time.perf_counter()
        # a hashable mapping: Meridian's JAX sampler takes its arguments as static
        accept = immutabledict(run["dual_averaging_kwargs"])
        mmm.sample_posterior(seed=seed, **(run | {"dual_averaging_kwargs": accept}))
        wall = time.perf_counter() - t0
    finally:
        jax.monitoring.unregister_event_time_span_listener(clock)
    traced = min(clock.seconds(), wall)
    idata = mmm.inference_data
    post = idata.posterior
    names = [str(g) for g in mmm.input_data.geo.values]  # Meridian sorts geos by name
    order = [0] if train.is_national else [names.index(g) for g in train.geos]

    def take(name: str) -> np.ndarray:
        """(chain, draw, ...) with the geo axis in the dataset's order."""
        da = post[name]
        return np.asarray((da.isel(geo=order) if "geo" in da.dims else da).values, dtype=float)

    chains, kept = post.sizes["chain"], post.sizes["draw"]
    free = _free_parameters(take, p, train, set(post.data_vars))
    flat = {
        "alpha": take("alpha_m"),
        "ec": take("ec_m"),
        "slope": take("slope_m"),
        "beta_gm": take("beta_gm"),
        "tau_g": take("tau_g"),
        "mu_t": take("mu_t"),
        "sigma": take("sigma").reshape(chains, kept, -1) * np.ones(train.n_geos),
        "gamma_gc": take("gamma_gc")
        if train.n_controls
        else np.zeros((chains, kept, train.n_geos, 0)),
    }
    flat = {k: v.reshape((chains * kept,) + v.shape[2:]) for k, v in flat.items()}
    conv = convergence(free)
    total = setup_s + wall
    diagnostics = Diagnostics(
        max_rhat=conv.max_rhat,
        min_ess_bulk=conv.min_ess_bulk,
        min_ess_tail=conv.min_ess_tail,
        divergences=int(np.asarray(idata.sample_stats["diverging"]).sum()),
        min_bfmi=math.nan,
        compile_s=setup_s + traced,
        sample_s=wall - traced,
        ess_per_s=conv.min_ess_bulk / total if total > 0 else math.nan,
        num_chains=chains,
        num_draws=kept,
        method="nuts",
        median_ess_bulk=conv.median_ess_bulk,
    )
    scaling = _scaling(mmm, train, order)
    return MeridianFit(flat, scaling, train, p["max_lag"], diagnostics, chains, mmm)


def _free_parameters(
    take, p: dict[str, Any], train: Dataset, saved: set[str]
) -> dict[str, np.ndarray]:
    """The parameters NUTS samples, (chain, draw, ...) each, elements that never move dropped.

    Meridian does not save its non-centred deviations; they are rebuilt from the saved
    quantities: beta_gm = f(beta_m + eta_m * beta_gm_dev) with f = exp for log-normal media
    effects, gamma_gc = gamma_c + xi_c * gamma_gc_dev, tau_g_excl_baseline = tau_g without
    its baseline geo (held at 0, so dropped as constant).
    """
    treatment = {"coefficient": "beta_m", "roi": "roi_m", "mroi": "mroi_m"}.get(
        p["media_prior_type"], "contribution_m"
    )
    names = ["knot_values", "sigma", "alpha_m", "ec_m", "eta_m", "slope_m", treatment]
    if train.n_controls:
        names += ["gamma_c", "xi_c"]
    raw = {name: take(name) for name in names if name in saved}
    raw["tau_g_excl_baseline"] = take("tau_g")
    eta = raw.get("eta_m")
    if eta is not None and np.all(eta > 0):
        beta_gm = take("beta_gm")
        link = np.log(beta_gm) if p["media_effects_dist"] == "log_normal" else beta_gm
        beta_m = take("beta_m")
        raw["beta_gm_dev"] = (link - beta_m[:, :, None, :]) / eta[:, :, None, :]
    xi = raw.get("xi_c")
    if xi is not None and np.all(xi > 0):
        raw["gamma_gc_dev"] = (take("gamma_gc") - raw["gamma_c"][:, :, None, :]) / xi[:, :, None, :]
    out = {}
    for name, value in raw.items():
        flat = value.reshape(value.shape[:2] + (-1,))
        moving = np.ptp(flat, axis=(0, 1)) > 0
        if moving.any():
            out[name] = flat[:, :, moving]
    return out


def _scaling(mmm, train: Dataset, order: list[int]) -> MeridianScaling:
    """Meridian's scale factors, geos in the dataset's `order` (read from its transformers;
    controls recomputed as its centring transformer does: mean and sd over geos × times)."""
    media = mmm.media_tensors.media_transformer.scale_factors_gm
    controls = train.controls.reshape(-1, train.n_controls)
    return MeridianScaling(
        media_scale=np.asarray(media, dtype=float)[order],
        kpi_mean=float(mmm.kpi_transformer.population_scaled_mean),
        kpi_std=float(mmm.kpi_transformer.population_scaled_stdev),
        population=np.asarray(mmm.population, dtype=float)[order],
        control_mean=controls.mean(axis=0),
        control_std=controls.std(axis=0),
    )
