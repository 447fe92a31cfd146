"""NUTS as compiled building blocks: one compiled sampler per model structure and data shape.

The data enter the compiled programs as arguments (never as constants), so a second fit of
the same shape reuses the executable: no tracing, no compiling. Chains run in parallel across
devices (`pmap`) when there are enough; otherwise one after another on a CPU and vectorised
(`vmap`) on an accelerator. Sampling advances in fixed
chunks of iterations so the host can draw a progress bar between chunks without putting
callbacks into the compiled program (which would keep it out of the persistent cache).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import random
from jax.flatten_util import ravel_pytree
from numpyro.distributions.transforms import biject_to
from numpyro.handlers import seed, substitute, trace
from numpyro.infer.hmc import hmc
from numpyro.infer.util import constrain_fn, potential_energy

from mmmlab.inference.laplace import laplace_at

CHUNK = 100  # iterations per compiled step; the progress bar moves this often
# Warmup trees stop at depth 6 (63 leapfrog steps). Before the step size and metric settle,
# early warmup otherwise spends most of a fit's gradients on trajectories of up to 1023
# steps whose draws are thrown away. Measured on medium_business, 4 x (1000 + 1000): warmup
# 215k -> 165k leapfrog steps, sampling time 30 -> 25 s, bulk ESS unchanged. Depth 5 saved
# more (120k) but left one of 30 SBC refits with 200 warmup iterations stuck (R-hat 1.4);
# depth 4 let divergences through on growing_business.
WARMUP_TREE_DEPTH = 6


class NutsSettings(NamedTuple):
    """Sampler settings (static: a change compiles a new sampler).

    num_warmup, num_samples : iterations per chain; num_chains : chains;
    target_accept : dual-averaging target; max_tree_depth : NUTS depth cap while sampling;
    warmup_tree_depth : the cap during warmup (see `WARMUP_TREE_DEPTH`);
    dense_mass : full mass matrix instead of diagonal; init_radius : jitter of the
    initial point around the prior mean, in unconstrained space; num_starts : 1 optimises
    each chain's own start, M > 1 optimises M jittered starts and begins every chain near
    the best mode found (for posteriors with poor local modes; `NutsRun.starts` keeps all
    M optima so competing modes can be reported); chain_method : "auto" (see
    `_chain_method`), "vectorized" or "sequential".
    """

    num_warmup: int = 1000
    num_samples: int = 1000
    num_chains: int = 2
    target_accept: float = 0.85
    max_tree_depth: int = 10
    warmup_tree_depth: int = WARMUP_TREE_DEPTH
    dense_mass: bool = False
    init_radius: float = 1.0
    num_starts: int = 1
    chain_method: str = "auto"


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
    warmup_steps : leapfrog steps spent in warmup, all chains; starts : with
    ``num_starts > 1``, the optimised starts as (potential (M,), unconstrained point (M, D)).
    """

    z: dict[str, np.ndarray]
    stats: SampleStats
    compile_s: float
    sample_s: float
    warmup_steps: int = 0
    starts: tuple[np.ndarray, np.ndarray] | None = None


