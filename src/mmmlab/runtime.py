"""JAX process settings mmmlab relies on; imported first by `mmmlab/__init__.py`.

- One XLA host device per CPU core (so NUTS chains run in parallel), set only when JAX has
  not been imported yet and the user has not set the flag.
- float64 everywhere: NUTS energies and adstock sums are steadier in double precision.
- The persistent compilation cache on disk, so a new process reuses compiled samplers.
  ``MMMLAB_CACHE_DIR`` moves it; ``MMMLAB_CACHE_DIR=off`` turns it off.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

if "jax" not in sys.modules and "xla_force_host_platform_device_count" not in os.environ.get(
    "XLA_FLAGS", ""
):
    _cores = max(os.cpu_count() or 1, 2)
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={_cores}"
    ).strip()

import jax  # noqa: E402

# ArviZ 0.2x announces its 1.0 refactor on import; mmmlab pins ArviZ < 1, so the notice is noise.
warnings.filterwarnings("ignore", message="ArviZ is undergoing", category=FutureWarning)

jax.config.update("jax_enable_x64", True)


def cache_dir() -> Path | None:
    """Where compiled programs are kept between processes (None when turned off)."""
    raw = os.environ.get("MMMLAB_CACHE_DIR", "")
    if raw.lower() == "off":
        return None
    if raw:
        return Path(raw)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mmmlab" / "jax"


def _enable_compilation_cache() -> None:
    path = cache_dir()
    if path is None:
        return
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # a read-only home: compile in memory only
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


_enable_compilation_cache()
