"""`optimize(fit, budget, horizon)`: the spend per channel (or per geo and channel) over the
next N periods that maximises an objective of the incremental response over every posterior
draw, within the budget (to the cent) and the bounds.

Plans are channel totals over the horizon, spent evenly over its N periods; nationally a
channel's total is split across geos as its current spend is (`Horizon.geo_share`), with
`geo_level=True` each geo × channel total is chosen. The current allocation is the spend of
the N periods before the start, scaled to the budget (the same channel mix at this budget);
relative bounds are multiples of it. The problem is solved by `solver.ascend` from several
starts (the current mix, an even split and random ones), the best kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from mmmlab.decisions.bounds import ChannelBounds, Limits, check_bounds, read_bounds, resolve
from mmmlab.decisions.inputs import PlanError
from mmmlab.decisions.objective import Objective, parse_objective
from mmmlab.decisions.response import Response, cell_response, response_per_draw
from mmmlab.decisions.solver import ascend, project, to_cents
from mmmlab.decisions.window import Horizon, plan_horizon
from mmmlab.inference.programs import PROGRAMS
from mmmlab.inference.progress import ProgressBar

if TYPE_CHECKING:
    from mmmlab.inference.fit import Fit

RANDOM_STARTS = 2


@dataclass(frozen=True, eq=False)
class BudgetPlan:
    """An optimised plan and what it is worth against the current allocation.

    channels, geos : labels; geo_level : cells are geo × channel (else one row of channels)
    budget : total spend over the horizon (whole cents); objective : what was maximised
    observed : spend of the N periods before the start (the current mix, before scaling)
    current, recommended : (G', C) spend per cell over the horizon, G' = G or 1
    limits : the resolved bounds per channel
    cells_current, cells_recommended : (S, G, C) incremental response per draw and geo
    mroas : (S, C) marginal ROAS per draw at the recommended plan (the derivative of the
        response with respect to the channel's spend, spread as the plan spreads it);
        cell_mroas : (S, G', C) the same per cell
    marginal : (G', C) the objective's derivative per unit of spend in each cell
    value_current, value_recommended : the objective at each plan
    curves : (K, C) spend grid per channel and (3, K, C) response mean, 5% and 95%
    iterations, stop, seconds : how the solve went (`solver.Ascent`)
    """

    channels: tuple[str, ...]
    geos: tuple[str, ...]
    geo_level: bool
    budget: float
    objective: Objective
    horizon: Horizon
    observed: float
    current: np.ndarray
    recommended: np.ndarray
    limits: Limits
    cells_current: np.ndarray
    cells_recommended: np.ndarray
    mroas: np.ndarray
    cell_mroas: np.ndarray
    marginal: np.ndarray
    value_current: float
    value_recommended: float
    curve_spend: np.ndarray
    curve_response: np.ndarray
    iterations: int
    stop: str
    seconds: float

    @property
    def response_current(self) -> np.ndarray:
        """(S, C) incremental response of the current allocation per draw and channel."""
        return self.cells_current.sum(axis=1)

    @property
    def response_recommended(self) -> np.ndarray:
        """(S, C) incremental response of the recommended plan per draw and channel."""
        return self.cells_recommended.sum(axis=1)

    @property
    def uplift(self) -> np.ndarray:
        """(S,) incremental response of the recommended plan minus the current one."""
        return self.response_recommended.sum(axis=1) - self.response_current.sum(axis=1)

    @property
    def bound(self) -> list[str]:
        """Per channel: 'fixed', 'lower' or 'upper' where the plan sits on that bound, else ''."""
        total, lim = self.recommended.sum(axis=0), self.limits
        return [
            "fixed" if f else "lower" if t <= lo + 0.005 else "upper" if t >= hi - 0.005 else ""
            for t, lo, hi, f in zip(total, lim.lower, lim.upper, lim.fixed, strict=True)
        ]

    @property
    def interior(self) -> np.ndarray:
        """(G', C) cells off every bound: of a channel strictly between its bounds, with
        spend (a geo cell without spend sits on its bound of 0)."""
        off = np.array([b == "" for b in self.bound])
        return off & ((self.recommended > 0) | (self.recommended.shape[0] == 1))

    @property
    def marginal_spread(self) -> float:
        """(max - min) / mean of the objective's marginal return over interior cells: 0 at
        the optimum of a smooth objective (the KKT conditions: equal marginal returns off
        the bounds); NaN with fewer than two interior cells."""
        inside = self.marginal[self.interior]
        if inside.size < 2:
            return float("nan")
        return float((inside.max() - inside.min()) / abs(inside.mean()))

    @property
    def prob_better(self) -> float:
        """Share of draws in which the recommended plan beats the current allocation."""
        return float((self.uplift > 0).mean())


def optimize(
    fit: Fit,
    budget: float,
    horizon: int,
    start: str | None = None,
    bounds: dict | str | Path | None = None,
    objective: str | Objective = "mean",
    geo_level: bool = False,
    seed: int = 0,
    progress: bool | Callable[[int, int], None] = False,
    draws: int | None = None,
) -> BudgetPlan:
    """The best plan of `budget` over the `horizon` periods from `start` (default: after the
    fitted data) for `fit`, over every posterior draw (`allocate`).

    bounds : a bounds file (YAML) or mapping channel -> {lower, upper, fixed}
        (`decisions.bounds`); objective : 'mean', 'quantile:Q' or 'cvar:Q'
    draws : plan over this many posterior draws, evenly spaced (default: all), for large
        panels where each evaluation over every draw is slow
    Raises PlanError, before any work, for a negative budget, an unknown channel, infeasible
    bounds, a bad objective or horizon, or `draws` below 1.
    """
    clock = time.perf_counter()
    budget = check_budget(budget)
    goal = objective if isinstance(objective, Objective) else parse_objective(objective)
    hz = plan_horizon(fit.train, fit.config.l_max, horizon, start)
    _limits(hz, fit.channels, budget, bounds)  # bad bounds stop before the draws are read
    if draws is not None and (not isinstance(draws, int | np.integer) or draws < 1):
        raise PlanError(f"--draws {draws}: give a whole number of draws, 1 or more")
    response = Response.from_fit(fit, hz, draws)
    plan = allocate(response, budget, bounds, goal, geo_level, seed, progress)
    return replace(plan, seconds=time.perf_counter() - clock)


def allocate(
    response: Response,
    budget: float,
    bounds: dict | str | Path | None = None,
    objective: str | Objective = "mean",
    geo_level: bool = False,
    seed: int = 0,
    progress: bool | Callable[[int, int], None] = False,
    random_starts: int = RANDOM_STARTS,
) -> BudgetPlan:
    """The best plan of `budget` for a `Response` over its horizon: a fit's posterior
    (`Response.from_fit`) or a simulated world's truth (`Response.from_truth`), from the
    current mix, an even split and `random_starts` random plans (the best kept)."""
    clock = time.perf_counter()
    budget = check_budget(budget)
    goal = objective if isinstance(objective, Objective) else parse_objective(objective)
    hz = response.horizon
    current_cells, limits = _limits(hz, response.channels, budget, bounds)
    share = np.ones_like(hz.geo_share) if geo_level else hz.geo_share
    current = current_cells if geo_level else current_cells.sum(axis=0, keepdims=True)
    problem = _Problem(response, goal, share)
    fixed = np.where(limits.fixed, limits.lower, 0.0) * (hz.geo_share if geo_level else 1.0)
    fixed = np.broadcast_to(fixed, current.shape)
    with ProgressBar(progress, "optimize") as callback:
        x, iterations, stop = problem.solve(
            current, fixed, limits, budget, seed, random_starts, callback
        )
    interior = ~limits.fixed & (limits.lower < x.sum(0)) & (x.sum(0) < limits.upper)
    cents = to_cents(x, limits.lower, limits.upper, budget, interior * 1e30 + x.sum(0))
    recommended = cents / 100.0
    grads = problem.per_draw_marginal(recommended)
    mix = _mix(recommended, hz.geo_share) if geo_level else np.ones_like(recommended)
    spend_grid, curves = problem.curves(np.maximum(current.sum(0), recommended.sum(0)), mix)
    return BudgetPlan(
        channels=response.channels,
        geos=response.geos,
        geo_level=geo_level,
        budget=budget,
        objective=goal,
        horizon=hz,
        observed=float(hz.current.sum()),
        current=current,
        recommended=recommended,
        limits=limits,
        cells_current=problem.by_cell(current),
        cells_recommended=problem.by_cell(recommended),
        mroas=(grads * mix).sum(axis=1),
        cell_mroas=grads,
        marginal=problem.value_and_grad(recommended)[1],
        value_current=problem.value_and_grad(current)[0],
        value_recommended=problem.value_and_grad(recommended)[0],
        curve_spend=spend_grid,
        curve_response=curves,
        iterations=iterations,
        stop=stop,
        seconds=time.perf_counter() - clock,
    )


def _limits(
    hz: Horizon, channels: tuple[str, ...], budget: float, bounds: dict | str | Path | None
) -> tuple[np.ndarray, Limits]:
    """The current mix at this budget (G, C) and the resolved bounds."""
    observed = float(hz.current.sum())
    if observed <= 0 and budget > 0:
        raise PlanError(
            f"--start/--horizon: no spend in the {hz.periods} periods before the start, so "
            "there is no current mix to scale to the budget; choose a window with spend"
        )
    current = hz.current.sum(axis=0) * (budget / observed if observed > 0 else 0.0)
    rules, where = _bounds(bounds)
    return current, resolve(rules, channels, current.sum(axis=0), budget, where)


def check_budget(budget: float) -> float:
    """The budget rounded to the cent; PlanError naming --budget unless finite and >= 0."""
    try:
        value = float(budget)
    except (TypeError, ValueError):
        raise PlanError(f"--budget {budget!r}: give an amount of money, 0 or more") from None
    if not np.isfinite(value) or value < 0:
        raise PlanError(f"--budget {budget}: the budget must be a finite amount, 0 or more")
    return round(value, 2)


def _bounds(bounds: dict | str | Path | None) -> tuple[dict[str, ChannelBounds], str]:
    if bounds is None:
        return {}, "bounds"
    if isinstance(bounds, dict):
        return check_bounds(bounds), "bounds"
    return read_bounds(bounds), f"--bounds {bounds}"


def _mix(cells: np.ndarray, share: np.ndarray) -> np.ndarray:
    """(G', C) each cell's share of its channel, `share` where a channel has no spend."""
    total = cells.sum(axis=0)
    return np.where(total > 0, cells / np.where(total > 0, total, 1.0), share)


def plan_of(cells: jax.Array, share: jax.Array, periods: int) -> jax.Array:
    """Spend (..., N, G, C) from cells (..., G', C): each cell's total split by `share`
    (G, C) across geos and evenly over the N periods."""
    spread = cells * share / periods
    lead = spread.shape[:-2]
    return jnp.broadcast_to(spread[..., None, :, :], (*lead, periods, *spread.shape[-2:]))


def _periods(curves) -> int:
    n_lags, length = curves.lag_index.shape
    return length - n_lags + 1


class _Problem:
    """The response of a fit over one horizon as functions of a plan's cells (G', C)."""

    def __init__(self, response: Response, goal: Objective, share: np.ndarray) -> None:
        self.response, self.share = response, jnp.asarray(share)
        self.weights = jnp.asarray(goal.weights(response.num_draws))
        s = response.structure

        def value(cells, curves, share, weights):
            plan = plan_of(cells, share, _periods(curves))
            return jnp.sort(cell_response(plan, curves, s).sum(axis=(1, 2))) @ weights

        def per_draw(cells, curves, share):
            many = jnp.broadcast_to(cells, (curves.coefficient.shape[0], *cells.shape))

            def total(c: jax.Array) -> jax.Array:
                return response_per_draw(plan_of(c, share, _periods(curves)), curves, s).sum()

            return jax.grad(total)(many)

        self._value_grad, _ = PROGRAMS.get(
            ("decisions.objective", s.key), lambda: jax.jit(jax.value_and_grad(value))
        )
        self._per_draw, _ = PROGRAMS.get(("decisions.marginal", s.key), lambda: jax.jit(per_draw))

    def value_and_grad(self, cells: np.ndarray | jax.Array) -> tuple[float, np.ndarray]:
        """The objective at `cells` and its derivative per unit of spend in each cell."""
        value, grad = self._value_grad(
            jnp.asarray(cells), self.response.curves, self.share, self.weights
        )
        return float(value), np.asarray(grad)

    def by_cell(self, cells: np.ndarray) -> np.ndarray:
        """Incremental response (S, G, C) of the plan with these cells."""
        periods = self.response.horizon.periods
        return self.response.by_cell(np.asarray(plan_of(cells, self.share, periods)))

    def per_draw_marginal(self, cells: np.ndarray) -> np.ndarray:
        """(S, G', C) each draw's derivative of its response per unit of spend per cell."""
        return np.asarray(self._per_draw(jnp.asarray(cells), self.response.curves, self.share))

    def curves(
        self, top: np.ndarray, mix: np.ndarray, points: int = 31
    ) -> tuple[np.ndarray, np.ndarray]:
        """Spend (K, C) from 0 to 1.5 × `top` per channel and the response there: (3, K, C),
        mean, 5% and 95% over draws; a channel's spend is spread over cells by `mix`."""
        top = np.where(top > 0, top, max(top.max(), 1.0))
        spend = np.linspace(0.0, 1.5, points)[:, None] * top  # 1.0 × top is point 20
        draws = np.stack(
            [self.by_cell(row * mix).sum(axis=1) for row in spend], axis=1
        )  # (S, K, C)
        lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
        return spend, np.stack([draws.mean(axis=0), lo, hi])

    def solve(self, current, fixed, limits: Limits, budget: float, seed, randoms, callback):
        """The best cells (G', C) from several starts. The free cells are solved for in
        fractions of the budget left after the fixed channels, and the objective over its
        value at the current plan, so both are of order one."""
        free_budget = budget - float(fixed.sum())
        free = ~limits.fixed
        if free_budget <= 0 or not free.any():
            return fixed, 0, "converged"
        low = jnp.asarray(np.where(free, limits.lower, 0.0) / free_budget)
        high = jnp.asarray(np.where(free, limits.upper, 0.0) / free_budget)
        scale = max(abs(self.value_and_grad(current)[0]), 1e-12)
        curves, share, weights = self.response.curves, self.share, self.weights

        def value_and_grad(u: jax.Array) -> tuple[jax.Array, jax.Array]:
            value, grad = self._value_grad(fixed + u * free_budget, curves, share, weights)
            return value / scale, grad * (free_budget / scale)

        def proj(u: jax.Array) -> jax.Array:
            return project(u, low, high, 1.0)

        rng = np.random.default_rng(seed)
        cells = current.shape
        even = np.broadcast_to(free / free.sum(), cells) / cells[0]
        starts = [free * current / free_budget, even]
        for _ in range(randoms):
            starts.append(free * rng.dirichlet(np.ones(current.size)).reshape(cells))
        best, iterations = None, 0
        for i, begin in enumerate(starts):
            run = ascend(value_and_grad, proj, jnp.asarray(begin, dtype=float))
            iterations += run.iterations
            if best is None or run.value > best.value:
                best = run
            if callback:
                callback(i + 1, len(starts))
        return fixed + best.x * free_budget, iterations, best.stop