@dataclass
class CompiledSampler:
    """Compiled programs for one (model structure, data shape, settings).

    `start` (only with ``num_starts > 1``) optimises the shared starts; `init` takes each
    chain's key and, from `start`, its initial point and the inverse mass matrix.
    """

    init: Callable[..., Any]
    advance: Callable[..., Any]
    postprocess: Callable[..., Any]
    chain_method: str  # 'parallel' (pmap), 'vectorized' (vmap) or 'sequential'
    start: Callable[..., Any] | None = None

    def compile(self, keys: jax.Array, model_args: tuple) -> None:
        """Compile the programs ahead of time (so compile time is measured apart)."""
        begin = None
        if self.start is not None:
            self.start = self.start.lower(keys, model_args).compile()
            begin = _shapes(self.start.out_info[0])
        init = self._lower_init(keys, model_args, begin)
        advance = self.advance.lower(_shapes(init.out_info), model_args)
        # XLA compiles outside the GIL; two programs side by side keep both cores busy
        # (measured: 6.5 s -> 5.3 s wall for the national model on 2 cores).
        with ThreadPoolExecutor(max_workers=2) as pool:
            self.init, self.advance = pool.map(lambda lowered: lowered.compile(), (init, advance))

    def _lower_init(self, keys: jax.Array, model_args: tuple, begin: Any) -> Any:
        if self.chain_method != "sequential":
            return self.init.lower(keys, model_args, begin)
        one = None
        if begin is not None:  # one chain's start; the inverse mass is shared
            z0, inverse_mass = begin
            one = (jax.tree_util.tree_map(_drop_lead, z0), inverse_mass)
        return self.init.lower(keys[0], model_args, one)

    def init_chains(self, keys: jax.Array, model_args: tuple) -> tuple[Any, tuple | None]:
        """Initial states of every chain, and the optimised starts (potentials, points)."""
        begin, starts = None, None
        if self.start is not None:
            begin, starts = self.start(keys, model_args)
            starts = tuple(np.asarray(a) for a in starts)
        if self.chain_method != "sequential":
            return self.init(keys, model_args, begin), starts
        states = []
        for i, k in enumerate(keys):
            one = None
            if begin is not None:
                one = (jax.tree_util.tree_map(lambda a, i=i: a[i], begin[0]), begin[1])
            states.append(self.init(k, model_args, one))
        return states, starts

    def advance_chains(self, state: Any, model_args: tuple) -> tuple[Any, Any]:
        """Advance every chain by CHUNK iterations; draws come back chain-first."""
        if self.chain_method == "sequential":
            results = [self.advance(s, model_args) for s in state]
            outs = [jax.device_get(r[1]) for r in results]
            return [r[0] for r in results], jax.tree_util.tree_map(lambda *xs: np.stack(xs), *outs)
        state, out = self.advance(state, model_args)
        return state, jax.device_get(out)


def _drop_lead(a: Any) -> jax.ShapeDtypeStruct:
    return jax.ShapeDtypeStruct(a.shape[1:], a.dtype)


def _shapes(tree: Any) -> Any:
    return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a), a.dtype), tree)


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
    transform = biject_to(fn.support)
    # The unconstrained space may be smaller than the value (a simplex of K has K - 1).
    fallback = transform(jnp.zeros(transform.inverse_shape(shape)))
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


def adam_minimize(
    f: Callable[[jnp.ndarray], jnp.ndarray], x0: jnp.ndarray, num_steps: int
) -> jnp.ndarray:
    """Minimise `f` from `x0` with Adam, learning rate decaying 0.1 -> 0.001.

    Robust where quasi-Newton line searches give up on badly scaled posteriors; a few
    milliseconds for an MMM. Non-finite gradients are treated as zero.
    """
    grad = jax.grad(f)
    rates = jnp.geomspace(0.1, 0.001, num_steps)

    def step(i: int, carry: tuple) -> tuple:
        x, m, v = carry
        g = grad(x)
        g = jnp.where(jnp.isfinite(g), g, 0.0)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        m_hat = m / (1.0 - 0.9 ** (i + 1.0))
        v_hat = v / (1.0 - 0.999 ** (i + 1.0))
        return x - rates[i] * m_hat / (jnp.sqrt(v_hat) + 1e-8), m, v

    zeros = jnp.zeros_like(x0)
    return jax.lax.fori_loop(0, num_steps, step, (x0, zeros, zeros))[0]


