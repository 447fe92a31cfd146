"""The GPU path (issue 21, item 5): `large_business` and a batched grid on an accelerator, each
beside a reference run on the same machine's CPU, in one prepared script for the short time a
`device` machine is lent. Nothing in mmmlab needs a GPU: the same code runs on either backend,
JAX picks the GPU when one is there.

Sections, in this order, each written to `--out` (JSON) as soon as it is done, so a run stopped
at its time limit keeps every finished figure:

- `environment`: the backend, its devices, the versions of Python, JAX, jaxlib and NumPyro.
- `gradient`: the `--preset` model's potential and gradient (what each leapfrog step
  evaluates), milliseconds per call on every backend of this machine (the accelerator and its
  CPU) side by side, calls alternating; the ratio CPU / accelerator.
- `fit`: `mmmlab.fit` of the preset (seed 0), `--chains` x (`--warmup` + `--samples`) with the
  defaults otherwise (on one GPU the chains run vectorised): compile and sampling seconds,
  max R-hat, min bulk ESS, divergences, min-ESS/s, leapfrog steps per draw, peak device
  memory (or peak RSS on a CPU).
- `batched`: `--batch-preset` fitted for `--seeds` seeds, one `mmmlab.fit` after another,
  then all at once by `mmmlab.fit_many` (one vectorised program); both warm (compiled
  first, compile seconds apart). Cells per minute of each and their ratio (target >= 3).

On a lent machine (its image has JAX with CUDA and NumPyro, not pydantic): docs/gpu.md
gives the wheels to carry and the one command, in short::

    make gpu-wheels                                            # here: .whl/ for the device
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl \\
      && PYTHONPATH=/tmp/site:src python3 benchmarks/gpu.py --out $OUT/gpu.json

    .venv/bin/python benchmarks/gpu.py --quick    # a CPU smoke run of every section (~1 min)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # a checkout, uninstalled

import mmmlab  # noqa: E402  (sets JAX's flags before JAX is imported)

# isort: split
import jax  # noqa: E402
import numpy as np  # noqa: E402

from mmmlab.synth import simulate  # noqa: E402

TARGET_BATCHED = 3.0  # issue 21: batched >= 3x the cells per minute of one fit after another


def write(out: Path | None, figures: dict) -> None:
    """The figures so far to `out`, replaced whole (never a half-written file)."""
    print(json.dumps(figures, indent=1)[-2000:], flush=True)
    if out is not None:
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(figures, indent=1) + "\n")
        os.replace(tmp, out)


def peak_memory_gib() -> tuple[float, str]:
    """Peak memory of the default device where JAX reports it (GPU), else the process's RSS."""
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2**30, "device"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "host RSS"


def environment() -> dict:
    import jaxlib
    import numpyro

    return {
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpyro": numpyro.__version__,
        "cpu_count": os.cpu_count(),
    }


def gradient(preset: str, repeats: int) -> dict:
    """ms per potential + gradient call on each backend (median over alternating calls)."""
    from numpyro.infer.util import potential_energy

    from mmmlab.inference.starts import prior_center_init
    from mmmlab.models import ModelConfig
    from mmmlab.models.mmm import bind

    dataset, _ = simulate(preset, 0)
    model, _, _, data, y = bind(dataset, ModelConfig())
    z = prior_center_init(model, (data, y), jax.random.PRNGKey(0), 1.0)
    value_grad = jax.jit(jax.value_and_grad(lambda z, a: potential_energy(model, a, {}, z)))
    backends = dict.fromkeys([jax.default_backend(), "cpu"])  # the accelerator first
    placed = {b: jax.device_put((z, (data, y)), jax.devices(b)[0]) for b in backends}
    for b in backends:  # compile and warm up on each
        for _ in range(3):
            jax.block_until_ready(value_grad(*placed[b]))
    times: dict[str, list[float]] = {b: [] for b in backends}
    for _ in range(repeats):
        for b in backends:
            t0 = time.perf_counter()
            jax.block_until_ready(value_grad(*placed[b]))
            times[b].append(time.perf_counter() - t0)
    ms = {b: float(np.median(t)) * 1e3 for b, t in times.items()}
    out = {"preset": preset, "shape": list(dataset.spend.shape), "ms_per_call": ms}
    if len(ms) > 1:
        out["cpu_over_accelerator"] = ms["cpu"] / ms[jax.default_backend()]
    return out


