"""Batched fits: many NUTS fits of one shape as one compiled program.

`fit_many(datasets, config, seeds)` fits every (dataset, seed) pair. Pairs whose bound model
has one structure and one data shape (same periods, geos, channels, controls, lift tests and
config) run together: the per-chain programs of `nuts.nuts_kernels` (start search, warmup and
sampling) are mapped over the chains of a fit and then over the fits, and the fits are spread
over the XLA host devices (`jax.pmap` of the `jax.vmap` over fits), so one compiled program
samples them all and XLA runs them side by side. Each fit gets what `mmmlab.fit` gives it:
its chain keys are ``random.split(PRNGKey(seed), num_chains)``, its draws, statistics and
diagnostics (R-hat, ESS, divergences, BFMI) are its own.

Draws are not bitwise those of `mmmlab.fit` of the same (dataset, seed): the batched program
computes the same operations, but XLA orders the float sums of a batched operation otherwise,
so the start search already differs in the last bits and NUTS trajectories then part ways
from the first draw. They are draws of the same posterior (`benchmarks/batched_fits.py`:
small_business x 8 seeds, 2 x 1000 draws, every posterior mean within 0.09 posterior sd of the
single fit's). A batch is reproducible: the same seed at the same place of a batch of the same
size and device layout gives the same bytes, whatever its companions.

Time is shared: each fit's ``compile_s`` and ``sample_s`` are the group's divided by the
number of fits in it (what the fit cost, amortised), so ``ess_per_s`` keeps its meaning of
bulk ESS per second of this fit's share of the machine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from jax import random

from mmmlab.data import Dataset
from mmmlab.data.lift_tests import as_lift_tests
from mmmlab.inference.constrain import constrain
from mmmlab.inference.diagnostics import nuts_diagnostics
from mmmlab.inference.fit import Fit, check_rows
from mmmlab.inference.nuts import CHUNK, NutsRun, SampleStats, nuts_kernels
from mmmlab.inference.programs import PROGRAMS, shape_key
from mmmlab.inference.settings import SamplerSettings, check_seed, sampler_settings
from mmmlab.inference.starts import Optima, Start
from mmmlab.models.config import ModelConfig
from mmmlab.models.mmm import bind


def fit_many(
    datasets: Dataset | Sequence[Dataset],
    config: ModelConfig | None = None,
    seeds: int | Sequence[int] = 0,
    settings: SamplerSettings | None = None,
    lift_tests: Any = None,
    devices: int | None = None,
    **options: Any,
) -> list[Fit]:
    """NUTS fits of every (dataset, seed) pair, same-shaped ones batched in one program.

    Parameters
    ----------
    datasets : one `Dataset` (fitted once per seed) or a sequence of them
    config : model components and priors, for every fit (default `ModelConfig()`)
    seeds : one seed (for every dataset) or one per dataset (or, with one dataset, a seed
        per fit)
    settings, **options : sampler settings as in `mmmlab.fit`, the same for every fit
    lift_tests : lift tests calibrating every fit (as in `mmmlab.fit`)
    devices : XLA devices to spread a batch over (default: as many host devices as divide
        the batch, up to the process's device count)

    Returns one `Fit` per pair, in order; each is what `mmmlab.fit(dataset, config, seed,
    settings=...)` returns, its draws equal up to float reassociation (module docstring).
    Raises ValueError on a bad seed or setting, or on unequal numbers of datasets and seeds.
    """
    datasets = [datasets] if isinstance(datasets, Dataset) else list(datasets)
    seeds = [seeds] if isinstance(seeds, int | np.integer) else list(seeds)
    if len(datasets) == 1 and len(seeds) > 1:
        datasets = datasets * len(seeds)
    elif len(seeds) == 1 and len(datasets) > 1:
        seeds = seeds * len(datasets)
    if len(datasets) != len(seeds):
        raise ValueError(f"{len(datasets)} datasets but {len(seeds)} seeds: give one or as many")
    tests = as_lift_tests(lift_tests)
    jobs = [(d, s, tests) for d, s in zip(datasets, seeds, strict=True)]
    return fit_batch(jobs, config, settings, devices=devices, **options)


def fit_batch(
    jobs: Sequence[tuple[Dataset, int, Sequence]],
    config: ModelConfig | None = None,
    settings: SamplerSettings | None = None,
    devices: int | None = None,
    **options: Any,
) -> list[Fit]:
    """`fit_many` of (dataset, seed, lift tests) triples (each its own lift tests): the
    bench's entry. Groups the triples by structure and shape and runs each group batched."""
    config = ModelConfig() if config is None else config
    settings = sampler_settings(settings, **options)
    bound = []
    for dataset, seed, tests in jobs:
        check_rows(dataset, config)
        bound.append(
            (dataset, check_seed(seed), tuple(tests), bind(dataset, config, lift_tests=tests))
        )
    groups: dict[Any, list[int]] = {}
    for i, (dataset, _, _, b) in enumerate(bound):
        dense = dataset.n_geos == 1 if settings.dense_mass is None else settings.dense_mass
        key = (b.structure.key, shape_key((b.data, b.y)), dense)
        groups.setdefault(key, []).append(i)
    fits: list[Fit | None] = [None] * len(bound)
    for (_, _, dense), members in groups.items():
        cell_settings = settings.model_copy(
            update={"dense_mass": dense, "num_starts": settings.num_starts or 1}
        )
        items = [bound[i] for i in members]
        for i, one in zip(members, _fit_group(items, config, cell_settings, devices), strict=True):
            fits[i] = one
    return fits  # type: ignore[return-value]


def _fit_group(items: list, config: ModelConfig, settings: SamplerSettings, devices: int | None):
    """The fits of same-shaped (dataset, seed, tests, bound) items, in one program."""
    first = items[0][3]
    s, model = first.structure, first.model
    args = [(b.data, b.y) for _, _, _, b in items]
    runs = run_batch([seed for _, seed, _, _ in items], s.key, model, args, settings, devices)
    fits = []
    for (dataset, seed, tests, b), run, one_args in zip(items, runs, args, strict=True):
        posterior = constrain(s.key, model, one_args, run.z)
        posterior = {k: np.asarray(v) for k, v in posterior.items()}
        diagnostics = nuts_diagnostics(posterior, run, settings.num_chains, settings.num_samples)
        fits.append(
            Fit(
                config=config,
                train=dataset,
                scaling=b.scaling,
                posterior=posterior,
                sample_stats={k: np.asarray(v) for k, v in run.stats._asdict().items()},
                diagnostics=diagnostics,
                method="nuts",
                seed=seed,
                settings=settings.model_dump(),
                lift_tests=tests,
            )
        )
    return fits


def batch_devices(n_fits: int, devices: int | None = None) -> int:
    """Devices a batch of `n_fits` runs on: the largest divisor of `n_fits` up to `devices`
    (default: the local device count, on a CPU at most one per core: measured on 2 cores,
    small_business x 8 seeds samples in 8.3 s on 2 host devices, 16.5 s on 4, 19.5 s on 1),
    so every device holds as many fits."""
    limit = jax.local_device_count()
    if devices is None and jax.default_backend() == "cpu":
        limit = min(limit, os.cpu_count() or 1)
    elif devices is not None:
        limit = max(1, min(devices, limit))
    return max(d for d in range(1, min(limit, n_fits) + 1) if n_fits % d == 0)


def compile_batch(
    model: Callable, settings: SamplerSettings, keys: jax.Array, args: tuple, devices: int
) -> tuple[Callable | None, Callable, Callable]:
    """(start, init, advance) over (device, fit, chain), compiled ahead of time for chain keys
    `keys` (D, B/D, C, 2) and `args` stacked (D, B/D, ...)."""
    init, advance, start = nuts_kernels(model, settings)
    multi = (settings.num_starts or 1) > 1
    # Over chains: the fit's data shared; the multi-start search's position per chain and
    # inverse mass shared, as in `nuts.compile_nuts`.
    per_chain = (0, None, Start(0, None) if multi else None)
    init_b = jax.vmap(jax.vmap(init, in_axes=per_chain), in_axes=(0, 0, 0 if multi else None))
    advance_b = jax.vmap(jax.vmap(advance, in_axes=(0, None)), in_axes=(0, 0))
    start_b = jax.vmap(start, in_axes=(0, 0)) if multi else None

    def mapped(fn: Callable) -> Callable:
        if devices > 1:
            return jax.pmap(fn)

        def one_device(*a: Any) -> Any:  # one device: the same program without pmap
            out = fn(*jax.tree_util.tree_map(lambda x: x[0], a))
            return jax.tree_util.tree_map(lambda x: x[None], out)

        return jax.jit(one_device)

    begin = None
    if multi:
        start_p = mapped(start_b).lower(keys, args).compile()
        begin = jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), start_p.out_info[0]
        )
    else:
        start_p = None
    init_p = mapped(init_b).lower(keys, args, begin).compile()
    state = jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), init_p.out_info
    )
    advance_p = mapped(advance_b).lower(state, args).compile()
    return start_p, init_p, advance_p


