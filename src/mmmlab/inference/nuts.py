"""NUTS as compiled building blocks: one compiled sampler per model structure and data shape.

The data enter the compiled programs as arguments (never as constants), so a second fit of
the same shape reuses the executable: no tracing, no compiling. Chains run in parallel across
devices (`pmap`) when there are enough, else vectorised (`vmap`). Sampling advances in fixed
chunks of iterations so the host can draw a progress bar between chunks without putting
callbacks into the compiled program (which would keep it out of the persistent cache).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import random
from numpyro.infer.hmc import hmc
from numpyro.distributions.transforms import biject_to
from numpyro.handlers import seed, substitute, trace
from numpyro.infer.util import constrain_fn, potential_energy

CHUNK = 100  # iterations per compiled step; the progress bar moves this often


class NutsSettings(NamedTuple):
    """Sampler settings (static: a change compiles a new sampler).

    num_warmup, num_samples : iterations per chain; num_chains : chains;
    target_accept : dual-averaging target; max_tree_depth : NUTS depth cap;
    dense_mass : full mass matrix instead of diagonal; init_radius : jitter of the
    initial point around the prior mean, in unconstrained space.
    """

    num_warmup: int = 1000
    num_samples: int = 1000
    num_chains: int = 2
    target_accept: float = 0.85
    max_tree_depth: int = 10
    dense_mass: bool = False
    init_radius: float = 1.0


class SampleStats(NamedTuple):
    """Per-draw sampler statistics, each (chain, draw)."""

    potential_energy: np.ndarray
    energy: np.ndarray
    diverging: np.ndarray
    num_steps: np.ndarray
    accept_prob: np.ndarray
    step_size: np.ndarray


@dataclass(frozen=True)
class NutsRun:
    """What one NUTS run returns.

    z : unconstrained draws by site, each (chain, draw, *site_shape)
    stats : sampler statistics; compile_s / sample_s : seconds compiling and sampling;
    compiled : whether this run had to compile (False when the cache served it).
    """

    z: dict[str, np.ndarray]
    stats: SampleStats
    compile_s: float
    sample_s: float
    compiled: bool


@dataclass
class CompiledSampler:
    """Compiled programs for one (model structure, data shape, settings)."""

    init: Callable[..., Any]
    advance: Callable[..., Any]
    postprocess: Callable[..., Any]
    parallel: bool


_CACHE: dict[tuple, CompiledSampler] = {}
TRACE_COUNT = {"n": 0}  # incremented each time a sampler is traced (tests read it)


def _shape_key(tree: Any) -> tuple:
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return (str(treedef), tuple((np.shape(x), str(jnp.asarray(x).dtype)) for x in leaves))


def _prior_center(site: dict) -> jnp.ndarray | None:
    """A central value of a latent site's prior (its mean, or the image of 0 when undefined)."""
    if site["type"] != "sample" or site.get("is_observed"):
        return None
    fn = site["fn"]
    shape = fn.shape(site["kwargs"].get("sample_shape", ()))
    try:
        center = jnp.broadcast_to(fn.mean, shape)
    except (NotImplementedError, ValueError):
        center = None
    fallback = biject_to(fn.support)(jnp.zeros(shape))
    if center is None:
        return fallback
    return jnp.where(jnp.isfinite(center), center, fallback)


def prior_center_init(
    model: Callable, args: tuple, rng_key: jax.Array, radius: float
) -> dict[str, jnp.ndarray]:
    """Unconstrained initial point: each prior's mean, jittered by ``U(-radius, radius)``.

    No random prior draws (samplers of Gamma and Beta variates are slow to compile), so it
    adds little to the compiled init program.
    """
    tr = trace(substitute(seed(model, rng_key), substitute_fn=_prior_center)).get_trace(*args)
    z0 = {}
    latent = sorted(n for n, s in tr.items() if s["type"] == "sample" and not s["is_observed"])
    for i, name in enumerate(latent):
        site = tr[name]
        unconstrained = biject_to(site["fn"].support).inv(site["value"])
        noise = random.uniform(random.fold_in(rng_key, i), jnp.shape(unconstrained))
        z0[name] = unconstrained + (2.0 * noise - 1.0) * radius
    return z0


