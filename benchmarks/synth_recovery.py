"""Recovery of the answer key on simulated presets, and the cost of simulating them.

    python benchmarks/synth_recovery.py [--preset small_business] [--seeds 10] [--saturation hill]

For each seed: simulate the preset, fit it with NUTS (2 chains × 1000 + 1000), and score
the fit against its truth: ROAS inside the 90% interval, mean |ROAS error|, parameters inside
their 90% interval, median contribution SRMSE. Then the seconds each preset takes to simulate.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import mmmlab  # noqa: F401  (JAX settings first)
from mmmlab.analysis.recovery import fit_recovery, recovery_summary
from mmmlab.inference import fit
from mmmlab.models import ModelConfig
from mmmlab.synth import SIMULATORS, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small_business")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--saturation", default="logistic", help="saturation of the fitted model")
    args = parser.parse_args()
    config = ModelConfig(saturation=args.saturation)
    print(f"{args.preset}: fitted with {args.saturation} saturation, 2 chains x (1000 + 1000)")
    print("seed  fit_s  rhat   div  roas_in_90  |roas_err|  params_in_90  srmse_med")
    covered = total = 0
    errors, srmse = [], []
    for seed in range(args.seeds):
        dataset, truth = simulate(args.preset, seed)
        t0 = time.perf_counter()
        result = fit(dataset, config, seed=seed)
        seconds = time.perf_counter() - t0
        head = recovery_summary(fit_recovery(result, truth))
        d = result.diagnostics
        covered += head["roas_covered_90"]
        total += head["roas_channels"]
        errors.append(head["roas_mean_abs_error"])
        srmse.append(head["contribution_srmse_median"])
        print(
            f"{seed:4d} {seconds:6.1f} {d.max_rhat:6.3f} {d.divergences:4d} "
            f"{head['roas_covered_90']:6d}/{head['roas_channels']:<4d} "
            f"{head['roas_mean_abs_error']:10.2f} "
            f"{head['params_covered_90']:8d}/{head['params']:<4d} "
            f"{head['contribution_srmse_median']:9.2f}",
            flush=True,
        )
    print(
        f"ROAS inside the 90% interval: {covered}/{total} ({covered / total:.0%}); "
        f"median |ROAS error| {np.median(errors):.2f}; median contribution SRMSE "
        f"{np.median(srmse):.2f}"
    )
    print("\nsimulation seconds per world (second call; the first includes compiling):")
    for name in SIMULATORS:
        simulate(name, 0)
        t0 = time.perf_counter()
        simulate(name, 1)
        print(f"  {name:24s} {time.perf_counter() - t0:6.2f}")


if __name__ == "__main__":
    main()