def run_batch(
    seeds: Sequence[int],
    key: str,
    model: Callable,
    args: Sequence[tuple],
    settings: SamplerSettings,
    devices: int | None = None,
) -> list[NutsRun]:
    """NUTS runs of `model` for every (seed, args) pair (all args of one shape), as one
    program; each run as `nuts.run_nuts(PRNGKey(seed), key, model, args, settings)` gives
    it, with the group's compile and sampling seconds shared equally."""
    n, chains = len(seeds), settings.num_chains
    d = batch_devices(n, devices)
    keys = np.stack([np.asarray(random.split(random.PRNGKey(s), chains)) for s in seeds])
    keys = keys.reshape((d, n // d) + keys.shape[1:])
    stacked = jax.tree_util.tree_map(
        lambda *xs: np.stack([np.asarray(x) for x in xs]).reshape((d, n // d) + np.shape(xs[0])),
        *args,
    )
    total = settings.num_warmup + settings.num_samples
    t0 = time.perf_counter()
    (start, init, advance), fresh = PROGRAMS.get(
        ("nuts_batch", key, shape_key(stacked), settings, d),
        lambda: compile_batch(model, settings, keys, stacked, d),
    )
    compile_s = time.perf_counter() - t0 if fresh else 0.0

    t1 = time.perf_counter()
    begin, optima = None, None
    if start is not None:
        begin, optima = start(keys, stacked)
    state = init(keys, stacked, begin)
    chunks = []
    for _ in range(-(-total // CHUNK)):
        state, draws = advance(state, stacked)
        chunks.append(jax.device_get(draws))
    jax.block_until_ready(state)
    sample_s = time.perf_counter() - t1

    # (device, fit, chain, iteration, ...) -> (fit, chain, iteration, ...)
    every = jax.tree_util.tree_map(
        lambda *xs: np.concatenate(xs, axis=3).reshape(
            (n,) + xs[0].shape[2:3] + (-1,) + xs[0].shape[4:]
        ),
        *chunks,
    )
    if optima is not None:
        optima = jax.tree_util.tree_map(
            lambda a: np.asarray(a).reshape((n,) + np.shape(a)[2:]), optima
        )
    keep = slice(settings.num_warmup, total)
    runs = []
    for i in range(n):
        stats = SampleStats(*(x[i] for x in every.stats))
        runs.append(
            NutsRun(
                z={k: v[i, :, keep] for k, v in every.z.items()},
                stats=SampleStats(*(x[:, keep] for x in stats)),
                compile_s=compile_s / n,
                sample_s=sample_s / n,
                warmup_steps=int(stats.num_steps[:, : settings.num_warmup].sum()),
                starts=None if optima is None else Optima(*(a[i] for a in optima)),
            )
        )
    return runs
