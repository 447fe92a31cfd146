"""Traced programs kept on disk between processes (`jax.export`), so that a new process
neither traces nor lowers them again.

JAX's persistent compilation cache (`mmmlab.runtime`) keeps the compiled executables, but a
new process must still trace and lower a program to look it up: for the NUTS programs of the
national example that is most of a warm `mmmlab fit` before sampling. A program exported here
is read back as StableHLO, and wrapping it (`Exported.call`) lowers in a blink to the same
module, whose executable the compilation cache then serves: the same compiled program, the
same draws.

A program is stored under a digest of what it computes (its name and the caller's key: model
structure and the file defining the model, argument shapes, settings) and of everything else
that could change it: mmmlab's own source files (their sizes and modification times: reading
them all took 0.15 s of every new process), the versions of JAX, jaxlib and NumPyro,
JAX's float64 flag, and the backend with its device count. Nothing is stored where the
compilation cache is off (``MMMLAB_CACHE_DIR=off``) or where JAX cannot serialize (its
optional `flatbuffers` dependency missing): callers then trace as before.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import sys
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import jax

from mmmlab import runtime

SOURCE = Path(__file__).resolve().parents[1]  # the mmmlab package


@cache
def environment() -> str:
    """What, besides the caller's key, decides a traced program (see the module docstring)."""
    digest = hashlib.sha256()
    for path in sorted(SOURCE.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(SOURCE)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    versions = [f"{p}={importlib.metadata.version(p)}" for p in ("jax", "jaxlib", "numpyro")]
    backend = f"{jax.default_backend()}:{jax.device_count()}:x64={jax.config.jax_enable_x64}"
    return "|".join([digest.hexdigest(), *versions, backend])


def code_of(fn: Callable) -> str:
    """A digest of the source file that defines `fn` (a model: mmmlab's own are in
    `environment` already; a caller's own model changes its key when its file changes)."""
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    path = getattr(module, "__file__", None)
    if path is None or not Path(path).is_file():
        return getattr(fn, "__qualname__", repr(fn))
    return _file_digest(str(Path(path).resolve()))


@cache
def _file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def directory() -> Path | None:
    """Where exported programs are kept, or None where they are not (cache off, or no
    serializer)."""
    base = runtime.cache_dir()
    if base is None or importlib.util.find_spec("flatbuffers") is None:
        return None
    return base / "exported"


def load_or_export(
    name: str, key: Any, fn: Callable, *args: Any
) -> tuple[jax.export.Exported | None, bool]:
    """`fn` exported for `args` (arrays or shapes): read from disk when a process stored it
    under (`name`, `key`) before, else traced, lowered and stored. Returns it and whether it
    was read; None where nothing is kept (`directory`)."""
    folder = directory()
    if folder is None:
        return None, False
    digest = hashlib.sha256(f"{name}|{key}|{environment()}".encode()).hexdigest()[:32]
    path = folder / f"{name}-{digest}.bin"
    if path.exists():
        try:
            return jax.export.deserialize(bytearray(path.read_bytes())), True
        except Exception:  # noqa: BLE001  (a damaged file: export again over it)
            pass
    exported = jax.export.export(jax.jit(fn))(*args)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".tmp") as f:
            f.write(exported.serialize())
        os.replace(f.name, path)  # whole or not at all, even with processes side by side
    except OSError:
        pass  # a read-only cache: the program still serves this process
    return exported, False
