"""The first fit as a new user meets it: whole `mmmlab fit` processes on the national reference
data, with an empty compile cache (cold) and then with it warm, side by side in one run with
PyMC-Marketing + numpyro on the same data.

Reference data (issue #2, `mmmlab fit --example`): 156 weeks, 4 channels, 1 control, the default
model (geometric adstock l_max 8, logistic saturation, yearly Fourier with 2 modes), NUTS with
2 chains x (1000 warmup + 1000 draws), seed 0.

Each round runs, in turn: `mmmlab fit` with a new, empty `MMMLAB_CACHE_DIR` (cold), the same
command again in a new process (warm), and the peer: PyMC-Marketing's MMM sampled by numpyro
(`mmmlab.backends.peers.pymc_marketing`, the same data and chains x draws, its own target
acceptance 0.9) in its own interpreter (`.venv-pymc`) with an empty JAX compile cache.
Figures per round: wall seconds of the whole process, the fit's min bulk ESS and min-ESS/s; for
mmmlab, min-ESS/s is over the whole process (import, data, compile, sampling, report); for the
peer it is over its fit time alone (model build, compile, sampling: `Diagnostics.ess_per_s`).
Medians over rounds, and their ratios, close the run. `--before SRC` adds the same cold and
warm processes of another checkout's `src` (e.g. a `git worktree` of an older commit) to every
round, for before/after figures in one run.

    .venv/bin/python benchmarks/first_fit.py                    # 3 rounds
    .venv/bin/python benchmarks/first_fit.py --rounds 5 --no-peer
    .venv/bin/python benchmarks/first_fit.py --before /tmp/old/src
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"cold": (8.0, 5.0), "warm": (3.0, 15.0)}  # (max wall s, min ESS/s ratio to the peer)
PEER_TIMEOUT_S = 1800


def mmmlab_fit(cache: Path, out: Path, src: str | None) -> dict:
    """One whole `mmmlab fit --example` process; its wall seconds and diagnostics."""
    env = dict(os.environ, MMMLAB_CACHE_DIR=str(cache))
    if src is not None:
        env["PYTHONPATH"] = src
    script = Path(sys.executable).with_name("mmmlab")  # the command a user runs
    program = [str(script)] if script.exists() else [sys.executable, "-m", "mmmlab.cli"]
    command = [*program, "fit", "--example", "--out", str(out)]
    t0 = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"mmmlab fit failed ({done.returncode}):\n{done.stderr[-2000:]}")
    d = json.loads((out / "summary.json").read_text())["diagnostics"]
    return {
        "wall": wall,
        "ess": d["min_ess_bulk"],
        "rate": d["min_ess_bulk"] / wall,
        "compile": d["compile_s"],
        "sample": d["sample_s"],
        "rhat": d["max_rhat"],
        "div": d["divergences"],
    }


def peer_fit(python: Path, seed: int) -> dict:
    """PyMC-Marketing + numpyro in its own interpreter (this script's --peer-fit mode)."""
    env = dict(os.environ)
    env.pop("MMMLAB_CACHE_DIR", None)  # --peer-fit makes an empty one
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(python), __file__, "--peer-fit", str(seed)],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=PEER_TIMEOUT_S,
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"peer fit failed ({done.returncode}):\n{done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {**figures, "wall": wall}


def run_peer_fit(seed: int) -> None:
    """In the peer's environment: fit and print one JSON line of figures."""
    cache = tempfile.mkdtemp(prefix="mmmlab-peer-cache-")
    os.environ["MMMLAB_CACHE_DIR"] = cache  # an empty JAX compile cache: the cold compile
    import mmmlab
    from mmmlab.backends import get_backend

    dataset, _ = mmmlab.example_dataset()
    inference = {"num_chains": 2, "num_warmup": 1000, "num_samples": 1000}
    t0 = time.perf_counter()
    fit = get_backend("pymc-marketing").fit(dataset, {"sampler": "numpyro"}, seed, inference)
    fit_s = time.perf_counter() - t0
    d = fit.diagnostics
    print(
        json.dumps(
            {
                "fit": fit_s,
                "ess": d.min_ess_bulk,
                "rate": d.ess_per_s,
                "compile": d.compile_s,
                "sample": d.sample_s,
                "rhat": d.max_rhat,
                "div": d.divergences,
            }
        )
    )
    shutil.rmtree(cache, ignore_errors=True)


