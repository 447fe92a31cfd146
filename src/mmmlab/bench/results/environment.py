"""What a benchmark ran on: Python, platform, CPUs, package versions, git commit, devices;
and the code version every finished cell is keyed by."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import os
import platform
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path


def describe_environment() -> dict:
    """What a run ran on: Python, platform, CPUs, package versions, git commit, JAX devices.

    Missing packages, a directory outside git and a JAX that cannot start are recorded as null.
    """
    packages = ("mmmlab", "jax", "jaxlib", "numpyro", "numpy", "pandas", "arviz")
    commit = _output(["git", "rev-parse", "HEAD"], timeout=10)
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "packages": {p: package_version(p) for p in packages},
        "git_commit": commit or None,
        "jax_devices": _jax_devices(),
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
    }


@functools.cache
def _jax_devices() -> list[dict] | None:
    # In a child process: jax.devices() in the driver would claim the GPU (XLA preallocates most
    # of its memory) before the workers start. Cached: the devices do not change within a process.
    code = "import jax\nfor d in jax.devices(): print(d.platform, d.device_kind, sep='|')"
    out = _output([sys.executable, "-c", code], timeout=120)
    if not out:
        return None
    found = Counter(tuple(line.split("|", 1)) for line in out.splitlines() if "|" in line)
    return [{"platform": p, "kind": k, "count": n} for (p, k), n in found.items()]


def _output(command: list[str], timeout: float) -> str | None:
    """Standard output of `command`, or None when it cannot run, fails or times out."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def package_version(package: str) -> str | None:
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        return importlib.metadata.version(package)
    return None


@functools.cache
def code_version() -> str:
    """mmmlab's version and a hash of its Python sources, e.g. ``0.1.0+src.1a2b3c4d5e6f``:
    what a finished cell is keyed by besides its spec. The sources, not the git commit, so an
    uncommitted edit counts and a commit of docs alone does not (environment.json keeps the
    commit)."""
    root = Path(__file__).resolve().parents[2]  # the mmmlab package
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return f"{package_version('mmmlab') or 'unknown'}+src.{digest.hexdigest()[:12]}"
