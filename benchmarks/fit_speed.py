"""Fit speed and convergence of `mmmlab.fit` on the reference datasets.

Reference data (issue #2): 156 weeks, 4 channels, geometric adstock (l_max 8), logistic
saturation, 1 control, yearly Fourier with 2 modes; national, and the same with 20 geos.
NUTS with 2 chains x (1000 warmup + 1000 draws).

Prints, per dataset and seed: compile s, sampling s, wall s, min bulk ESS, max R-hat,
divergences and min-ESS per second of fit time. The reference run in the same process is
NumPyro's own `MCMC(NUTS)` on the same model and data (a new MCMC object per fit, as a user
or PyMC-Marketing's numpyro path would run it); ratios are mmmlab over reference.

    .venv/bin/python benchmarks/fit_speed.py                 # national x 10 seeds, 20 geos x 3
    .venv/bin/python benchmarks/fit_speed.py --quick         # national x 3, 20 geos x 1
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

# A fresh, empty compilation cache: the first fit below pays the full cold compile.
os.environ.setdefault("MMMLAB_CACHE_DIR", tempfile.mkdtemp(prefix="mmmlab-bench-cache-"))
# XLA host devices: mmmlab's default (one per core, at least 4), set when mmmlab imports JAX,
# so mmmlab comes before anything that imports JAX (else chains share one device).
import mmmlab  # noqa: E402

# isort: split
import jax  # noqa: E402
import numpy as np  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402

from mmmlab.inference.diagnostics import convergence  # noqa: E402
from mmmlab.models import ModelConfig  # noqa: E402
from mmmlab.models.mmm import bind  # noqa: E402
from mmmlab.synth import example_dataset  # noqa: E402

STUCK_RHAT = 1.05  # a seed whose max R-hat exceeds this has a chain that did not mix
HEADER = (
    f"{'dataset':10s} {'run':10s} {'seed':>4s} {'compile':>8s} {'sample':>8s} {'wall':>7s} "
    f"{'minESS':>7s} {'maxRhat':>8s} {'div':>4s} {'ESS/s':>7s}"
)


def row(
    name: str,
    run: str,
    seed: int,
    compile_s: float,
    sample_s: float,
    wall: float,
    ess: float,
    rhat: float,
    div: int,
) -> dict:
    rate = ess / wall if wall > 0 else float("nan")
    print(
        f"{name:10s} {run:10s} {seed:4d} {compile_s:8.2f} {sample_s:8.2f} {wall:7.2f} "
        f"{ess:7.0f} {rhat:8.3f} {div:4d} {rate:7.1f}",
        flush=True,
    )
    return {"wall": wall, "ess": ess, "rhat": rhat, "div": div, "rate": rate}


def run_mmmlab(name: str, dataset, seeds: list[int]) -> list[dict]:
    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        fit = mmmlab.fit(dataset, seed=seed)
        wall = time.perf_counter() - t0
        d = fit.diagnostics
        run = "mmmlab" + ("*" if d.compile_s > 0 else "")
        rows.append(
            row(
                name,
                run,
                seed,
                d.compile_s,
                d.sample_s,
                wall,
                d.min_ess_bulk,
                d.max_rhat,
                d.divergences,
            )
        )
    return rows


def run_reference(name: str, dataset, seeds: list[int]) -> list[dict]:
    """NumPyro's MCMC(NUTS) on the same model, data and settings (mass matrix as mmmlab
    chooses it: dense for national, diagonal for geo panels; target acceptance 0.85)."""
    model, _, _, data, y = bind(dataset, ModelConfig())
    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        mcmc = MCMC(
            NUTS(model, target_accept_prob=0.85, dense_mass=dataset.n_geos == 1),
            num_warmup=1000,
            num_samples=1000,
            num_chains=2,
            chain_method="parallel",
            progress_bar=False,
        )
        mcmc.run(jax.random.PRNGKey(seed), data, y, extra_fields=("diverging",))
        # JAX dispatches asynchronously: MCMC.run returns while the chains may still be
        # sampling, so the clock stops only once the draws exist (before 2026-12-05 it did
        # not wait, and the 20-geo reference read 1.3 s for a fit that takes ~14 s).
        samples = jax.block_until_ready(mcmc.get_samples(group_by_chain=True))
        wall = time.perf_counter() - t0
        rhat, ess, *_ = convergence({k: np.asarray(v) for k, v in samples.items()})
        div = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
        rows.append(row(name, "numpyro", seed, float("nan"), float("nan"), wall, ess, rhat, div))
    return rows


def summarize(name: str, ours: list[dict], ref: list[dict]) -> None:
    warm = ours[1:] or ours
    stuck = sum(r["rhat"] > STUCK_RHAT for r in ours)
    print(
        f"\n{name}: first fit (cold compile) {ours[0]['wall']:.2f} s; later fits median "
        f"{np.median([r['wall'] for r in warm]):.2f} s; median ESS/s "
        f"{np.median([r['rate'] for r in ours]):.1f}; divergences {sum(r['div'] for r in ours)}"
        f"; stuck seeds (max R-hat > {STUCK_RHAT}) {stuck} of {len(ours)}"
    )
    if len(ref) > 1:  # like for like: cold against cold, warm against warm
        ref_warm = ref[1:]
        cold_ratio = ref[0]["wall"] / ours[0]["wall"]
        warm_ratio = np.median([r["wall"] for r in ref_warm]) / np.median([r["wall"] for r in warm])
        rate_ratio = np.median([r["rate"] for r in warm]) / np.median([r["rate"] for r in ref_warm])
        print(
            f"{name}: numpyro MCMC / mmmlab wall, first fit {cold_ratio:.2f}x, later fits "
            f"{warm_ratio:.2f}x; mmmlab / numpyro ESS/s on later fits {rate_ratio:.2f}x"
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="national seeds")
    parser.add_argument("--geo-seeds", type=int, default=3, help="20-geo seeds (0 skips)")
    parser.add_argument(
        "--reference-seeds", type=int, default=2, help="numpyro runs, national (first one compiles)"
    )
    parser.add_argument(
        "--geo-reference-seeds", type=int, default=0, help="numpyro runs, 20 geos (slow)"
    )
    parser.add_argument("--quick", action="store_true", help="3 national seeds, 1 geo seed")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.geo_seeds, args.reference_seeds = 3, 1, 1
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform} x{jax.local_device_count()}; "
        f"compile cache {os.environ['MMMLAB_CACHE_DIR']}"
    )
    print("'*' marks a fit that compiled; ESS/s = min bulk ESS / wall seconds of the fit\n")
    print(HEADER)
    national, _ = example_dataset()
    ours = run_mmmlab("national", national, list(range(args.seeds)))
    ref = run_reference("national", national, list(range(args.reference_seeds)))
    summarize("national", ours, ref)
    if args.geo_seeds:
        print(HEADER)
        geo, _ = example_dataset(n_geos=20)
        ours = run_mmmlab("20 geos", geo, list(range(args.geo_seeds)))
        ref = run_reference("20 geos", geo, list(range(args.geo_reference_seeds)))
        summarize("20 geos", ours, ref)


if __name__ == "__main__":
    main()
