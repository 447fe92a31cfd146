"""Wall time of `mmmlab design` on a fit of `small_business` (target: <= 10 s on 2 cores for
the default candidate grid).

    .venv/bin/python benchmarks/design_speed.py [--repeats 3]

Fits `small_business` (seed 0) with `mmmlab fit --preset small_business` at its default
settings (2 chains × (1000 + 1000)), then times `mmmlab design FIT --out DIR` as a user runs
it, in a new process each time (import, load the fit, design 1000 of its draws, write the
files): first with an empty compilation cache (every program compiled), then with the
cache that run left on disk.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MMMLAB = [str(Path(sys.executable).parent / "mmmlab")]


def _run(args: list[str], cache: str) -> float:
    env = os.environ | {"MMMLAB_CACHE_DIR": cache}
    start = time.perf_counter()
    subprocess.run([*MMMLAB, *args], check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mmmlab-design-speed-"))
    cache = str(root / "cache")
    fit_time = _run(["fit", "--preset", "small_business", "--out", str(root / "fit")], cache)
    print(f"mmmlab fit --preset small_business: {fit_time:.1f} s (cpus: {os.cpu_count()})")
    cold = []
    for i in range(args.repeats):
        fresh = str(root / f"empty-cache-{i}")
        cold.append(_run(["design", str(root / "fit"), "--out", str(root / f"c{i}")], fresh))
    warm = [
        _run(["design", str(root / "fit"), "--out", str(root / f"w{i}")], cache)
        for i in range(args.repeats)
    ]
    print(f"mmmlab design, empty compile cache: median {statistics.median(cold):.1f} s {cold}")
    print(f"mmmlab design, warm compile cache:  median {statistics.median(warm):.1f} s {warm}")


if __name__ == "__main__":
    main()
