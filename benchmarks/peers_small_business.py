"""PyMC-Marketing's cost and convergence per sampler on small_business, as the
`pymc-marketing` backend fits it: the published study's model and 4 chains × (1000 warmup +
1000 kept) draws on the whole series (seed 0).

Per sampler: compile seconds, sampling seconds (`mmmlab.backends.peers.pymc_marketing` says
what each covers), min bulk ESS over the free parameters, ESS per second of the whole fit
(compile included), max R-hat and divergences. JAX's compilation cache starts empty, as in
`benchmarks/fit_speed.py`; PyTensor's compiled C modules stay where PyTensor keeps them (a
user has them after a first fit). Needs the extra, so run it in its environment:

    .venv-pymc/bin/python benchmarks/peers_small_business.py [pymc nutpie ...]
        [--chains 4] [--draws WARMUP KEPT] [--preset small_business]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

# A fresh, empty JAX compilation cache: the JAX samplers pay their full cold compile.
os.environ.setdefault("MMMLAB_CACHE_DIR", tempfile.mkdtemp(prefix="mmmlab-peers-cache-"))

import mmmlab  # noqa: E402
from mmmlab.backends import get_backend  # noqa: E402
from mmmlab.backends.peers.pymc_marketing import SAMPLERS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samplers", nargs="*", default=list(SAMPLERS), help=", ".join(SAMPLERS))
    parser.add_argument(
        "--draws", nargs=2, type=int, default=(1000, 1000), metavar=("WARMUP", "KEPT")
    )
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--preset", default="small_business")
    args = parser.parse_args()
    (warmup, kept), seed = args.draws, 0
    # target_accept 0.9: the study's setting
    inference = dict(num_chains=args.chains, num_warmup=warmup, num_samples=kept, target_accept=0.9)
    dataset, _ = mmmlab.simulate(args.preset, seed)
    print(f"pymc-marketing on {args.preset}, {args.chains} chains × ({warmup} + {kept})")
    header = "sampler", "compile_s", "sample_s", "min_ess_bulk", "ess_per_s", "max_rhat", "div"
    print("{:<9} {:>9} {:>9} {:>12} {:>9} {:>8} {:>5}".format(*header), flush=True)
    for sampler in args.samplers:
        t0 = time.perf_counter()
        fit = get_backend("pymc-marketing").fit(dataset, {"sampler": sampler}, seed, inference)
        wall, d = time.perf_counter() - t0, fit.diagnostics
        print(
            f"{sampler:<9} {d.compile_s:>9.1f} {d.sample_s:>9.1f} {d.min_ess_bulk:>12.0f} "
            f"{d.ess_per_s:>9.2f} {d.max_rhat:>8.3f} {d.divergences:>5d}  (wall {wall:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
