"""Is the experiment designer calibrated? Assurance against detection rates, and the level of
the stated test, on a world with AR(1) residuals (docs/design.md, "Checks").

    .venv/bin/python benchmarks/design_calibration.py [--seeds 400] [--rho 0.6]

The world: `small_business` with ``noise_ar1`` (ρ = 0.6 by default), seed 0, fitted by NUTS
(2 chains × (500 + 500)). The experiments use the world's own noise: `Truth.noise` of
`--seeds` fresh seeds (never fitted), summed over non-overlapping windows of each test's
measured length; each experiment's true lift is a posterior draw's predicted lift.

1. Level: no intervention; the share of windows the two-sided 5% test rejects, with the
   noise sd (a) of the world's residual process (20 other seeds' noise, 2080 periods):
   AR(1)-corrected and independent; (b) of the fit alone (what `mmmlab design` uses by
   default: the larger of the AR(1) figure of its in-sample residuals and the leave-window-
   out placebo), and the in-sample residuals' AR(1) and iid figures on their own.
2. Calibration: for national designs spanning low to high assurance, the detection rate of
   the stated test over one experiment per window against the design's assurance, with the
   noise of (a) and of (b).
"""

from __future__ import annotations

import argparse

import numpy as np

import mmmlab
from mmmlab.design import design
from mmmlab.design.calibration import detection_rate, noise_windows, rejection_rate, world_noise
from mmmlab.design.noise import lift_noise
from mmmlab.synth.presets import shipped_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=400, help="fresh worlds of noise")
    parser.add_argument("--rho", type=float, default=0.6, help="AR(1) of the world's noise")
    args = parser.parse_args()
    spec = shipped_world("small_business").model_copy(update={"noise_ar1": args.rho})
    dataset, truth = mmmlab.simulate(spec, seed=0)
    fit = mmmlab.fit(dataset, seed=0, num_warmup=500, num_samples=500, num_chains=2)
    fresh = world_noise(spec, range(1, 1 + args.seeds), at=0)
    process = world_noise(spec, range(1000, 1020), at=0).reshape(-1, 1)  # 2080 periods
    own = dataset.target - fit.components().mean.mean(axis=0)
    sd = truth.noise.std()
    print(f"world: small_business, noise AR(1) rho {args.rho}; seed 0's noise sd {sd:,.1f}")
    print(
        f"fit's own residuals: sd {own.std(ddof=1):,.1f}, lag-1 {lift_noise(own[:, 0], 2).rho:.2f}"
    )
    designs = {
        "world residual process": design(fit, residuals=process, noise="ar1", geo_designs=False),
        "fit (default noise)": design(fit, geo_designs=False),
    }

    print("\n1. level (no intervention), share rejected at alpha 0.05")
    print(f"{'noise':40s} {'W':>3s} {'windows':>8s} {'rejected':>9s}")
    for w in (9, 11, 13, 15):
        win = noise_windows(fresh, w)
        world, fitted = (
            designs["world residual process"].noise,
            designs["fit (default noise)"].noise,
        )
        rows = {
            "AR(1), world residual process": world["national", w].ar1,
            "iid, world residual process": world["national", w].iid,
            "fit default: max(AR(1), placebo)": fitted["national", w].used,
            "fit: AR(1) of in-sample residuals": fitted["national", w].ar1,
            "fit: iid of in-sample residuals": fitted["national", w].iid,
        }
        for name, noise_sd in rows.items():
            rate = rejection_rate(0, win, noise_sd, 0.05)
            print(f"{name:40s} {w:3d} {len(win):8d} {rate:9.3f}")

    print("\n2. calibration: detection rate of the stated test against the assurance")
    head = f"{'noise from':24s} {'design':24s} {'n':>5s} {'assurance':>9s} {'detected':>8s}"
    print(f"{head} {'gap':>6s}")
    for name, rec in designs.items():
        t = rec.table
        rows = [int(np.argmin(np.abs(t.assurance - a))) for a in (0.1, 0.3, 0.5, 0.7, 0.9)]
        for row in dict.fromkeys(rows):
            win = noise_windows(fresh, int(t.measured_periods[row]))
            rate, expect = detection_rate(rec, row, win, seed=row)
            print(
                f"{name:24s} {t.candidate[row]:24s} {len(win):5d} {expect:9.3f} {rate:8.3f} "
                f"{rate - expect:+6.3f}"
            )


if __name__ == "__main__":
    main()
