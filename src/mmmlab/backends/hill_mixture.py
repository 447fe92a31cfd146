"""The Hill-mixture models (`models.hill_mixture`) behind the backend interface.

Held-out windows are predicted with the adstock carried over from every earlier period and
the training window's time standardisation. Convergence is judged on label-invariant
quantities (log-likelihood, the mean response curve, sigma, alpha, baseline), and so is
whether an unconverged run samples on (`extra_samples`); the plain R-hat over every raw site
is reported beside it as `max_rhat_plain`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

from mmmlab.backends.base import Capabilities, Incompatible
from mmmlab.data import Dataset
from mmmlab.inference.constrain import constrain, constrain_in_pieces
from mmmlab.inference.diagnostics import Diagnostics, convergence, nuts_diagnostics
from mmmlab.inference.nuts import run_nuts
from mmmlab.inference.settings import SamplerSettings
from mmmlab.models.hill_mixture import (
    KINDS,
    MixtureData,
    adstock,
    component_means,
    component_media,
    derive,
    hill_curves,
    hill_mixture,
    hyperparameters,
    lagged_matrix,
    log_likelihood,
    mean_media,
)

CURVE_QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)
NUM_STARTS = 16  # optimised starts; chains begin near the best (inference.num_starts)
DENSE_MASS = False  # inference.dense_mass; dense let one chain run away (docs/hill_mixture.md)


def total_spend(dataset: Dataset) -> tuple[np.ndarray, int]:
    """Media summed over geos and channels from the first period on (history + window), and
    the number of history periods before the window."""
    if dataset.n_geos != 1 or dataset.n_channels != 1:
        raise Incompatible(
            f"Hill-mixture models take one national spend series; dataset {dataset.name!r} has "
            f"{dataset.n_geos} geos × {dataset.n_channels} channels (set sum_channels: true in "
            "the spec's dataset, or aggregate geos)"
        )
    full = np.concatenate([dataset.history_media, dataset.media])[:, 0, 0]
    return full, len(dataset.history_media)


@dataclass(frozen=True, eq=False)
class HillMixtureFit:
    """Posterior draws of a Hill-mixture model (chains stacked), for any later window."""

    kind: str
    draws: dict[str, np.ndarray]  # site or derived parameter -> (S, ...)
    t_mean: float
    t_sd: float
    diagnostics: Diagnostics
    num_chains: int
    extra: tuple[tuple[str, str, float], ...]
    _last: dict = field(default_factory=dict, repr=False)  # name -> (window, its value)

    def _of_window(self, name: str, dataset: Dataset, compute):
        """`compute()`, kept for the last window asked for: scoring and the convergence
        checks ask for the same window's adstock and means several times in a row."""
        last = self._last.get(name)
        if last is None or last[0] is not dataset:
            self._last[name] = last = (dataset, compute())
        return last[1]

    def _window(self, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
        """Adstocked spend (S, T) and standardised time (T,) of the window."""

        def compute() -> tuple[np.ndarray, np.ndarray]:
            x, start = total_spend(dataset)
            s = adstocked_draws(x, start, self.draws["adstock_alpha"])
            t_std = (np.asarray(dataset.time_index, float) - self.t_mean) / self.t_sd
            return s, t_std

        return self._of_window("window", dataset, compute)

    def _curves(self, dataset: Dataset) -> np.ndarray:
        """(S, T, K) each component's Hill curve over the window, read by the media and the
        means (scoring asks for both of one window)."""
        s, _ = self._window(dataset)
        return self._of_window("curves", dataset, lambda: np.asarray(hill_curves(self.draws, s)))

    def _media(self, dataset: Dataset) -> np.ndarray:
        """Each component's media response A_k hill_k(s) (S, T, K)."""
        return np.asarray(component_media(self.draws, self._curves(dataset)))

    def _component_means(self, dataset: Dataset) -> np.ndarray:
        """(S, T, K) the expected target under each component."""
        _, t_std = self._window(dataset)

        def compute() -> np.ndarray:
            return np.asarray(component_means(self.draws, self._curves(dataset), t_std))

        return self._of_window("means", dataset, compute)

    def expected(self, dataset: Dataset) -> np.ndarray:
        means = self._component_means(dataset)
        return np.einsum("stk,sk->st", means, self.draws["weights"])[..., None]

    def predict(self, dataset: Dataset, seed: int = 0) -> np.ndarray:
        means = self._component_means(dataset)
        rng = np.random.default_rng(seed)
        S, T, K = means.shape
        cum = np.cumsum(self.draws["weights"], axis=1)[:, None, :]
        z = np.minimum((rng.random((S, T, 1)) > cum).sum(axis=-1), K - 1)
        chosen = np.take_along_axis(means, z[..., None], axis=-1)[..., 0]
        noise = rng.standard_normal((S, T)) * self.draws["sigma"][:, None]
        return (chosen + noise)[..., None]

    def log_likelihood(self, dataset: Dataset) -> np.ndarray:
        means = self._component_means(dataset)
        per_draw = jax.vmap(log_likelihood, (None, 0, 0, 0))
        y, d = dataset.target[:, 0], self.draws
        return np.asarray(per_draw(y, means, d["weights"], d["sigma"]))[..., None]

    def contributions(self, dataset: Dataset) -> np.ndarray:
        """Expected media contribution (S, T, 1, 1): the weighted mean over components."""
        media = self._media(dataset)
        return np.einsum("stk,sk->st", media, self.draws["weights"])[..., None, None]

    def parameters(self) -> tuple[dict[str, np.ndarray], dict[str, tuple[str, ...]]]:
        names = {"adstock_alpha": (), "intercept": (), "slope": (), "sigma": ()}
        names |= {
            k: ("component",) for k in ("weights", "half_saturation", "max_effect", "hill_slope")
        }
        return {k: self.draws[k] for k in names}, names

    def extra_metrics(self) -> list[tuple[str, str, float]]:
        return list(self.extra)


def effective_k(weights: np.ndarray, threshold: float = 0.05) -> float:
    """Mean over draws of the number of components with weight above `threshold`; (S, K)."""
    return float(np.mean((weights > threshold).sum(axis=-1)))


def competing_modes(
    potentials: np.ndarray, summaries: np.ndarray, scale: np.ndarray, nats: float = 3.0
) -> float:
    """Share of optimised starts that found another mode of similar height: within `nats`
    of the best log density, yet with a summary more than two posterior sds from the best's.

    potentials : (M,) negative log densities of the optima; summaries : (M, Q) a
    label-invariant summary of each optimum (here the mean response curve); scale : (Q,) its
    posterior sd. Chains started at the best mode may not visit such modes, so a high share
    warns that the posterior may be wider than the draws show.
    """
    finite = np.isfinite(potentials) & np.all(np.isfinite(summaries), axis=1)
    if finite.sum() < 2:
        return 0.0
    best = int(np.argmin(np.where(finite, potentials, np.inf)))
    far = np.max(np.abs(summaries - summaries[best]) / np.maximum(scale, 1e-12), axis=1) > 2.0
    close = potentials - potentials[best] < nats
    return float(np.mean(far & close & finite))


def response_curve(params: dict[str, np.ndarray], levels: np.ndarray) -> np.ndarray:
    """(S, Q) the expected media response sum_k w_k A_k h_k(level) at spend `levels` (Q,),
    label-invariant; params hold (S, K) weights, max_effect, half_saturation, hill_slope."""
    at_levels = hill_curves(params, np.asarray(levels))
    weighted = np.asarray(component_media(params, at_levels))  # (S, Q, K)
    return np.einsum("sqk,sk->sq", weighted, params["weights"])


class HillMixtureBackend:
    """`params`: ``kind`` (one of `KINDS`); `inference`: the NUTS settings of a spec."""

    name = "hill_mixture"
    capabilities = Capabilities(extra_metrics=True)

    def check_params(self, params: dict[str, Any]) -> None:
        """Raise ValueError unless `params` is ``{kind: one of KINDS}``."""
        unknown = set(params) - {"kind"}
        if unknown:
            raise ValueError(f"unknown parameter(s) {sorted(unknown)}; hill_mixture takes kind")
        if params.get("kind") not in KINDS:
            raise ValueError(f"kind: give one of {list(KINDS)}, got {params.get('kind')!r}")

    def fit(
        self, train: Dataset, params: dict[str, Any], seed: int, inference: dict[str, Any]
    ) -> HillMixtureFit:
        unknown = set(params) - {"kind"}
        if unknown or params.get("kind") not in KINDS:
            raise ValueError(
                f"hill_mixture params: give kind = one of {list(KINDS)}"
                + (f"; unknown keys {sorted(unknown)}" if unknown else "")
            )
        kind = params["kind"]
        if inference.get("method", "nuts") != "nuts":
            raise Incompatible("Hill-mixture models are fitted with NUTS only")
        x, start = total_spend(train)
        y = train.target[:, 0]
        t = np.asarray(train.time_index, float)
        t_mean, t_sd = float(t.mean()), float(t.std()) or 1.0
        hyper = hyperparameters(x, y) if start == 0 else hyperparameters(x[start:], y)
        data = MixtureData(
            lagged=jax.numpy.asarray(lagged_matrix(x)[start:]),
            t_std=jax.numpy.asarray((t - t_mean) / t_sd),
            hyper=jax.numpy.asarray(hyper),
        )
        dense = inference.get("dense_mass")
        settings = SamplerSettings(
            num_warmup=inference.get("num_warmup", 1000),
            num_samples=inference.get("num_samples", 1000),
            num_chains=inference.get("num_chains", 4),
            target_accept=inference.get("target_accept", 0.9),
            max_tree_depth=inference.get("max_tree_depth", 10),
            # Every chain starts at the best of NUM_STARTS optima, with that mode's Laplace
            # metric; see docs/hill_mixture.md for the measurements behind both defaults.
            dense_mass=DENSE_MASS if dense is None else dense,
            num_starts=inference.get("num_starts") or NUM_STARTS,
            extra_samples=inference.get("extra_samples", SamplerSettings().extra_samples),
        )
        model = _model(kind)
        key = f"hill_mixture|{kind}"
        args = (data, jax.numpy.asarray(y))

        seen: dict[int, tuple] = {}  # draws per chain -> (fit, raw sites, quantities)

        def fitted_from(z: dict[str, np.ndarray]) -> tuple:
            """The fit of unconstrained draws (chain, draw, ...), its raw sites and its
            label-invariant quantities (`invariant`); the run's draws only ever grow, so the
            last ones the extension checked are the run's own, not evaluated again."""
            draws = np.shape(next(iter(z.values())))[1]
            if draws in seen:
                return seen[draws]
            raw = constrain_in_pieces(key, model, args, z, settings.num_samples)
            flat = {k: v.reshape((-1,) + v.shape[2:]) for k, v in raw.items()}
            s = adstocked_draws(x, start, flat["adstock_alpha"])
            params, curves = derive(flat, kind, s)
            derived = {k: np.asarray(v) for k, v in params.items()}
            derived["intercept"] = flat["level"] - np.asarray(mean_media(derived, curves))
            fitted = HillMixtureFit(
                kind, flat | derived, t_mean, t_sd, _placeholder(), settings.num_chains, ()
            )
            fitted._of_window("window", train, lambda: (s, np.asarray(data.t_std)))
            seen.clear()
            seen[draws] = fitted, raw, invariant(fitted, train)
            return seen[draws]

        def invariant_of(z: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            chains, draws = np.shape(next(iter(z.values())))[:2]
            return _shaped(fitted_from(z)[2][0], chains, draws)

        run = run_nuts(
            jax.random.PRNGKey(seed), key, model, args, settings, converged_on=invariant_of
        )
        fitted, raw, quantities = fitted_from(run.z)
        optima = None
        if run.starts is not None:  # each optimised start's component parameters (M, K)
            unravel = ravel_pytree({k: v[0, 0] for k, v in run.z.items()})[1]
            z = {k: v[None] for k, v in jax.vmap(unravel)(run.starts[1]).items()}
            at = {k: v[0] for k, v in constrain(key, model, args, z).items()}
            s = adstocked_draws(x, start, at["adstock_alpha"])
            optima = {k: np.asarray(v) for k, v in derive(at, kind, s)[0].items()}
        return _with_diagnostics(fitted, raw, quantities, run, optima)


def adstocked_draws(x: np.ndarray, start: int, alpha: np.ndarray) -> np.ndarray:
    """(S, T) the model's adstock of spend `x` (history and window) under each draw's
    `alpha` (S,), over the window's rows (from `start`)."""
    return np.asarray(adstock(lagged_matrix(x)[start:], alpha)).T


@functools.cache
def _model(kind: str):
    def model(data: MixtureData, y=None) -> None:
        hill_mixture(data, y, kind=kind)

    return model


def _placeholder() -> Diagnostics:
    nan = float("nan")
    return Diagnostics(nan, nan, nan, 0, nan, 0.0, 0.0, nan, 0, 0, "nuts")


def invariant(
    fitted: HillMixtureFit, train: Dataset
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The label-invariant quantities of every draw (name -> (S, ...)): the training
    log-likelihood, the mean response curve at the `CURVE_QUANTILES` of the mean adstocked
    training spend, sigma, alpha, intercept, level and slope; with the spend levels (5,) and
    the curve (S, 5)."""
    d = fitted.draws
    s_train, _ = fitted._window(train)
    levels = np.quantile(s_train.mean(axis=0), CURVE_QUANTILES)
    response = response_curve(d, levels)
    quantities = {
        "log_likelihood": fitted.log_likelihood(train)[..., 0].sum(axis=1),
        "response_curve": response,
        **{k: d[k] for k in ("sigma", "adstock_alpha", "intercept", "level", "slope")},
    }
    return quantities, levels, response


def _shaped(flat: dict[str, np.ndarray], chains: int, draws: int) -> dict[str, np.ndarray]:
    return {k: v.reshape((chains, draws) + v.shape[1:]) for k, v in flat.items()}


def _with_diagnostics(
    fitted: HillMixtureFit,
    raw: dict,
    invariants: tuple[dict[str, np.ndarray], np.ndarray, np.ndarray],
    run,
    optima: dict[str, np.ndarray] | None,
) -> HillMixtureFit:
    """Plain R-hat over raw sites, and label-invariant R-hat/ESS (the convergence verdict)."""
    # The run's own draw count: an unconverged run samples past num_samples (`extra_samples`).
    chains, draws = np.shape(run.stats.diverging)
    plain_rhat = convergence(raw).max_rhat
    d = fitted.draws
    quantities, levels, response = invariants  # `invariant(fitted, train)`
    diagnostics = nuts_diagnostics(_shaped(quantities, chains, draws), run, chains, draws)
    rhat = diagnostics.max_rhat
    extra = (
        ("effective_k", "", effective_k(d["weights"])),
        ("max_rhat_plain", "", plain_rhat),
        ("max_rhat_invariant", "", rhat),
    )
    if optima is not None:
        share = competing_modes(run.starts[0], response_curve(optima, levels), response.std(0))
        extra += (("competing_modes", "", share),)
    return HillMixtureFit(
        fitted.kind, fitted.draws, fitted.t_mean, fitted.t_sd, diagnostics, chains, extra
    )
