"""The additive parts of the model's mean, evaluated for every posterior draw."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np

from mmmlab.inference.programs import PROGRAMS
from mmmlab.models.mmm import Structure, components, decompose, mean_of, predicted_lift
from mmmlab.models.scaling import ModelData

PARTS = ("baseline", "trend", "seasonality", "controls")
EVAL_CHUNK_ELEMENTS = 2**24  # per chunk of draws: draws × T × G × C elements at most


@dataclass(frozen=True)
class Components:
    """Posterior draws of the mean's additive parts, in the target's units.

    parts : name -> (S, T, G) for baseline, trend, seasonality, controls
    media : (S, T, G, C) contribution of each channel
    mean : (S, T, G) expected target; S = chains × draws.
    """

    parts: dict[str, np.ndarray]
    media: np.ndarray
    mean: np.ndarray


def evaluate_draws(s: Structure, flat: dict, data: ModelData) -> dict[str, np.ndarray]:
    """Every part (S, T, G) and the media (S, T, G, C) of each posterior draw, in model units.

    Draws go through in chunks (`EVAL_CHUNK_ELEMENTS`), each as large as the last, so one
    compiled program serves and memory stays at the outputs plus one chunk's intermediates.
    """
    fn, _ = PROGRAMS.get(("components", s.key), lambda: _evaluator(s))
    return _in_chunks(fn, flat, data)


def evaluate_media(s: Structure, flat: dict, data: ModelData) -> np.ndarray:
    """The media (S, T, G, C) of each posterior draw alone, in model units: what ROAS and
    response curves read. The same arithmetic as `evaluate_draws`' media (the same values),
    without computing and copying the other parts."""

    def one(params: dict, data: ModelData) -> dict:
        return {"media": components(params, data, s)["media"]}

    fn, _ = PROGRAMS.get(("media", s.key), lambda: jax.jit(jax.vmap(one, in_axes=(0, None))))
    return _in_chunks(fn, flat, data)["media"]


def evaluate_lifts(s: Structure, flat: dict, data: ModelData) -> np.ndarray:
    """(S, N) each posterior draw's predicted lift of the tests in `data.lifts`, target
    units; `data` is the training window the tests were laid out on."""

    def one(params: dict, data: ModelData) -> dict:
        _, beta = decompose(params, data, s)
        return {"lift": predicted_lift(params, beta, data.lifts, s) * data.lifts.unit}

    fn, _ = PROGRAMS.get(("lifts", s.key), lambda: jax.jit(jax.vmap(one, in_axes=(0, None))))
    return _in_chunks(fn, flat, data)["lift"]


def chunk_size(n: int, data: ModelData) -> int:
    """Draws per chunk when `n` draws are evaluated on `data` (`EVAL_CHUNK_ELEMENTS`)."""
    n_channels, n_time, n_geos, _ = data.media_lags.shape
    return max(1, min(n, EVAL_CHUNK_ELEMENTS // max(n_channels * n_time * n_geos, 1)))


def _in_chunks(fn: Callable, flat: dict, data: ModelData) -> dict[str, np.ndarray]:
    """``fn(draws, data)`` over chunks of draws, outputs stacked (S, ...)."""
    n = len(next(iter(flat.values())))
    size = chunk_size(n, data)
    out: dict[str, np.ndarray] = {}
    for start in range(0, n, size):
        rows = np.arange(start, start + size) % n  # the last chunk wraps; extra rows dropped
        part = jax.device_get(fn({k: np.asarray(v)[rows] for k, v in flat.items()}, data))
        keep = min(size, n - start)
        for k, v in part.items():
            if k not in out:
                out[k] = np.empty((n, *np.shape(v)[1:]), dtype=np.asarray(v).dtype)
            out[k][start : start + keep] = np.asarray(v)[:keep]
    return out


def _evaluator(s: Structure) -> Callable:
    """Compiled ``(flat posterior, data) -> parts`` for a structure."""

    def one(params: dict, data: ModelData) -> dict:
        parts = components(params, data, s)
        return {**parts, "mean": mean_of(parts)}

    return jax.jit(jax.vmap(one, in_axes=(0, None)))
