"""The additive parts of the model's mean, evaluated for every posterior draw."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import jax
import numpy as np
from numpyro.handlers import seed, trace

from mmmlab.inference.programs import PROGRAMS
from mmmlab.models.mmm import Structure, components, decompose, mean_of, mmm, predicted_lift
from mmmlab.models.scaling import ModelData

PARTS = ("baseline", "trend", "seasonality", "controls")
EVAL_CHUNK_ELEMENTS = 2**24  # per chunk of draws: draws × T × G × C elements at most
# Per geo block of `geo_blocks`: draws × T × G_block × C media elements (1 GiB of float64).
# A report of 4 × 1000 draws of a 50-geo, 30-channel panel held all of them at once (10 GB).
BLOCK_ELEMENTS = 2**27


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


def geo_blocks(
    s: Structure, flat: dict, data: ModelData, elements: int | None = None
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """`evaluate_draws` a few geos at a time: yields (geo indices, parts of those geos), so
    memory holds one block's (S, T, G_block, C) media instead of every geo's.

    A geo's parts depend only on its own data and parameters (intercept, noise, channel
    deviations), so a block is the model evaluated on the block's geos alone: the same
    values. Blocks hold at least 2 geos (a model of one geo is a national model) and about
    `elements` (default `BLOCK_ELEMENTS`) draws × T × G_block × C elements; national data
    is one block.
    """
    n_draws = len(next(iter(flat.values())))
    n_channels, n_time = data.media_lags.shape[:2]
    blocks = geo_split(s.n_geos, n_draws * n_time * n_channels, elements)
    if len(blocks) == 1:
        yield blocks[0], evaluate_draws(s, flat, data)
        return
    axes = geo_axes(s, data)
    for idx in blocks:
        sub = s._replace(n_geos=len(idx))
        yield idx, evaluate_draws(sub, geo_sites(flat, axes, idx), geo_slice(data, idx))


def geo_split(n_geos: int, per_geo: int, elements: int | None = None) -> list[np.ndarray]:
    """Geo indices of each block: about `elements` (default `BLOCK_ELEMENTS`) values of
    `per_geo` each, at least 2 geos a block (one geo alone is a national model)."""
    elements = BLOCK_ELEMENTS if elements is None else elements
    per_geo = max(per_geo, 1)
    count = 1 if n_geos == 1 else max(1, min(-(-n_geos * per_geo // elements), n_geos // 2))
    return np.array_split(np.arange(n_geos), count)


def geo_sites(flat: dict, axes: dict[str, int], idx: np.ndarray) -> dict:
    """The draws `flat` (site -> (S, ...)) of the geos `idx`, on each site's geo axis
    (`geo_axes`); sites without one unchanged."""
    return {k: np.take(v, idx, axis=axes[k]) if k in axes else v for k, v in flat.items()}


def geo_slice(data: ModelData, idx: np.ndarray) -> ModelData:
    """`data` of the geos `idx` alone (lift tests dropped: they span geos)."""
    ref = data.reference_lags
    return data._replace(
        media_lags=data.media_lags[:, :, idx],
        controls=data.controls[:, idx],
        reference_lags=None if ref is None else ref[:, :, idx],
        lifts=None,
    )


def geo_axes(s: Structure, data: ModelData) -> dict[str, int]:
    """Each latent site with a geo axis (under a plate named ``geo...``): that axis of one
    draw's value (negative). Read from an abstract trace of the model: nothing computed."""
    axes: dict[str, int] = {}

    def run() -> int:
        tr = trace(seed(lambda: mmm(data, s), 0)).get_trace()
        for name, site in tr.items():
            if site["type"] != "sample" or site.get("is_observed"):
                continue
            event = len(site["fn"].event_shape)
            for frame in site["cond_indep_stack"]:
                if frame.name.startswith("geo"):
                    axes[name] = frame.dim - event
        return 0

    jax.eval_shape(run)
    return axes


def chunk_size(n: int, data: ModelData) -> int:
    """Draws per chunk when `n` draws are evaluated on `data` (`EVAL_CHUNK_ELEMENTS`)."""
    n_channels, n_time, n_geos, _ = data.media_lags.shape
    return max(1, min(n, EVAL_CHUNK_ELEMENTS // max(n_channels * n_time * n_geos, 1)))


def _in_chunks(fn: Callable, flat: dict, data: ModelData, *extra) -> dict[str, np.ndarray]:
    """``fn(draws, data, *extra)`` over chunks of draws, outputs stacked (S, ...)."""
    n = len(next(iter(flat.values())))
    size = chunk_size(n, data)
    out: dict[str, np.ndarray] = {}
    for start in range(0, n, size):
        rows = np.arange(start, start + size) % n  # the last chunk wraps; extra rows dropped
        part = jax.device_get(fn({k: np.asarray(v)[rows] for k, v in flat.items()}, data, *extra))
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
