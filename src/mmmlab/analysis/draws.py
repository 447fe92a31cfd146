"""What a fit's report needs of every posterior draw, without every draw of every channel in
every geo at once.

`Fit.components` returns the media of each draw, period, geo and channel: S × T × G × C
floats, 10 GB for 4 × 1000 draws of a 50-geo, 30-channel panel. Here the geos go in blocks
(a block is the model on its geos alone: the same values, `inference.components.geo_slice`),
each block evaluated for every draw, the draws last, and reduced at once: to per-cell bands
(the intervals are partitions of contiguous rows) and per-draw totals.

The adstock is linear: the media with every spend times m are ``saturation(m · adstock(x))``.
So the adstock and the channel coefficients (from the training window) are computed once per
draw, and each spend multiplier costs one saturation, summed on the device (`scaled_totals`:
mROAS, response curves), instead of the whole model once per multiplier.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from mmmlab.analysis.roas import band
from mmmlab.inference.components import (
    PARTS,
    Components,
    chunk_size,
    geo_axes,
    geo_sites,
    geo_slice,
    geo_split,
)
from mmmlab.inference.fit import WARMUPS
from mmmlab.inference.programs import PROGRAMS
from mmmlab.metrics.roas import MARGIN
from mmmlab.models.mmm import Structure, decompose, geo_effects, mean_of, media_coefficient
from mmmlab.transforms import ADSTOCK_PARAMS, SATURATION_PARAMS, adstock_weights, saturation

if TYPE_CHECKING:
    from mmmlab.data import Dataset
    from mmmlab.inference.fit import Fit

Band = tuple[np.ndarray, np.ndarray, np.ndarray]
MULTIPLIERS = np.linspace(0.0, 2.0, 21)  # the response curves' spend multipliers


@dataclass(frozen=True)
class ReportDraws:
    """A window's posterior reduced for the report, in target units.

    mean : (S, T, G) expected target per draw
    bands : component -> (mean, lo, hi) over draws, each (T, G): the parts of `PARTS`, then
        one per channel (`analysis.roas.contributions_table` reads them)
    contribution : (S, C) each channel's contribution summed over periods and geos
    bumped : (S, C) the same with every spend times 1 + `MARGIN` (mROAS)
    multipliers : (M,) spend multipliers of the response curves
    curves : (S, M, C) the contributions with every spend times each multiplier; these
        three are `scaled_totals`, so mROAS differences carry no rounding of two paths
    """

    mean: np.ndarray
    bands: dict[str, Band]
    contribution: np.ndarray
    bumped: np.ndarray
    multipliers: np.ndarray
    curves: np.ndarray

    def components(self) -> Components:
        """The expected target as `Components` for `Fit.predict` (which reads `mean` only);
        no parts, and media with no periods."""
        n = len(self.mean)
        return Components(parts={}, media=np.zeros((n, 0, 0, 0)), mean=self.mean)


def report_draws(
    fit: Fit,
    dataset: Dataset | None = None,
    multipliers: Sequence[float] | np.ndarray = MULTIPLIERS,
    block_elements: int | None = None,
) -> ReportDraws:
    """`ReportDraws` of `dataset`'s window (default: training), geo block by geo block
    (blocks of about `block_elements` media values, default `BLOCK_ELEMENTS`). The device
    evaluates a block (and its curves at `multipliers`) while the host reduces the last."""
    dataset = fit.train if dataset is None else dataset
    n, n_time, n_geos = fit.num_draws, dataset.n_time, dataset.n_geos
    grid = np.asarray(multipliers, dtype=float)
    scales, at = np.unique(np.concatenate([[1.0, 1.0 + MARGIN], grid]), return_inverse=True)
    mean = np.empty((n, n_time, n_geos))
    totals = np.zeros((n, len(scales), dataset.n_channels))
    cells = {k: np.empty((3, n_time, n_geos)) for k in (*PARTS, *dataset.channels)}
    for idx, out in _evaluate(fit, dataset, scales, True, block_elements):
        parts, media = out["parts"], out["media"]
        expected = mean_of(parts | {"media": np.moveaxis(media, 0, -1)})  # (G_block, T, S)
        mean[:, :, idx] = expected.T
        totals += np.moveaxis(out["totals"], -1, 0)
        series = [*((k, parts[k]) for k in PARTS), *zip(dataset.channels, media, strict=True)]
        for name, draws in series:  # (G_block, T, S) -> mean, lo, hi (T, G_block)
            cells[name][:, :, idx] = np.swapaxes(band(draws, axis=-1), 1, 2)
    bands = {k: (v[0], v[1], v[2]) for k, v in cells.items()}
    totals = totals[:, at]  # (S, 2 + M, C): at 1, at 1 + MARGIN, at each multiplier
    return ReportDraws(mean, bands, totals[:, 0], totals[:, 1], grid, totals[:, 2:])


def scaled_totals(
    fit: Fit,
    scales: Sequence[float] | np.ndarray,
    dataset: Dataset | None = None,
    block_elements: int | None = None,
) -> np.ndarray:
    """(S, M, C) each draw's channel contributions summed over `dataset`'s window (default:
    training) and geos, target units, with every spend times each of the M `scales`:
    ``Fit.media(dataset, m).sum(axis=(1, 2))`` for each m, without any (S, T, G, C) array."""
    total: Any = 0.0
    for _, out in _evaluate(fit, dataset, scales, False, block_elements):
        total = total + out["totals"]
    return np.moveaxis(total, -1, 0)


# ------------------------------------------------------------------- blocks on the device
def _evaluate(
    fit: Fit,
    dataset: Dataset | None,
    scales: Sequence[float] | np.ndarray,
    media: bool,
    elements: int | None,
) -> Iterator[tuple[np.ndarray, dict]]:
    """Per geo block: (geo indices, `_program`'s outputs for every draw, the draws last, as
    NumPy). Draws go through in chunks of `inference.components.chunk_size` (the last one
    wraps), so a program's shapes do not depend on the number of draws: a one-chunk draft
    compiles it ahead. A block's chunks are dispatched before the last block is handed over:
    the device computes while the caller reduces (JAX dispatches asynchronously); about two
    blocks' outputs are held (1 GiB each at `BLOCK_ELEMENTS`)."""
    dataset = fit.train if dataset is None else dataset
    data = fit._window(dataset, 1.0)
    s, flat, y_scale, n = fit.structure, fit.flat_posterior(), fit.scaling.y_scale, fit.num_draws
    m = jnp.asarray(np.asarray(scales, dtype=float))
    blocks = geo_split(s.n_geos, n * dataset.n_time * dataset.n_channels, elements)
    axes = geo_axes(s, data) if len(blocks) > 1 else {}
    pending = None
    for idx in blocks:
        sub = s._replace(n_geos=len(idx))
        key = ("report blocks", sub.key, media)
        fn, _ = PROGRAMS.get(key, lambda sub=sub: _program(sub, media))
        sites = geo_sites(flat, axes, idx) if axes else flat
        part = data if len(blocks) == 1 else geo_slice(data, idx)
        size = chunk_size(n, part)
        runs = []
        for start in range(0, n, size):
            rows = np.arange(start, start + size) % n
            runs.append(fn({k: v[rows] for k, v in sites.items()}, part, y_scale[idx], m))
        if pending is not None:
            yield pending
        pending = (idx, _joined(runs, n))  # waits for this block, then the next is dispatched
    assert pending is not None
    yield pending


