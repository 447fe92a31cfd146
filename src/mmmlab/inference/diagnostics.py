"""Convergence diagnostics over a posterior's free parameters, and how long the fit took."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np

from mmmlab.inference import rank_stats

RHAT_WARN = 1.01
ESS_TARGET = 400  # min bulk ESS a run continues for (`converged_draws`)


@dataclass(frozen=True)
class Diagnostics:
    """Summary of one fit's convergence and cost.

    max_rhat : largest rank-normalised split R-hat over every free parameter element
    min_ess_bulk, min_ess_tail : smallest bulk / tail effective sample size
    divergences : divergent transitions after warmup, all chains
    min_bfmi : smallest energy Bayesian fraction of missing information over chains
    compile_s, sample_s : seconds compiling and sampling (apart)
    ess_per_s : min_ess_bulk per second of fit time (compile + sampling)
    num_chains, num_draws : posterior draws per chain; method : 'nuts' | 'map' | 'svi'
    median_ess_bulk : median bulk ESS over every free parameter element
    """

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    min_bfmi: float
    compile_s: float
    sample_s: float
    ess_per_s: float
    num_chains: int
    num_draws: int
    method: str
    median_ess_bulk: float = math.nan

    @property
    def converged(self) -> bool:
        return self.max_rhat < RHAT_WARN and self.divergences == 0

    def warnings(self) -> list[str]:
        """Plain-language warnings a user should read before trusting the fit."""
        out = []
        if self.method == "map":
            return [
                "map fit: the posterior mode, a point estimate with no intervals (null in "
                "summary.json, empty in the CSV tables); fit with nuts for uncertainty"
            ]
        if self.method == "svi":
            return [
                "svi fit: a mean-field variational approximation, whose intervals are often "
                "too narrow; fit with nuts for calibrated intervals"
            ]
        if self.num_chains < 2:
            out.append(
                "one chain: R-hat needs two or more chains to compare, so convergence is not "
                "checked; fit with --chains 2 or more"
            )
        elif not self.max_rhat < RHAT_WARN:
            out.append(
                f"max R-hat {self.max_rhat:.3f} > {RHAT_WARN}: chains disagree; run longer "
                "(more warmup/samples) or simplify the model"
            )
        if self.divergences > 0:
            out.append(
                f"{self.divergences} divergent transitions: raise target_accept (e.g. 0.95) "
                "or tighten priors"
            )
        if self.min_ess_bulk < 100 * self.num_chains:
            out.append(f"low bulk ESS {self.min_ess_bulk:.0f}: intervals are imprecise")
        if self.min_bfmi < 0.3:
            out.append(f"low BFMI {self.min_bfmi:.2f}: the sampler explores the tails poorly")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Diagnostics:
        return cls(**{k: (math.nan if v is None else v) for k, v in raw.items()})


class Convergence(NamedTuple):
    """R-hat and ESS over every element of every site (NaN with fewer than 4 draws)."""

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    median_ess_bulk: float

    @property
    def reached(self) -> bool:
        """Max R-hat <= `RHAT_WARN` and min bulk ESS >= `ESS_TARGET`."""
        return self.max_rhat <= RHAT_WARN and self.min_ess_bulk >= ESS_TARGET


def convergence(draws: dict[str, np.ndarray]) -> Convergence:
    """Max R-hat, min bulk / tail ESS and median bulk ESS over every element of every site.

    draws : site -> array (chain, draw, *shape).
    """
    data = [np.asarray(v, dtype=float) for v in draws.values()]
    if data[0].shape[1] < 4:
        return Convergence(math.nan, math.nan, math.nan, math.nan)
    elements = np.concatenate([v.reshape(v.shape[:2] + (-1,)) for v in data], axis=2)
    bulk = rank_stats.ess_bulk(elements)
    return Convergence(
        float(np.nanmax(rank_stats.rhat(elements))),
        float(np.nanmin(bulk)),
        float(np.nanmin(rank_stats.ess_tail(elements))),
        float(np.nanmedian(bulk)),
    )


def converged_draws(draws: dict[str, np.ndarray]) -> bool:
    """Max R-hat <= `RHAT_WARN` and min bulk ESS >= `ESS_TARGET` over `draws` (site ->
    (chain, draw, ...); unconstrained draws give the same ranks, so the same figures)."""
    return convergence(draws).reached


def worth_extending(ess: float, kept: int, room: int, since: tuple[int, float]) -> bool:
    """Whether an unconverged run could reach `ESS_TARGET` within `room` more draws per
    chain: its min bulk ESS `ess` over `kept` draws per chain, growing at the pace measured
    since `since` ((kept, ess) when it first fell short), or in proportion to the draws where
    that is faster. A run far short of it (chains stuck in a funnel or in different modes)
    stops: more of the same draws would not do."""
    pace = ess / kept
    if kept > since[0]:
        pace = max(pace, (ess - since[1]) / (kept - since[0]))
    return bool(ess + pace * room >= ESS_TARGET)


def bfmi(energy: np.ndarray) -> float:
    """Smallest E-BFMI over chains; energy (chain, draw)."""
    energy = np.asarray(energy)
    num = np.square(np.diff(energy, axis=1)).mean(axis=1)
    den = np.var(energy, axis=1)
    return float(np.min(num / np.where(den > 0, den, np.nan)))


def nuts_diagnostics(draws: dict[str, np.ndarray], run, num_chains: int, num_draws: int):
    """`Diagnostics` of a NUTS run: convergence over `draws` (site -> (chain, draw, ...)),
    divergences and E-BFMI from the run's sample stats, compile and sampling time apart."""
    conv = convergence(draws)
    stats = {k: np.asarray(v) for k, v in run.stats._asdict().items()}
    total = run.compile_s + run.sample_s
    return Diagnostics(
        max_rhat=conv.max_rhat,
        min_ess_bulk=conv.min_ess_bulk,
        min_ess_tail=conv.min_ess_tail,
        divergences=int(stats["diverging"].sum()),
        min_bfmi=bfmi(stats["energy"]),
        compile_s=run.compile_s,
        sample_s=run.sample_s,
        ess_per_s=conv.min_ess_bulk / total if total > 0 else float("nan"),
        num_chains=num_chains,
        num_draws=num_draws,
        method="nuts",
        median_ess_bulk=conv.median_ess_bulk,
    )
