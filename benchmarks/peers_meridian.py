"""Google Meridian's cost and convergence on the business presets, as the `meridian` backend
fits them: the published study's model and 4 chains × (1000 warmup + 1000 kept) draws, on
the whole series (seed 0 of each preset).

Per preset: compile seconds (model build plus JAX's own trace/lower/compile spans inside
sampling), sampling seconds (the rest), min bulk ESS over free parameters, ESS per second of
the whole fit, max R-hat and divergences (`mmmlab.backends.peers.meridian` says what each
covers). Needs the extra, so run it in its environment:

    .venv-meridian/bin/python benchmarks/peers_meridian.py [--presets small_business ...]
        [--chains 4] [--warmup 1000] [--samples 1000]
"""

from __future__ import annotations

import argparse
import time

import mmmlab
from mmmlab.backends import get_backend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["small_business", "growing_business"])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    inference = {
        "num_chains": args.chains,
        "num_warmup": args.warmup,
        "num_samples": args.samples,
    }
    print(f"meridian, {args.chains} chains × ({args.warmup} + {args.samples})")
    header = "preset", "compile_s", "sample_s", "min_ess_bulk", "ess_per_s", "max_rhat", "div"
    print("{:<18} {:>9} {:>9} {:>12} {:>9} {:>8} {:>5}".format(*header), flush=True)
    for preset in args.presets:
        dataset, _ = mmmlab.simulate(preset, args.seed)
        t0 = time.perf_counter()
        d = get_backend("meridian").fit(dataset, {}, args.seed, inference).diagnostics
        wall = time.perf_counter() - t0
        print(
            f"{preset:<18} {d.compile_s:>9.1f} {d.sample_s:>9.1f} {d.min_ess_bulk:>12.0f} "
            f"{d.ess_per_s:>9.2f} {d.max_rhat:>8.3f} {d.divergences:>5d}  (wall {wall:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