def _joined(runs: list, n: int) -> dict:
    """Chunks' outputs (draws last) as one NumPy array each over the first `n` draws; each
    chunk is let go (popped from `runs`) once copied, so a block is held about once."""
    if len(runs) == 1:
        return jax.tree.map(lambda x: np.asarray(x)[..., :n], runs.pop())
    first = jax.tree.map(np.asarray, runs[0])
    size = jax.tree.leaves(first)[0].shape[-1]
    out = jax.tree.map(lambda x: np.empty((*x.shape[:-1], n), dtype=x.dtype), first)
    del first
    for start in range(0, n, size):
        chunk, keep = runs.pop(0), min(size, n - start)

        def put(into: np.ndarray, x: Any, start: int = start, keep: int = keep) -> None:
            into[..., start : start + keep] = np.asarray(x)[..., :keep]

        jax.tree.map(put, out, chunk)
        del chunk
    return out


def _program(s: Structure, media: bool) -> Any:
    """Compiled ``(draws, data, y_scale, scales) -> outputs`` of a block for a chunk of S
    draws, the draws last (contiguous: the sums over periods vectorise along them; with the
    draws first XLA's CPU sums took 3-4x longer), in target units (geo g times y_scale[g]):

    totals : (M, C, S) the media summed over periods and geos, every spend times each of the
        M multipliers `scales` (the saturation fused into the float64 sum)
    with `media`, also ``media`` (C, G, T, S) and ``parts``, the other parts (G, T, S) by
    name: the values of `models.mmm.decompose`.
    """
    wide = jnp.result_type(float)

    def run(draws: dict, data: Any, y_scale: jax.Array, scales: jax.Array) -> dict:
        x = adstocked(data.media_lags, draws, s)  # (C, G, T, S), the media's precision
        ref = x if data.reference_lags is None else adstocked(data.reference_lags, draws, s)
        effects = geo_effects(draws, s.n_geos)  # (S, G, C)
        # the mean over periods (C, G, S), transposed by media_coefficient's `.T`: (S, G, C)
        beta = media_coefficient(saturated(ref, draws, s), effects, axis=2)
        coef = jnp.transpose(beta, (2, 1, 0))  # (C, G, S)

        def total(m: jax.Array) -> jax.Array:  # (C, S)
            shaped = saturated(x * m.astype(x.dtype), draws, s)
            return (shaped.sum(axis=2, dtype=wide) * coef * y_scale[:, None]).sum(axis=1)

        out = {"totals": jax.lax.map(total, scales)}  # (M, C, S)
        if media:
            channel = coef[:, :, None, :] * saturated(x, draws, s).astype(wide)  # (C, G, T, S)
            parts = jax.vmap(lambda p: decompose(p, data, s)[0])(draws)  # each (S, T, G)
            out["media"] = channel * y_scale[:, None, None]
            out["parts"] = {
                k: jnp.transpose(v * y_scale, (2, 1, 0)) for k, v in parts.items() if k != "media"
            }
        return out

    return jax.jit(run)


