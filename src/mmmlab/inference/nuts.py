"""NUTS as compiled programs: one set per model structure, data shape and settings.

`compile_nuts` builds the programs (start search, init, advance) ahead of time
and `run_nuts` drives them. The data enter as arguments (never as constants), so a second
fit of the same shape finds its programs in the compile cache (`inference.programs`): no
tracing, no compiling. Sampling advances in fixed chunks of iterations so the host can draw
a progress bar between chunks without putting callbacks into the compiled program (which
would keep it out of the persistent cache).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import numpy as np
from jax import random
from numpyro.infer.hmc import hmc
from numpyro.infer.util import potential_energy

from mmmlab.inference import chains, exported
from mmmlab.inference.diagnostics import Convergence, convergence, worth_extending
from mmmlab.inference.programs import PROGRAMS, run_once_options, shape_key
from mmmlab.inference.settings import SamplerSettings
from mmmlab.inference.starts import (
    Optima,
    Start,
    best_mode_starts,
    laplace_start,
    prior_center_init,
)

CHUNK = 100  # iterations per compiled step; the progress bar moves this often
EXTEND_FROM = 1000  # draws per chain from which an unconverged run continues (`extension`)
PROBE = 200  # draws per chain an unconverged run adds before its ESS pace may stop it


class SampleStats(NamedTuple):
    """Per-draw sampler statistics, each (chain, draw)."""

    potential_energy: np.ndarray
    energy: np.ndarray
    diverging: np.ndarray
    num_steps: np.ndarray
    accept_prob: np.ndarray
    step_size: np.ndarray


class Draws(NamedTuple):
    """What `advance` returns per iteration: unconstrained draws by site and the statistics
    (leading axes (chain, iteration) once stacked)."""

    z: dict
    stats: SampleStats


class NutsPrograms(NamedTuple):
    """The compiled programs of one (model structure, data shape, settings).

    start : ``(keys (C, 2), args) -> (Start, Optima)``, the shared multi-start search (None
        unless ``num_starts > 1``); init : ``(keys, args, Start | None) -> state`` (one
        chain's key under 'sequential'); advance : ``(state, args) -> (state, Draws)``, CHUNK
        iterations; chain_method : 'parallel', 'vectorized' or 'sequential'
        (`chains.chain_method`).
    """

    start: Callable | None
    init: Callable
    advance: Callable
    chain_method: str


@dataclass(frozen=True)
class NutsRun:
    """What one NUTS run returns.

    z : unconstrained draws by site, each (chain, draw, *site_shape)
    stats : sampler statistics; compile_s / sample_s : seconds compiling and sampling;
    warmup_steps : leapfrog steps spent in warmup, all chains; starts : with
    ``num_starts > 1``, the optimised starts (`Optima`: potentials (M,), points (M, D)).
    """

    z: dict[str, np.ndarray]
    stats: SampleStats
    compile_s: float
    sample_s: float
    warmup_steps: int = 0
    starts: Optima | None = None


def nuts_kernels(model: Callable, settings: SamplerSettings) -> tuple[Callable, ...]:
    """One chain's ``init(key, args, start)`` and ``advance(state, args)``, and the shared
    ``start(keys, args)`` search, as pure functions of their arguments."""

    # The potential as one jitted function: each call with the same shapes (the start
    # search's gradient and Hessian, the kernels' init and leapfrog steps) reuses one trace
    # of the model instead of running the NumPyro model's Python again.
    energy = jax.jit(lambda z, args: potential_energy(model, args, {}, z))

    def potential(args: tuple) -> Callable:
        return lambda z: energy(z, args)

    init_kernel, sample_kernel = hmc(potential_fn_gen=lambda *a: potential(a), algo="NUTS")
    dense = bool(settings.dense_mass)

    def init(rng_key: jax.Array, args: tuple, start: Start | None = None) -> Any:
        """One chain's initial state; without a shared `start`, it optimises its own."""
        key_init, key_run = random.split(rng_key)
        if start is None:
            key_init, key_start = random.split(key_init)
            z0 = prior_center_init(model, args, key_init, settings.init_radius)
            start = laplace_start(potential(args), z0, key_start, dense)
        return init_kernel(
            start.position,
            settings.num_warmup,
            inverse_mass_matrix=start.inverse_mass,
            dense_mass=dense,
            target_accept_prob=settings.target_accept,
            max_tree_depth=(
                min(settings.warmup_tree_depth, settings.max_tree_depth),
                settings.max_tree_depth,
            ),
            model_args=args,
            rng_key=key_run,
        )

    def advance(state: Any, args: tuple) -> tuple[Any, Draws]:
        # Always CHUNK kernel steps: the last chunk may run past the requested draws, and
        # run_nuts drops the extra ones (simpler than stopping mid-chunk under a cond).
        def step(state: Any, _: Any) -> tuple[Any, Draws]:
            new = sample_kernel(state, model_args=args)
            stats = SampleStats(
                new.potential_energy,
                new.energy,
                new.diverging,
                new.num_steps,
                new.accept_prob,
                new.adapt_state.step_size,
            )
            return new, Draws(new.z, stats)

        return jax.lax.scan(step, state, None, length=CHUNK)

    def start(keys: jax.Array, args: tuple) -> tuple[Start, Optima]:
        """Optimise `num_starts` jittered starts; every chain begins near the best one."""
        key_starts = random.split(random.fold_in(keys[0], 1), settings.num_starts)
        z0 = jax.vmap(lambda k: prior_center_init(model, args, k, settings.init_radius))(key_starts)
        return best_mode_starts(potential(args), z0, keys, dense)

    return init, advance, start


def compile_nuts(
    model: Callable,
    settings: SamplerSettings,
    keys: jax.Array,
    args: tuple,
    while_compiling: Callable[[dict[str, Any]], None] | None = None,
    key: Any = None,
) -> tuple[NutsPrograms, Future | None]:
    """Compile the programs for `model(*args)` and chain keys `keys` (C, 2), ahead of time
    (so compile time is measured apart from sampling). `while_compiling(sites)` starts in a
    third thread while XLA compiles in two others; `sites` holds the shape and dtype of one
    unconstrained draw of each site. Returns the programs and the future of
    `while_compiling`, which may still be running (where the programs came from the disk
    cache, it runs on while the chains sample).

    With `key` (what decides the programs besides the shapes of `keys` and `args`: the model
    structure and the settings), one chain's programs are kept on disk (`inference.exported`;
    one start per chain, chains in parallel or in turn): a new process reads them instead of
    tracing the model, and compiles the same programs."""
    init, advance, start = nuts_kernels(model, settings)
    once = run_once_options(args)  # the start search and init run once per fit
    method = chains.chain_method(settings.num_chains, settings.chain_method)
    multi = (settings.num_starts or 1) > 1
    stored = None
    if not multi and method in ("parallel", "sequential"):
        stored = _stored_programs(init, advance, method, key, keys, args)
    if stored is not None:
        init, advance, sites, wrap = stored
    else:
        init = chains.over_chains(init, method, (0, None, Start(0, None) if multi else None))
        advance = chains.over_chains(advance, method, (0, None))
        begin = None
        if multi:
            start = jax.jit(start).lower(keys, args).compile(once)
            begin = chains.shapes(start.out_info[0])
        if method == "sequential":  # one chain's program; the inverse mass is shared
            begin = None if begin is None else Start(chains.one_chain(begin.position), begin[1])
            init = init.lower(keys[0], args, begin)
        else:
            init = init.lower(keys, args, begin)
        advance = advance.lower(chains.shapes(init.out_info), args)
        lead = 1 if method == "sequential" else 2  # (chain,) iteration axes of a chunk
        draws = advance.out_info[1].z
        sites = {k: jax.ShapeDtypeStruct(v.shape[lead:], v.dtype) for k, v in draws.items()}
        wrap = None
    # XLA compiles outside the GIL; two programs side by side keep both cores busy
    # (measured: 6.5 s -> 5.3 s wall for the national model on 2 cores), and the longer
    # one's tail leaves a core to `while_compiling`.
    pool = ThreadPoolExecutor(max_workers=3)
    futures = [pool.submit(init.compile, once), pool.submit(advance.compile)]
    shadow = None if while_compiling is None else pool.submit(while_compiling, sites)
    try:
        init, advance = (future.result() for future in futures)
    finally:
        pool.shutdown(wait=False)
    if wrap is not None:
        init, advance = wrap(init, advance)
    return NutsPrograms(start if multi else None, init, advance, method), shadow


def _stored_programs(
    init: Callable, advance: Callable, method: str, key: Any, keys: jax.Array, args: tuple
) -> tuple[Any, Any, dict[str, Any], Callable] | None:
    """One chain's `init` and `advance` from disk, or exported there (`inference.exported`),
    lowered over chains as `method` says, with the sites' shapes and the wrapper that gives
    the compiled programs `NutsPrograms`' signatures; None where nothing is kept."""
    if key is None:
        return None
    leaves, tree = jax.tree_util.tree_flatten(args)
    n = len(leaves)
    state_tree: list[Any] = []

    def init_flat(rng_key: jax.Array, *data: Any) -> list:
        state = init(rng_key, jax.tree_util.tree_unflatten(tree, data))
        state_tree.append(jax.tree_util.tree_structure(state))
        return jax.tree_util.tree_leaves(state)

    def advance_flat(*flat: Any) -> tuple:
        if not state_tree:  # init was read from disk: its state's structure, untraced
            state_tree.append(jax.tree_util.tree_structure(jax.eval_shape(init, one_key, args)))
        cut = len(flat) - n  # the state's leaves, then the data's
        state = jax.tree_util.tree_unflatten(state_tree[0], flat[:cut])
        state, draws = advance(state, jax.tree_util.tree_unflatten(tree, flat[cut:]))
        return jax.tree_util.tree_leaves(state), draws.z, tuple(draws.stats)

    shapes = (key, shape_key(args), keys.shape[1:], str(keys.dtype))
    one_key = chains.shapes(keys[0])
    stored_init, _ = exported.load_or_export("nuts.init", shapes, init_flat, one_key, *leaves)
    if stored_init is None:
        return None
    state = [jax.ShapeDtypeStruct(a.shape, a.dtype) for a in stored_init.out_avals]
    stored_advance, _ = exported.load_or_export(
        "nuts.advance", shapes, advance_flat, *state, *leaves
    )
    if stored_advance is None:
        return None
    out = jax.tree_util.tree_unflatten(stored_advance.out_tree, stored_advance.out_avals)
    sites = {k: jax.ShapeDtypeStruct(v.shape[1:], v.dtype) for k, v in out[1].items()}
    if method == "parallel":
        program_init = jax.pmap(stored_init.call, in_axes=(0,) + (None,) * n).lower(keys, *leaves)
        program_advance = jax.pmap(
            stored_advance.call, in_axes=(0,) * len(state) + (None,) * n
        ).lower(*chains.shapes(program_init.out_info), *leaves)
    else:
        program_init = jax.jit(stored_init.call).lower(keys[0], *leaves)
        program_advance = jax.jit(stored_advance.call).lower(*state, *leaves)

    def wrap(compiled_init: Callable, compiled_advance: Callable) -> tuple[Callable, Callable]:
        def run_init(rng_keys: jax.Array, data: tuple, start: Start | None = None) -> list:
            return list(compiled_init(rng_keys, *jax.tree_util.tree_leaves(data)))

        def run_advance(state: list, data: tuple) -> tuple[list, Draws]:
            new, z, stats = compiled_advance(*state, *jax.tree_util.tree_leaves(data))
            return list(new), Draws(z, SampleStats(*stats))

        return run_init, run_advance

    return program_init, program_advance, sites, wrap


def init_chains(p: NutsPrograms, keys: jax.Array, args: tuple) -> tuple[Any, Optima | None]:
    """Initial states of every chain (a list of them under 'sequential'), and the optima of
    the multi-start search."""
    begin, optima = None, None
    if p.start is not None:
        begin, optima = p.start(keys, args)
        optima = Optima(*(np.asarray(a) for a in optima))
    if p.chain_method != "sequential":
        return p.init(keys, args, begin), optima
    states = []
    for i, key in enumerate(keys):
        one = None if begin is None else Start(chains.chain(begin.position, i), begin[1])
        states.append(p.init(key, args, one))
    return states, optima


def advance_chains(p: NutsPrograms, state: Any, args: tuple) -> tuple[Any, Draws]:
    """Every chain `CHUNK` iterations on; draws come back to the host, chain-first."""
    if p.chain_method == "sequential":
        results = [p.advance(s, args) for s in state]
        draws = chains.stack_chains([jax.device_get(r[1]) for r in results])
        return [r[0] for r in results], draws
    state, draws = p.advance(state, args)
    return state, jax.device_get(draws)


def run_nuts(
    rng_key: jax.Array,
    key: str,
    model: Callable,
    model_args: tuple,
    settings: SamplerSettings,
    progress: Callable[[int, int], None] | None = None,
    while_compiling: Callable[[dict[str, Any]], None] | None = None,
    converged_on: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None,
) -> NutsRun:
    """Run NUTS chains for `model(*model_args)`.

    rng_key : the JAX key; chains get independent splits of it. key : names the model
    structure (the compile cache key together with the shapes and settings). model : a
    NumPyro model taking `model_args` (arrays only, pytrees allowed). progress : optional
    ``progress(done, total)`` called between chunks. while_compiling : optional work in
    a thread of its own while the sampler compiles (only when it compiles; where it outlasts
    the compilation it runs on beside the sampling, and the run waits for it before
    returning). converged_on : the quantities whose convergence decides whether an
    unconverged run samples on (`extension`, `diagnostics.worth_extending`): a function of
    the kept unconstrained draws (site -> (chain, draw, ...)) returning quantities (name ->
    (chain, draw, ...)); default the draws themselves. A model with labelled components
    passes label-invariant ones.
    """
    keys = random.split(rng_key, settings.num_chains)
    total = settings.num_warmup + settings.num_samples
    t0 = time.perf_counter()
    shadow: Future | None = None

    def build() -> NutsPrograms:
        nonlocal shadow
        programs, shadow = compile_nuts(
            model,
            settings,
            keys,
            model_args,
            while_compiling,
            (key, exported.code_of(model), settings.model_dump_json()),
        )
        return programs

    programs, fresh = PROGRAMS.get(("nuts", key, shape_key(model_args), settings), build)
    compile_s = time.perf_counter() - t0 if fresh else 0.0

    t1 = time.perf_counter()
    state, optima = init_chains(programs, keys, model_args)
    chunks: list[Draws] = []
    done = 0
    for _ in range(-(-total // CHUNK)):  # the last chunk may run past `total`: dropped below
        state, draws = advance_chains(programs, state, model_args)
        chunks.append(draws)
        done = min(done + CHUNK, total)
        if progress is not None:
            progress(done, total)
    added = 0  # draws per chain sampled past `num_samples` until the chains converge
    cap, since = extension(settings), None
    while added < cap:
        conv = kept_convergence(chunks, settings.num_warmup, total + added, converged_on)
        if conv.reached:
            break
        kept = settings.num_samples + added
        since = since or (kept, conv.min_ess_bulk)
        if added >= PROBE and not worth_extending(conv.min_ess_bulk, kept, cap - added, since):
            break
        state, draws = advance_chains(programs, state, model_args)
        chunks.append(draws)
        added += CHUNK
        if progress is not None:
            progress(total + added, total + added)
    jax.block_until_ready(state)
    sample_s = time.perf_counter() - t1
    if shadow is not None:
        shadow.result()  # the report's programs are compiled before the report runs

    every = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, axis=1), *chunks)
    keep = slice(settings.num_warmup, total + added)
    return NutsRun(
        z={k: v[:, keep] for k, v in every.z.items()},
        stats=SampleStats(*(x[:, keep] for x in every.stats)),
        compile_s=compile_s,
        sample_s=sample_s,
        warmup_steps=int(every.stats.num_steps[:, : settings.num_warmup].sum()),
        starts=optima,
    )


def extension(settings: SamplerSettings) -> int:
    """Draws per chain a run may add past `num_samples` while it has not converged (after
    `PROBE` draws, only while its ESS could reach the target within the rest at the pace
    measured: `diagnostics.worth_extending`): up to
    `extra_samples` for runs of `EXTEND_FROM` draws or more (a shorter run is a quick look,
    whose ESS cannot reach the target), else none."""
    return settings.extra_samples if settings.num_samples >= EXTEND_FROM else 0


def kept_convergence(
    chunks: list[Draws],
    num_warmup: int,
    end: int,
    quantities: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None,
) -> Convergence:
    """`diagnostics.convergence` of the kept draws so far (iterations `num_warmup` to `end`
    of `chunks`), or of their `quantities`."""
    z = {
        k: np.concatenate([c.z[k] for c in chunks], axis=1)[:, num_warmup:end] for k in chunks[0].z
    }
    return convergence(z if quantities is None else quantities(z))
