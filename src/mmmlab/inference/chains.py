"""How chains run: the chain-method policy, one chain's program mapped over chains, and the
shapes a mapped program is compiled for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np


def chain_method(num_chains: int, requested: str = "auto") -> str:
    """'parallel' (pmap), 'vectorized' (vmap) or 'sequential' for `num_chains` chains.

    pmap across devices when there are enough; else vmap on accelerators (wide and fast in
    lockstep) and one chain after another on a CPU (vmap would run every chain to the
    deepest tree of any), unless `requested` names one: small models whose gradient costs
    little more for four chains than for one run faster vectorised on a CPU too.
    """
    if requested != "auto":
        return requested if num_chains > 1 else "sequential"
    if num_chains > 1 and jax.local_device_count() >= num_chains:
        return "parallel"
    if num_chains > 1 and jax.default_backend() != "cpu":
        return "vectorized"
    return "sequential"


def over_chains(fn: Callable, method: str, in_axes: tuple) -> Callable:
    """`fn` of one chain as a program of all chains under `method` (sequential: one chain's
    program, called once per chain)."""
    if method == "parallel":
        return jax.pmap(fn, in_axes=in_axes)
    if method == "vectorized":
        return jax.jit(jax.vmap(fn, in_axes=in_axes))
    return jax.jit(fn)


def shapes(tree: Any) -> Any:
    """The abstract shapes of a pytree's leaves, to compile a program for."""
    return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a), a.dtype), tree)


def one_chain(tree: Any) -> Any:
    """The shapes of one chain's slice of a pytree stacked over chains."""
    return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape[1:], a.dtype), tree)


def chain(tree: Any, i: int) -> Any:
    """Chain `i`'s slice of a pytree stacked over chains."""
    return jax.tree_util.tree_map(lambda a: a[i], tree)


def stack_chains(trees: list) -> Any:
    """Host arrays of each chain's pytree, stacked on a new leading chain axis."""
    return jax.tree_util.tree_map(lambda *xs: np.stack(xs), *trees)