# ------------------------------------------- the media path, adstock and saturation apart
def adstocked(media_lags: jax.Array, draws: dict, s: Structure) -> jax.Array:
    """Every channel's adstock (C, G, T, S) for every draw (sites (S, ...)) from lagged media
    (C, T, G, L), in their precision: `models.mmm.shaped_media` before its saturation."""
    cfg, parts, order = s.config, [], []
    for adstock, _, idx in s.groups:
        named = _group_params(draws, s, adstock, ADSTOCK_PARAMS[adstock], idx)
        weights = adstock_weights(adstock, named, cfg.l_max, cfg.normalize_adstock)  # (L, C, S)
        lags = media_lags if len(s.groups) == 1 else media_lags[np.asarray(idx)]
        lags = jnp.transpose(lags, (0, 2, 1, 3))  # (C, G, T, L): the product comes out (C, G, T, S)
        parts.append(jnp.einsum("cgtl,lcs->cgts", lags, weights.astype(lags.dtype)))
        order.extend(idx)
    return _by_channel(parts, order)


def saturated(adstock: jax.Array, draws: dict, s: Structure) -> jax.Array:
    """Every channel's saturation (C, ..., S) of its adstock (C, ..., S): ``saturated(
    adstocked(lags))`` is `models.mmm.shaped_media` of each draw (tests/test_report_draws.py)."""
    parts, order = [], []
    for _, sat, idx in s.groups:
        x = adstock if len(s.groups) == 1 else adstock[np.asarray(idx)]
        named = _group_params(draws, s, sat, SATURATION_PARAMS[sat], idx)
        lead = (slice(None),) + (None,) * (x.ndim - 2)
        parts.append(saturation(sat, x, {k: v.astype(x.dtype)[lead] for k, v in named.items()}))
        order.extend(idx)
    return _by_channel(parts, order)


def _group_params(draws: dict, s: Structure, transform: str, names: Sequence[str], idx) -> dict:
    """The parameters `names` of `transform` for the channels `idx` of one group, each
    (len(idx), S) from sites (S, C_site)."""
    sites = dict(s.media_sites)
    out = {}
    for p in names:
        site = f"{transform}_{p}"
        where = [sites[site].index(i) for i in idx]
        value = draws[site]
        out[p] = (value if where == list(range(value.shape[-1])) else value[:, np.asarray(where)]).T
    return out


def _by_channel(parts: list[jax.Array], order: list[int]) -> jax.Array:
    """Groups' (C_group, ...) arrays stacked back into channel order."""
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts)[np.argsort(order)]


if report_draws not in WARMUPS:  # a fit compiles the report's programs while it samples
    WARMUPS.append(report_draws)
