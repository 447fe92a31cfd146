"""Unconstrained draws mapped to the model's parameters: one compiled program per model
structure and draw shape (kept on disk by `inference.exported`), or a run's draws in pieces of
one length so a run that sampled past `num_samples` reuses that program."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from numpyro.infer.util import constrain_fn

from mmmlab.inference import chains, exported
from mmmlab.inference.programs import PROGRAMS, shape_key


def constrain(key: str, model: Callable, model_args: tuple, z: dict) -> dict[str, np.ndarray]:
    """Unconstrained draws (chain, draw, ...) by site mapped to the model's parameters.

    key : names the model structure (one compiled program per structure and shapes of `z`
    and `model_args`; kept on disk by `inference.exported` where it can be, so that a new
    process does not trace the model for it)."""

    def each(z: dict, args: tuple) -> dict:
        return jax.vmap(jax.vmap(lambda zi: constrain_fn(model, args, {}, zi)))(z)

    leaves, tree = jax.tree_util.tree_flatten(model_args)
    shapes = (key, exported.code_of(model), shape_key(z), shape_key(model_args))

    def stored() -> Callable | None:
        def flat(z: dict, *data: Any) -> dict:
            return each(z, jax.tree_util.tree_unflatten(tree, data))

        program, _ = exported.load_or_export(
            "nuts.constrain", shapes, flat, chains.shapes(z), *leaves
        )
        return None if program is None else jax.jit(program.call)

    program, _ = PROGRAMS.get(("constrain.stored", *shapes), stored)
    if program is not None:
        return jax.device_get(program(z, *leaves))
    program, _ = PROGRAMS.get(("constrain", key), lambda: jax.jit(each))
    return jax.device_get(program(z, model_args))


def constrain_in_pieces(
    key: str, model: Callable, args: tuple, z: dict[str, np.ndarray], piece: int
) -> dict[str, np.ndarray]:
    """`constrain` of draws (chain, draw, ...) `piece` draws at a time, the last one padded:
    the program compiled for `num_samples` draws (warmed up by `inference.fit` while the
    sampler compiles) serves a run that added draws, instead of a new compile per length."""
    total = next(iter(z.values())).shape[1]
    parts = []
    for start in range(0, total, piece):
        chunk = {k: v[:, start : start + piece] for k, v in z.items()}
        short = piece - next(iter(chunk.values())).shape[1]
        if short:
            chunk = {
                k: np.pad(v, [(0, 0), (0, short)] + [(0, 0)] * (v.ndim - 2))
                for k, v in chunk.items()
            }
        out = constrain(key, model, args, chunk)
        parts.append({k: np.asarray(v)[:, : piece - short] for k, v in out.items()})
    return {k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0]}