def laplace_start(
    potential: Callable[[dict], jnp.ndarray],
    z0: dict,
    rng_key: jax.Array,
    dense: bool,
    max_iter: int = 3000,
) -> tuple[dict, jnp.ndarray]:
    """A starting point and initial inverse mass matrix from a Laplace approximation.

    Adam from `z0` towards the posterior mode, the potential's Hessian there, and a start
    drawn from that Gaussian (`laplace_at`). Without it, warmup begins far out with an
    identity metric while the posterior's scales span orders of magnitude (seasonality
    coefficients ~0.01, geo deviations ~1): the first adaptation window then crawls at a
    tiny step size with hundreds of leapfrog steps per draw, most of the cost of a fit. If
    the optimiser fails, the chain starts at `z0` with an identity metric.
    """
    flat0, unravel = ravel_pytree(z0)

    def f(flat: jnp.ndarray) -> jnp.ndarray:
        return potential(unravel(flat))

    mode = adam_minimize(f, flat0, max_iter)
    ok = jnp.all(jnp.isfinite(mode)) & (f(mode) <= f(flat0))
    mode = jnp.where(ok, mode, flat0)
    gauss = laplace_at(f, mode, dense)
    ok = ok & gauss.ok
    start = mode + gauss.vectors @ (random.normal(rng_key, flat0.shape) * gauss.scale)
    fallback = jnp.eye(flat0.size) if dense else jnp.ones(flat0.size)
    inverse_mass = jnp.where(ok, gauss.inverse_mass, fallback)
    return unravel(jnp.where(ok, start, flat0)), inverse_mass


def best_mode_starts(
    potential: Callable[[dict], jnp.ndarray],
    z0: dict,
    keys: jax.Array,
    dense: bool,
    max_iter: int = 3000,
) -> tuple[tuple[dict, jnp.ndarray], tuple[jnp.ndarray, jnp.ndarray]]:
    """Starts for every chain near the best of several optimised points.

    z0 : M starting points (sites stacked on a leading axis); keys : (C,) one per chain.
    Returns ((C stacked starts, one inverse mass matrix), (M potentials, M points (M, D))).
    Chains started in different local modes of a multimodal posterior never meet, so R-hat
    flags them; starting all of them at the best mode samples that mode (the other optima are
    returned so that competing modes can be reported rather than hidden).
    """
    unravel = ravel_pytree(jax.tree_util.tree_map(lambda a: a[0], z0))[1]
    flat0 = jax.vmap(lambda z: ravel_pytree(z)[0])(z0)

    def f(flat: jnp.ndarray) -> jnp.ndarray:
        value = potential(unravel(flat))
        return jnp.where(jnp.isfinite(value), value, jnp.inf)

    modes = jax.vmap(lambda x: adam_minimize(f, x, max_iter))(flat0)
    values = jax.vmap(f)(modes)
    values = jnp.where(jnp.all(jnp.isfinite(modes), axis=1), values, jnp.inf)
    best = modes[jnp.argmin(values)]
    gauss = laplace_at(f, best, dense)

    def jitter(key: jax.Array) -> dict:
        return unravel(best + gauss.vectors @ (random.normal(key, best.shape) * gauss.scale))

    starts = jax.vmap(jitter)(jax.vmap(lambda k: random.fold_in(k, 2))(keys))
    return (starts, gauss.inverse_mass), (values, modes)


