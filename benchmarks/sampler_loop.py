"""mmmlab's NUTS loop against NumPyro's own `MCMC` on a geo panel, per leapfrog step and per fit.

Settles the README's former open problem ("the 20-geo sampler is ~7x slower per leapfrog step
than NumPyro's MCMC"). The same model and data (the 20-geo reference panel of
`benchmarks/fit_speed.py`: `example_dataset(n_geos=20)`, default model, diagonal mass matrix,
target acceptance 0.85, 2 chains x (1000 + 1000) in parallel on two XLA devices), run in turn
in one process for each seed, so a busy machine slows all three alike:

- `run_nuts`: mmmlab's sampler alone (compiled programs, chunks of 100 iterations);
- `fit()`: the whole `mmmlab.fit` (start search, sampling, constraining, diagnostics);
- `numpyro`: NumPyro's `MCMC(NUTS)`, warmup and sampling, a new object per seed.

Prints per run: wall seconds, leapfrog steps over both phases (mmmlab's warmup trees stop at
depth 6, NumPyro's at 10), steps per kept draw, microseconds per step per chain, min bulk ESS.
The first seed of each compiles (mmmlab's compile is its own column).

    .venv/bin/python benchmarks/sampler_loop.py                 # seeds 0 1 2
    .venv/bin/python benchmarks/sampler_loop.py --geos 40 --seeds 0
"""

from __future__ import annotations

import argparse
import time

import mmmlab  # noqa: F401  (JAX settings, XLA host devices first)

# isort: split
import jax
import numpy as np
from numpyro.infer import MCMC, NUTS

from mmmlab.inference.diagnostics import convergence
from mmmlab.inference.nuts import run_nuts
from mmmlab.inference.settings import SamplerSettings
from mmmlab.models import ModelConfig
from mmmlab.models.mmm import bind
from mmmlab.synth import example_dataset


def sampler(bound, seed: int) -> tuple[float, float, int, int, float]:
    settings = SamplerSettings(dense_mass=False)
    t0 = time.perf_counter()
    run = run_nuts(
        jax.random.PRNGKey(seed), "sampler_loop", bound.model, (bound.data, bound.y), settings
    )
    wall = time.perf_counter() - t0
    steps = run.warmup_steps + int(run.stats.num_steps.sum())
    return (
        wall,
        run.compile_s,
        steps,
        int(run.stats.num_steps.size),
        convergence(run.z).min_ess_bulk,
    )


def whole_fit(dataset, seed: int) -> tuple[float, float, int, int, float]:
    t0 = time.perf_counter()
    fit = mmmlab.fit(dataset, ModelConfig(), seed=seed)
    wall = time.perf_counter() - t0
    kept = np.asarray(fit.sample_stats["num_steps"])
    d = fit.diagnostics
    return wall, d.compile_s, -1, kept.size, d.min_ess_bulk  # -1: warmup steps not kept


def reference(bound, seed: int) -> tuple[float, float, int, int, float]:
    t0 = time.perf_counter()
    mcmc = MCMC(
        NUTS(bound.model, target_accept_prob=0.85, dense_mass=False),
        num_warmup=1000,
        num_samples=1000,
        num_chains=2,
        chain_method="parallel",
        progress_bar=False,
    )
    args = (bound.data, bound.y)
    mcmc.warmup(jax.random.PRNGKey(seed), *args, collect_warmup=True, extra_fields=("num_steps",))
    warm = int(np.asarray(mcmc.get_extra_fields()["num_steps"]).sum())
    mcmc.run(mcmc.post_warmup_state.rng_key, *args, extra_fields=("num_steps",))
    # JAX dispatches asynchronously: the clock stops once the draws exist, not when run returns.
    draws = jax.block_until_ready(mcmc.get_samples(group_by_chain=True))
    kept = np.asarray(jax.block_until_ready(mcmc.get_extra_fields()["num_steps"]))
    wall = time.perf_counter() - t0
    draws = {k: np.asarray(v) for k, v in draws.items()}
    return wall, float("nan"), warm + int(kept.sum()), kept.size, convergence(draws).min_ess_bulk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geos", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    dataset = example_dataset(n_geos=args.geos)[0]
    bound = bind(dataset, ModelConfig())
    print(
        f"{args.geos} geos, 2 chains x (1000 + 1000), diagonal mass; jax on "
        f"{jax.devices()[0].platform} x{jax.local_device_count()}"
    )
    print(
        f"{'seed':>4s} {'run':9s} {'wall s':>7s} {'compile':>8s} {'steps':>8s} "
        f"{'per draw':>8s} {'us/step':>8s} {'minESS':>7s}"
    )
    rows: dict[str, list[tuple[float, float]]] = {}
    for seed in args.seeds:
        for name, run in (
            ("run_nuts", lambda s: sampler(bound, s)),
            ("fit()", lambda s: whole_fit(dataset, s)),
            ("numpyro", lambda s: reference(bound, s)),
        ):
            wall, compile_s, steps, kept, ess = run(seed)
            per_step = wall / steps * 1e6 * 2 if steps > 0 else float("nan")  # 2 chains, 2 devices
            shown = f"{steps:8d}" if steps > 0 else f"{'-':>8s}"
            print(
                f"{seed:4d} {name:9s} {wall:7.1f} {compile_s:8.1f} {shown} "
                f"{(steps / kept if steps > 0 else float('nan')):8.1f} {per_step:8.0f} {ess:7.0f}",
                flush=True,
            )
            rows.setdefault(name, []).append((wall, per_step))
    later = slice(1, None) if len(args.seeds) > 1 else slice(None)
    med = {k: np.median(np.array(v)[later], axis=0) for k, v in rows.items()}
    print(
        f"\nlater seeds, median: fit() {med['fit()'][0]:.1f} s vs numpyro "
        f"{med['numpyro'][0]:.1f} s ({med['numpyro'][0] / med['fit()'][0]:.2f}x); per leapfrog "
        "step run_nuts "
        f"{med['run_nuts'][1]:.0f} us vs numpyro {med['numpyro'][1]:.0f} us "
        f"({med['run_nuts'][1] / med['numpyro'][1]:.2f}x)"
    )


if __name__ == "__main__":
    main()