def _build(model: Callable, model_args: tuple, settings: NutsSettings) -> CompiledSampler:
    TRACE_COUNT["n"] += 1

    def potential_fn_gen(*args: Any) -> Callable:
        return lambda z: potential_energy(model, args, {}, z)

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")

    def init_one(rng_key, args):
        key_init, key_run = random.split(rng_key)
        z0 = prior_center_init(model, args, key_init, settings.init_radius)
        return init_kernel(
            z0,
            settings.num_warmup,
            dense_mass=settings.dense_mass,
            target_accept_prob=settings.target_accept,
            max_tree_depth=settings.max_tree_depth,
            model_args=args,
            rng_key=key_run,
        )

    def advance_one(state, n_active, args):
        def step(state, j):
            new = jax.lax.cond(
                j < n_active,
                lambda s: sample_kernel(s, model_args=args),
                lambda s: s,
                state,
            )
            out = (
                new.z,
                new.potential_energy,
                new.energy,
                new.diverging,
                new.num_steps,
                new.accept_prob,
                new.adapt_state.step_size,
            )
            return new, out

        return jax.lax.scan(step, state, jnp.arange(CHUNK))

    parallel = jax.local_device_count() >= settings.num_chains > 1
    if parallel:
        init = jax.pmap(init_one, in_axes=(0, None))
        advance = jax.pmap(advance_one, in_axes=(0, None, None))
    else:
        init = jax.jit(jax.vmap(init_one, in_axes=(0, None)))
        advance = jax.jit(jax.vmap(advance_one, in_axes=(0, None, None)))
    postprocess = jax.jit(
        lambda z, args: jax.vmap(jax.vmap(lambda zi: constrain_fn(model, args, {}, zi)))(z)
    )
    return CompiledSampler(init, advance, postprocess, parallel)


def get_sampler(
    key: str, model: Callable, model_args: tuple, settings: NutsSettings
) -> tuple[CompiledSampler, bool]:
    """The cached compiled sampler for `key` (model structure) and the args' shapes."""
    cache_key = (key, _shape_key(model_args), settings)
    hit = cache_key in _CACHE
    if not hit:
        _CACHE[cache_key] = _build(model, model_args, settings)
    return _CACHE[cache_key], not hit


def run_nuts(
    rng_key: jax.Array,
    key: str,
    model: Callable,
    model_args: tuple,
    settings: NutsSettings,
    progress: Callable[[int, int], None] | None = None,
) -> NutsRun:
    """Run NUTS chains for `model(*model_args)`.

    Parameters
    ----------
    rng_key : the JAX key; chains get independent splits of it.
    key : a string naming the model structure (the compile cache key together with shapes).
    model : NumPyro model taking `model_args` (arrays only, pytrees allowed).
    settings : `NutsSettings`.
    progress : optional ``progress(done, total)`` called between chunks.
    """
    sampler, fresh = get_sampler(key, model, model_args, settings)
    keys = random.split(rng_key, settings.num_chains)
    total = settings.num_warmup + settings.num_samples
    n_chunks = -(-total // CHUNK)

    t0 = time.perf_counter()
    compile_s = 0.0
    if fresh:  # compile ahead of time so compile and sampling times are reported apart
        state_shape = jax.eval_shape(sampler.init, keys, model_args)
        sampler.init = sampler.init.lower(keys, model_args).compile()
        sampler.advance = sampler.advance.lower(state_shape, jnp.int32(CHUNK), model_args).compile()
        compile_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    state = sampler.init(keys, model_args)
    draws: list[tuple] = []
    done = 0
    for _ in range(n_chunks):
        n_active = min(CHUNK, total - done)
        state, out = sampler.advance(state, jnp.int32(n_active), model_args)
        draws.append(jax.device_get(out))
        done += n_active
        if progress is not None:
            progress(done, total)
    jax.block_until_ready(state)
    sample_s = time.perf_counter() - t1

    def stack(j: int) -> Any:
        return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, axis=1), *[d[j] for d in draws])

    keep = slice(settings.num_warmup, total)
    z = {k: v[:, keep] for k, v in stack(0).items()}
    stats = SampleStats(*(stack(j)[:, keep] for j in range(1, 7)))
    return NutsRun(z=z, stats=stats, compile_s=compile_s, sample_s=sample_s, compiled=fresh)


def constrain(
    key: str, model: Callable, model_args: tuple, settings: NutsSettings, z: dict
) -> dict[str, np.ndarray]:
    """Map unconstrained draws (chain, draw, ...) to the model's parameter space."""
    sampler, _ = get_sampler(key, model, model_args, settings)
    return jax.device_get(sampler.postprocess(z, model_args))