def whole_fit(preset: str, chains: int, warmup: int, samples: int) -> dict:
    dataset, _ = simulate(preset, 0)
    t0 = time.perf_counter()
    fit = mmmlab.fit(dataset, seed=0, num_chains=chains, num_warmup=warmup, num_samples=samples)
    wall = time.perf_counter() - t0
    d = fit.diagnostics
    memory, where = peak_memory_gib()
    return {
        "preset": preset,
        "shape": list(dataset.spend.shape),
        "chains": chains,
        "warmup": warmup,
        "samples": samples,
        "wall_s": wall,
        "compile_s": d.compile_s,
        "sample_s": d.sample_s,
        "max_rhat": d.max_rhat,
        "min_ess_bulk": d.min_ess_bulk,
        "divergences": d.divergences,
        "ess_per_s": d.ess_per_s,
        "leapfrog_steps_per_draw": float(np.mean(fit.sample_stats["num_steps"])),
        "peak_memory_gib": memory,
        "memory_of": where,
    }


def batched(preset: str, seeds: int, warmup: int, samples: int) -> dict:
    """Cells per minute: one fit after another against `fit_many`, both compiled first."""
    from batched_fits import all_at_once, one_at_a_time  # beside this script

    from mmmlab.inference.batch import batch_devices

    dataset, _ = simulate(preset, 0)
    settings = dict(num_warmup=warmup, num_samples=samples, num_chains=2)
    cells = list(range(seeds))
    singles, single_s, single_compile = one_at_a_time(dataset, cells, settings)
    many, batch_s, batch_compile, _ = all_at_once(
        dataset, cells, settings, batch_devices(seeds, None)
    )
    single_rate, batch_rate = seeds / single_s * 60, seeds / batch_s * 60
    return {
        "preset": preset,
        "seeds": seeds,
        "settings": settings,
        "one_at_a_time": {"s": single_s, "compile_s": single_compile, "per_min": single_rate},
        "fit_many": {"s": batch_s, "compile_s": batch_compile, "per_min": batch_rate},
        "ratio": batch_rate / single_rate,
        "target": TARGET_BATCHED,
        "max_rhat": {
            "one_at_a_time": max(f.diagnostics.max_rhat for f in singles),
            "fit_many": max(f.diagnostics.max_rhat for f in many),
        },
        "min_ess_bulk": {
            "one_at_a_time": min(f.diagnostics.min_ess_bulk for f in singles),
            "fit_many": min(f.diagnostics.min_ess_bulk for f in many),
        },
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, help="JSON file for the figures (rewritten per section)")
    p.add_argument("--only", nargs="*", choices=["gradient", "fit", "batched"])
    p.add_argument("--preset", default="large_business")
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=50, help="gradient calls per backend")
    p.add_argument("--batch-preset", default="small_business")
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--batch-warmup", type=int, default=1000)
    p.add_argument("--batch-samples", type=int, default=1000)
    p.add_argument("--quick", action="store_true", help="a smoke run: small_business, short chains")
    a = p.parse_args(argv)
    if a.quick:
        a.preset, a.chains, a.warmup, a.samples, a.repeats = "small_business", 2, 50, 50, 5
        a.seeds, a.batch_warmup, a.batch_samples = 2, 50, 50
    if a.out is not None and a.out.exists():
        raise SystemExit(f"--out {a.out}: exists; give a new file (figures are never replaced)")
    sections = a.only or ["gradient", "fit", "batched"]
    figures: dict = {"environment": environment(), "arguments": vars(a) | {"out": str(a.out)}}
    write(a.out, figures)
    if "gradient" in sections:
        figures["gradient"] = gradient(a.preset, a.repeats)
        write(a.out, figures)
    if "fit" in sections:
        figures["fit"] = whole_fit(a.preset, a.chains, a.warmup, a.samples)
        write(a.out, figures)
    if "batched" in sections:
        figures["batched"] = batched(a.batch_preset, a.seeds, a.batch_warmup, a.batch_samples)
        write(a.out, figures)


if __name__ == "__main__":
    main()
