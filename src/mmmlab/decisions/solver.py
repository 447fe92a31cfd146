"""The constrained problem: maximise a smooth function of spend over the plans that spend the
budget exactly, keep each channel between its bounds and spend nothing negative.

The feasible set is {x >= 0 : sum(x) = B, lower_c <= sum_g x[g, c] <= upper_c}: a capped
simplex of channel totals (one cell per channel nationally, one per geo and channel with
geo-level plans). Euclidean projection onto it is exact and cheap: the KKT conditions give
``x[g, c] = max(v[g, c] - tau - nu_c, 0)``, the total is monotone in tau (bisection), and
nu_c, non-zero only for a channel at a bound, is a simplex projection of that channel's cells.

`ascend` is spectral projected gradient ascent (Birgin, Martinez & Raydan 2000, SPG2): a
projected step with Barzilai-Borwein step lengths and a non-monotone Armijo line search. Every
iterate is projected, so every plan it ever holds spends the budget and honours the bounds;
the method needs only the objective's gradient (JAX) and the projection, and scales to
thousands of geo × channel cells where a dense quadratic-programming step would not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

BISECTION_STEPS = 200  # halvings of tau's bracket: far past float64's 53 bits


@jax.jit
def project(v: jax.Array, lower: jax.Array, upper: jax.Array, total: jax.Array) -> jax.Array:
    """The nearest x (G, C) to v (G, C) with x >= 0, lower <= x.sum(0) <= upper (C,) and
    x.sum() = total; needs sum(lower) <= total <= sum(upper)."""

    def kept(tau: jax.Array) -> jax.Array:
        return jnp.clip(jnp.maximum(v - tau, 0.0).sum(axis=0), lower, upper)

    def halve(_: int, bracket: tuple) -> tuple:
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        above = kept(mid).sum() > total
        return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

    # At lo every channel keeps its upper bound (sum >= total), at hi its lower one (<= total).
    bracket = (v.min() - upper.max() - 1.0, v.max())
    lo, hi = jax.lax.fori_loop(0, BISECTION_STEPS, halve, bracket)
    return _simplex(v - 0.5 * (lo + hi), kept(0.5 * (lo + hi)))


def _simplex(w: jax.Array, size: jax.Array) -> jax.Array:
    """Each column of w (G, C) projected onto {x >= 0, sum(x) = size_c} (sort-based)."""
    u = -jnp.sort(-w, axis=0)
    excess = jnp.cumsum(u, axis=0) - size
    rank = jnp.arange(1, w.shape[0] + 1)[:, None]
    count = jnp.maximum((u - excess / rank > 0).sum(axis=0), 1)
    theta = jnp.take_along_axis(excess, count[None] - 1, axis=0)[0] / count
    return jnp.maximum(w - theta, 0.0)


class Ascent(NamedTuple):
    """x : the best plan found; value : its objective; iterations; stop : why it stopped:
    'converged' (the projected gradient step fell below the tolerance), 'stalled' (no ascent
    left along the projected gradient within float precision, as at the kinks of the
    quantile and CVaR objectives) or 'iterations' (the limit)."""

    x: np.ndarray
    value: float
    iterations: int
    stop: str


def ascend(
    value_and_grad: Callable[[jax.Array], tuple[jax.Array, jax.Array]],
    proj: Callable[[jax.Array], jax.Array],
    x0: jax.Array,
    max_iter: int = 300,
    tol: float = 1e-7,
    memory: int = 8,
) -> Ascent:
    """Maximise f from x0 by spectral projected gradient (SPG2) within the set `proj` maps to.

    value_and_grad : x -> (f(x), grad f(x)). Variables and f should be of order one (the
    caller scales them): `tol` bounds the sup-norm of the projected gradient step
    ``proj(x + grad) - x``, and a run whose best value gains less than 1e-10 (relative) in
    `memory` iterations has stalled.
    """
    x = proj(x0)
    f, g = value_and_grad(x)
    best = [float(f)]
    step = 1.0 / max(float(jnp.abs(proj(x + g) - x).max()), 1e-12)
    for it in range(1, max_iter + 1):
        if float(jnp.abs(proj(x + g) - x).max()) < tol:
            return Ascent(np.asarray(x), float(f), it - 1, "converged")
        if len(best) > memory and best[-1] - best[-1 - memory] <= 1e-10 * abs(best[-1]):
            return Ascent(np.asarray(x), float(f), it - 1, "stalled")
        d = proj(x + step * g) - x
        slope = float(jnp.vdot(g, d))
        reference, a, gain = max(best[-memory:]), 1.0, None
        for _ in range(30):
            f_new, g_new = value_and_grad(x + a * d)
            if float(f_new) >= reference + 1e-4 * a * slope:
                break
            if float(f_new) > float(f) and (gain is None or float(f_new) > float(gain[1])):
                gain = (a, f_new, g_new)
            # the maximum of the quadratic through f(x), its slope and f(x + a d), kept
            # inside [0.1 a, 0.5 a]
            curve = float(f_new) - float(f) - a * slope
            a *= 0.5 if curve >= 0 else float(np.clip(-0.5 * slope / curve, 0.1, 0.5))
        else:
            # No step met Armijo's condition: the slope promised far more than any step gave,
            # as where a return's marginal is unbounded at zero spend (Hill slope < 1). Take
            # the best step that rose at all; with none, the ascent has stalled.
            if gain is None:
                return Ascent(np.asarray(x), float(f), it, "stalled")
            a, f_new, g_new = gain
        s, y = a * d, g_new - g
        x, f, g = x + s, f_new, g_new
        best.append(max(best[-1], float(f)))
        curvature = -float(jnp.vdot(s, y))  # > 0 where f is concave along s
        step = float(np.clip(jnp.vdot(s, s) / curvature, 1e-10, 1e10)) if curvature > 0 else 1e10
    return Ascent(np.asarray(x), float(f), max_iter, "iterations")


def to_cents(
    x: np.ndarray, lower: np.ndarray, upper: np.ndarray, budget: float, prefer: np.ndarray
) -> np.ndarray:
    """x (G, C) rounded to whole cents so that channel totals stay within lower..upper (C,)
    and the cells add up to `budget` exactly; the rounding residual goes to the cells of
    channels ranked by `prefer` (C,) (e.g. channels off their bounds first, then spend).
    Returns whole cents (int64)."""
    cents = np.rint(np.asarray(x) * 100.0).astype(np.int64)
    low = np.rint(np.asarray(lower) * 100.0).astype(np.int64)
    high = np.rint(np.asarray(upper) * 100.0).astype(np.int64)
    for c in range(cents.shape[1]):  # each channel within its bounds
        total = cents[:, c].sum()
        _move(cents[:, c], min(max(total, low[c]), high[c]) - total)
    residual = int(round(budget * 100.0)) - int(cents.sum())
    for c in np.argsort(-np.asarray(prefer), kind="stable"):
        if residual == 0:
            break
        total = cents[:, c].sum()
        room = high[c] - total if residual > 0 else low[c] - total
        amount = min(residual, room) if residual > 0 else max(residual, room)
        _move(cents[:, c], amount)
        residual -= amount
    return cents


def _move(column: np.ndarray, amount: int) -> None:
    """Add `amount` cents (negative: take them) to a channel's cells, largest cells first."""
    for g in np.argsort(-column, kind="stable"):
        if amount == 0:
            return
        change = amount if amount > 0 else max(amount, -int(column[g]))
        column[g] += change
        amount -= change