def _build(model: Callable, model_args: tuple, settings: NutsSettings) -> CompiledSampler:
    TRACE_COUNT["n"] += 1

    def potential_fn_gen(*args: Any) -> Callable:
        return lambda z: potential_energy(model, args, {}, z)

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")

    def potential(args: tuple) -> Callable:
        return lambda z: potential_energy(model, args, {}, z)

    def init_one(rng_key, args, begin=None):
        """One chain's initial state; `begin` = (z0, inverse mass) from `start`, else this
        chain optimises its own start."""
        key_init, key_run = random.split(rng_key)
        if begin is None:
            key_init, key_start = random.split(key_init)
            z0 = prior_center_init(model, args, key_init, settings.init_radius)
            begin = laplace_start(potential(args), z0, key_start, settings.dense_mass)
        z0, inverse_mass = begin
        return init_kernel(
            z0,
            settings.num_warmup,
            inverse_mass_matrix=inverse_mass,
            dense_mass=settings.dense_mass,
            target_accept_prob=settings.target_accept,
            max_tree_depth=(
                min(settings.warmup_tree_depth, settings.max_tree_depth),
                settings.max_tree_depth,
            ),
            model_args=args,
            rng_key=key_run,
        )

    def start(keys, args):
        """Optimise `num_starts` jittered starts; every chain begins near the best one."""
        key_starts = random.split(random.fold_in(keys[0], 1), settings.num_starts)
        z0 = jax.vmap(lambda k: prior_center_init(model, args, k, settings.init_radius))(key_starts)
        return best_mode_starts(potential(args), z0, keys, settings.dense_mass)

    def advance_one(state, args):
        # Always CHUNK kernel steps: the last chunk may run past the requested draws, and
        # run_nuts drops the extra ones (simpler than stopping mid-chunk under a cond).
        def step(state, _):
            new = sample_kernel(state, model_args=args)
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

        return jax.lax.scan(step, state, None, length=CHUNK)

    chain_method = _chain_method(settings.num_chains, settings.chain_method)
    begin_axes = None if settings.num_starts <= 1 else (0, None)
    if chain_method == "parallel":
        init = jax.pmap(init_one, in_axes=(0, None, begin_axes))
        advance = jax.pmap(advance_one, in_axes=(0, None))
    elif chain_method == "vectorized":
        init = jax.jit(jax.vmap(init_one, in_axes=(0, None, begin_axes)))
        advance = jax.jit(jax.vmap(advance_one, in_axes=(0, None)))
    else:
        init, advance = jax.jit(init_one), jax.jit(advance_one)
    postprocess = jax.jit(
        lambda z, args: jax.vmap(jax.vmap(lambda zi: constrain_fn(model, args, {}, zi)))(z)
    )
    multi = jax.jit(start) if settings.num_starts > 1 else None
    return CompiledSampler(init, advance, postprocess, chain_method, multi)


def _chain_method(num_chains: int, requested: str = "auto") -> str:
    """pmap across devices when there are enough; else vmap on accelerators (wide and fast
    in lockstep) and one chain after another on a CPU (vmap would run every chain to the
    deepest tree of any), unless `requested` names one: small models whose gradient costs
    little more for four chains than for one run faster vectorised on a CPU too."""
    if requested != "auto":
        return requested if num_chains > 1 else "sequential"
    if num_chains > 1 and jax.local_device_count() >= num_chains:
        return "parallel"
    if num_chains > 1 and jax.default_backend() != "cpu":
        return "vectorized"
    return "sequential"


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
        sampler.compile(keys, model_args)
        compile_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    state, starts = sampler.init_chains(keys, model_args)
    draws: list[tuple] = []
    done = 0
    for _ in range(n_chunks):  # the last chunk may run past `total`; extra draws are dropped
        state, out = sampler.advance_chains(state, model_args)
        draws.append(out)
        done = min(done + CHUNK, total)
        if progress is not None:
            progress(done, total)
    jax.block_until_ready(state)
    sample_s = time.perf_counter() - t1

    def stack(j: int) -> Any:
        parts = [d[j] for d in draws]
        return jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, axis=1), *parts)

    keep = slice(settings.num_warmup, total)
    z = {k: v[:, keep] for k, v in stack(0).items()}
    all_stats = [stack(j) for j in range(1, 7)]
    stats = SampleStats(*(x[:, keep] for x in all_stats))
    warmup_steps = int(all_stats[3][:, : settings.num_warmup].sum())
    return NutsRun(
        z=z,
        stats=stats,
        compile_s=compile_s,
        sample_s=sample_s,
        warmup_steps=warmup_steps,
        starts=starts,
    )


def constrain(
    key: str, model: Callable, model_args: tuple, settings: NutsSettings, z: dict
) -> dict[str, np.ndarray]:
    """Map unconstrained draws (chain, draw, ...) to the model's parameter space."""
    sampler, _ = get_sampler(key, model, model_args, settings)
    return jax.device_get(sampler.postprocess(z, model_args))
