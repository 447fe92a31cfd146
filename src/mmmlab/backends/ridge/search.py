"""Robyn's multi-objective hyperparameter search, and what follows it.

Nevergrad's `TwoPointsDE` (Robyn's default `nevergrad_algo`) searches the unit cube in
`trials` independent runs of `iterations` candidates, asked `num_workers` at a time and
evaluated together; every candidate is kept. Non-dominated sorting splits them into Pareto
fronts, one model is chosen from front 1, and a moving-block residual bootstrap gives the
chosen model's uncertainty. Nothing here knows about ridge regression: the caller passes an
`evaluate_fn`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

EvaluateFn = Callable[[np.ndarray], dict[str, np.ndarray]]
# Nevergrad's multi-objective tell needs finite losses; an impossible candidate (e.g. every
# media coefficient zero, DECOMP.RSSD = inf) is told this instead and kept as inf.
LOSS_CAP = 1e3


@dataclass(frozen=True)
class SearchSettings:
    """How long and how wide to search.

    iterations : candidates per trial (Robyn's default 2000)
    trials : independent runs, trial k seeded with ``seed + k`` (Robyn's default 5)
    num_workers : candidates asked per batch and evaluated at once (Robyn's `cores`).
        TwoPointsDE keeps a population of max(30, num_workers), so 30 evaluates one
        generation per batch.
    optimizer : a name in Nevergrad's optimizer registry
    """

    iterations: int = 2000
    trials: int = 5
    num_workers: int = 30
    optimizer: str = "TwoPointsDE"

    def __post_init__(self) -> None:
        for key in ("iterations", "trials", "num_workers"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"{key} must be at least 1, got {getattr(self, key)}")


class SearchResult(NamedTuple):
    """Every evaluated candidate, in evaluation order (N = trials × iterations).

    unit : (N, D) points in [0, 1]^D; scores : name -> (N,) what `evaluate_fn` returned
    trial, iteration : (N,) 1-based trial and candidate number within it
    seconds : wall time of the whole search
    """

    unit: np.ndarray
    scores: dict[str, np.ndarray]
    trial: np.ndarray
    iteration: np.ndarray
    seconds: float


def run_search(
    evaluate_fn: EvaluateFn,
    dim: int,
    objectives: Sequence[str],
    settings: SearchSettings,
    seed: int,
) -> SearchResult:
    """Minimise the `objectives` (keys of what `evaluate_fn` returns) jointly.

    evaluate_fn : (B, dim) unit-cube points -> {name: (B,)}; it sees a whole batch at once.
    Like Robyn, each optimizer is first told the reference point (1, ..., 1) that bounds
    its hypervolume.
    """
    import nevergrad as ng

    start = time.perf_counter()
    units, scores, trials, iterations = [], [], [], []
    for trial in range(settings.trials):
        param = ng.p.Array(shape=(dim,), lower=0.0, upper=1.0)
        param.random_state = np.random.RandomState((seed + trial) % 2**32)
        optimizer = ng.optimizers.registry[settings.optimizer](
            parametrization=param, budget=settings.iterations, num_workers=settings.num_workers
        )
        optimizer.tell(ng.p.MultiobjectiveReference(), [1.0] * len(objectives))
        done = 0
        while done < settings.iterations:
            asked = [
                optimizer.ask()
                for _ in range(min(settings.num_workers, settings.iterations - done))
            ]
            unit = np.stack([np.asarray(c.value, float) for c in asked])
            batch = evaluate_fn(unit)
            losses = np.column_stack([batch[k] for k in objectives])
            told = np.nan_to_num(losses, nan=LOSS_CAP, posinf=LOSS_CAP).clip(max=LOSS_CAP)
            for candidate, loss in zip(asked, told, strict=True):
                optimizer.tell(candidate, loss.tolist())
            units.append(unit)
            scores.append(batch)
            trials.append(np.full(len(unit), trial + 1))
            iterations.append(done + 1 + np.arange(len(unit)))
            done += len(unit)
    merged = {k: np.concatenate([s[k] for s in scores]) for k in scores[0]}
    return SearchResult(
        np.concatenate(units),
        merged,
        np.concatenate(trials),
        np.concatenate(iterations),
        time.perf_counter() - start,
    )


def pareto_fronts(losses: np.ndarray, max_fronts: int = 3) -> np.ndarray:
    """Front number (1 = non-dominated) of each candidate, 0 beyond `max_fronts`.

    losses : (N, M), all minimised; NaN counts as +inf. A candidate dominates another when
    it is no worse in every objective and better in one; front k is what is non-dominated
    once fronts 1..k-1 are removed (Robyn keeps fronts 1-3).
    """
    losses = np.where(np.isnan(losses), np.inf, np.asarray(losses, float))
    fronts = np.zeros(len(losses), int)
    # In lexicographic order a candidate's dominators all come before it, and a dominated
    # dominator is itself dominated by an earlier front member: checking each candidate
    # against the front built so far is enough.
    remaining = np.lexsort(losses.T[::-1])
    for k in range(1, max_fronts + 1):
        if not len(remaining):
            break
        members = np.empty((len(remaining), losses.shape[1]))
        size, rest = 0, []
        for i in remaining:
            point, front = losses[i], members[:size]
            dominated = np.any(np.all(front <= point, axis=1) & np.any(front < point, axis=1))
            if dominated:
                rest.append(i)
            else:
                members[size] = point
                size += 1
                fronts[i] = k
        remaining = np.array(rest, int)
    return fronts


def choose_model(losses: np.ndarray, fronts: np.ndarray) -> int:
    """Index of the front-1 candidate nearest the origin once each objective is min-max
    scaled over front 1 (Robyn's `errors_scores`, clusters.R, with equal weights; an
    objective constant over the front scales to 0)."""
    members = np.flatnonzero(fronts == 1)
    if not len(members):
        raise ValueError("choose_model: no candidate on front 1")
    front = np.asarray(losses, float)[members]
    low, high = front.min(axis=0), front.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    scaled = np.where(high > low, (front - low) / span, 0.0)
    return int(members[np.argmin(np.sqrt(np.square(scaled).sum(axis=1)))])


def moving_block_bootstrap(
    rng: np.random.Generator,
    residuals: np.ndarray,
    num_draws: int,
    block_length: int | None = None,
) -> np.ndarray:
    """(num_draws, T) resampled residuals: blocks of `block_length` consecutive residuals
    (default round(T^(1/3))) starting anywhere, laid end to end and cut to T, so the
    autocorrelation within a block survives."""
    residuals = np.asarray(residuals, float)
    n = len(residuals)
    length = max(1, min(n, block_length or round(n ** (1 / 3))))
    starts = rng.integers(0, n - length + 1, size=(num_draws, math.ceil(n / length)))
    index = (starts[..., None] + np.arange(length)).reshape(num_draws, -1)[:, :n]
    return residuals[index]