def show(run: str, r: int, f: dict) -> None:
    print(
        f"{run:14s} {r:5d} {f['wall']:7.2f} {f['compile']:8.2f} {f['sample']:7.2f} "
        f"{f['ess']:7.0f} {f['rate']:8.1f} {f['rhat']:7.3f} {f['div']:4d}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--peer-python",
        type=Path,
        default=ROOT / ".venv-pymc" / "bin" / "python",
        help="interpreter with the pymc extra (make test-peers-pymc builds .venv-pymc)",
    )
    parser.add_argument("--no-peer", action="store_true", help="mmmlab only")
    parser.add_argument("--before", help="another checkout's src: its cold and warm fits too")
    parser.add_argument("--peer-fit", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer_fit is not None:
        run_peer_fit(args.peer_fit)
        return
    peer = not args.no_peer
    if peer and not args.peer_python.exists():
        raise SystemExit(f"no peer interpreter at {args.peer_python}: make test-peers-pymc")
    print(f"{os.cpu_count()} CPUs; {args.rounds} rounds; mmmlab fit --example, 2 x (1000 + 1000)")
    print("wall: whole process (the peer: its fit alone in 'fit', the process in 'wall'); ")
    print("ESS/s: min bulk ESS per wall second (the peer: per second of its fit)\n")
    print(
        f"{'run':14s} {'round':>5s} {'wall':>7s} {'compile':>8s} {'sample':>7s} {'minESS':>7s} "
        f"{'ESS/s':>8s} {'maxRhat':>7s} {'div':>4s}"
    )
    kinds = [("cold", "warm", None)]
    if args.before:
        kinds.insert(0, ("before cold", "before warm", args.before))
    rows: dict[str, list[dict]] = {}
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="mmmlab-first-fit-") as tmp:
            for cold, warm, src in kinds:
                cache = Path(tmp) / f"cache-{cold}"
                for run in (cold, warm):  # the same empty cache: cold fills it, warm reads it
                    f = mmmlab_fit(cache, Path(tmp) / f"out-{run}", src)
                    rows.setdefault(run, []).append(f)
                    show(run, r, f)
        if peer:
            f = peer_fit(args.peer_python, 0)
            rows.setdefault("peer", []).append(f)
            show("peer numpyro", r, {**f, "rate": f["rate"]})
            print(f"{'':14s} {'':5s} (peer fit alone {f['fit']:.2f} s)", flush=True)
    med = {run: {k: statistics.median(f[k] for f in fs) for k in fs[0]} for run, fs in rows.items()}
    print("\nmedians over rounds")
    for run, m in med.items():
        line = f"{run:14s} wall {m['wall']:6.2f} s, min ESS {m['ess']:5.0f}, ESS/s {m['rate']:7.1f}"
        if run == "peer":
            line += f" (over its fit alone, {m['fit']:.2f} s)"
        print(line)
    for kind in ("cold", "warm"):
        limit, ratio_target = TARGETS[kind]
        m = med[kind]
        verdict = f"{kind}: wall {m['wall']:.2f} s (target <= {limit:.0f} s: "
        verdict += "met)" if m["wall"] <= limit else "NOT met)"
        if peer:
            ratio = m["rate"] / med["peer"]["rate"]
            verdict += f"; ESS/s {ratio:.1f}x the peer's (target >= {ratio_target:.0f}x: "
            verdict += "met)" if ratio >= ratio_target else "NOT met)"
        if args.before:
            verdict += f"; before {med['before ' + kind]['wall']:.2f} s"
        print(verdict)


if __name__ == "__main__":
    main()
