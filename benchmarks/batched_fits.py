"""Batched fits (issue 21, item 3): `mmmlab.fit_many` against one `mmmlab.fit` per seed.

small_business (seed 0's data) fitted for N seeds with the bench's default inference settings
(NUTS, 2 chains x (1000 warmup + 1000 draws), target acceptance 0.85), side by side in one
process: first N sequential `mmmlab.fit` calls, then `fit_many` of the same N seeds (for each
`--devices` value asked for). Each path is compiled before it is timed (compile seconds are
reported apart), so both are warm. Cells per minute = N / sampling wall seconds.

It reports the leapfrog steps after warmup of both paths (a vectorised batch runs, each
iteration, the deepest tree of the chains on its device). Per seed it reports the agreement
with the single fit: whether the draws are bitwise equal, the largest difference, each fit's
max R-hat, min bulk ESS and divergences, and the largest |difference of posterior means| over
every parameter element in units of the single fit's posterior sd.

    .venv/bin/python benchmarks/batched_fits.py               # 8 seeds, devices auto
    .venv/bin/python benchmarks/batched_fits.py --seeds 8 --devices 1 2
    .venv/bin/python benchmarks/batched_fits.py --quick       # 3 seeds, 200 + 200 iterations
"""

from __future__ import annotations

import argparse
import time

import mmmlab  # sets the XLA host devices before JAX is imported

# isort: split
import numpy as np

from mmmlab.inference.batch import batch_devices, fit_many
from mmmlab.synth import simulate

TARGET = 3.0  # issue 21: batched >= 3x the cells per minute of one-at-a-time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--preset", default="small_business")
    parser.add_argument("--devices", type=int, nargs="*", default=[0], help="0: automatic")
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="3 seeds, 200 + 200 iterations")
    a = parser.parse_args()
    if a.quick:
        a.seeds, a.warmup, a.samples = 3, 200, 200
    settings = dict(num_warmup=a.warmup, num_samples=a.samples, num_chains=2, target_accept=0.85)
    dataset, _ = simulate(a.preset, 0)
    seeds = list(range(a.seeds))
    print(
        f"{a.preset}: T={dataset.n_time} G={dataset.n_geos} C={dataset.n_channels}; "
        f"{a.seeds} seeds; {settings}"
    )

    singles, single_s, single_compile = one_at_a_time(dataset, seeds, settings)
    single_rate = a.seeds / single_s * 60
    print(
        f"one at a time: first fit (compile + fit) {single_compile:.1f} s; {a.seeds} fits "
        f"{single_s:.1f} s = {single_rate:.2f} cells/min"
    )

    for devices in a.devices:
        d = batch_devices(a.seeds, devices or None)
        fits, batch_s, first, compile_s = all_at_once(dataset, seeds, settings, d)
        rate = a.seeds / batch_s * 60
        print(
            f"fit_many, {d} device(s): first batch (compile + fit) {first:.1f} s, of which "
            f"compile {compile_s:.1f} s; {a.seeds} fits {batch_s:.1f} s = {rate:.2f} cells/min; "
            f"{rate / single_rate:.2f}x one at a time (target {TARGET:g}x: "
            f"{'met' if rate / single_rate >= TARGET else 'NOT met'})"
        )
        report_steps(singles, fits, d)
        report_agreement(singles, fits)


def one_at_a_time(dataset, seeds: list[int], settings: dict) -> tuple[list, float, float]:
    """`mmmlab.fit` of each seed in turn after a first fit that compiles: (fits, seconds,
    the first fit's seconds)."""
    t0 = time.perf_counter()
    mmmlab.fit(dataset, seed=10_000, **settings)  # compiles (and warms) the single-fit path
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    fits = [mmmlab.fit(dataset, seed=s, **settings) for s in seeds]
    return fits, time.perf_counter() - t0, first


def all_at_once(
    dataset, seeds: list[int], settings: dict, devices: int
) -> tuple[list, float, float, float]:
    """`fit_many` of every seed on `devices` after a first batch that compiles: (fits,
    seconds, the first batch's seconds, its compile seconds)."""
    t0 = time.perf_counter()
    warm = fit_many(dataset, seeds=[10_000 + s for s in seeds], devices=devices, **settings)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    fits = fit_many(dataset, seeds=seeds, devices=devices, **settings)
    batch_s = time.perf_counter() - t0
    return fits, batch_s, first, sum(f.diagnostics.compile_s for f in warm)


def report_steps(singles: list, fits: list, devices: int) -> None:
    """Leapfrog steps after warmup: each chain's own, and what a batch runs (the chains of one
    device wait, each iteration, for the deepest tree of any of them)."""
    alone = sum(int(f.sample_stats["num_steps"].sum()) for f in singles)
    own = np.stack([f.sample_stats["num_steps"] for f in fits])  # (fit, chain, draw)
    per_device = own.reshape(devices, -1, own.shape[-1])
    synced = int(per_device.max(axis=1).sum()) * per_device.shape[1]
    print(
        f"  leapfrog steps after warmup: one at a time {alone}; batched, each chain's own "
        f"{int(own.sum())}, run in lockstep {synced} ({synced / own.sum():.2f}x its own)"
    )


def report_agreement(singles: list, fits: list) -> None:
    print(
        f"  {'seed':>4s} {'bitwise':>7s} {'max|diff|':>10s} {'rhat 1/b':>13s} "
        f"{'ess 1/b':>11s} {'div 1/b':>7s} {'max|dmean|/sd':>13s}"
    )
    for one, many in zip(singles, fits, strict=True):
        same = all(np.array_equal(one.posterior[k], many.posterior[k]) for k in one.posterior)
        diff = max(
            float(np.max(np.abs(one.posterior[k] - many.posterior[k]))) for k in one.posterior
        )
        dmean = max(
            float(
                np.max(
                    np.abs(one.posterior[k].mean((0, 1)) - many.posterior[k].mean((0, 1)))
                    / np.maximum(one.posterior[k].std((0, 1)), 1e-12)
                )
            )
            for k in one.posterior
        )
        d1, d2 = one.diagnostics, many.diagnostics
        print(
            f"  {one.seed:4d} {str(same):>7s} {diff:10.3g} {d1.max_rhat:6.3f}/{d2.max_rhat:6.3f} "
            f"{d1.min_ess_bulk:5.0f}/{d2.min_ess_bulk:5.0f} "
            f"{d1.divergences:3d}/{d2.divergences:3d} {dmean:13.3f}"
        )


if __name__ == "__main__":
    main()
