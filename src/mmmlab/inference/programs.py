"""The compile cache: every compiled program of this process, by what it computes and the
shapes it was compiled for.

Data enter compiled programs as arguments, never as constants, so one program serves every
dataset of its shapes: a second fit of the same shape finds its programs here and neither
traces nor compiles. Across processes, JAX's persistent cache on disk (`mmmlab.runtime`)
keeps the executables, so a new process traces but does not compile again.

Each executable in memory holds a few memory maps of its own, and Linux stops a process at
``vm.max_map_count`` of them (65,530 by default) with "Cannot allocate memory" in the next
compile. So before it builds a program, the cache looks at the maps this process holds
(`ProgramCache.release_if_crowded`): past half the limit, as a long-lived process that fits many
shapes reaches (a benchmark worker, a test worker, a service), every compiled program is
dropped, and the next use traces again and reads the disk cache.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import jax
import numpy as np


def shape_key(tree: Any) -> tuple:
    """A hashable key of a pytree's structure, leaf shapes and dtypes (not its values)."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return (str(treedef), tuple((np.shape(x), str(jax.numpy.asarray(x).dtype)) for x in leaves))


# XLA's fusion emitters take a third of the compile of a program that runs once per fit and
# costs milliseconds (a sampler's start search and init): for the national example's init,
# 4.7 -> 3.0 CPU s to compile, 21 -> 28 ms to run (benchmarks/first_fit.py: a cold
# `mmmlab fit --example` 12.0 -> 10.7 s). Optimisation level 0 as well compiled it in 1.2 s
# but ran it in 0.11 s, on every fit of a warm process too.
RUN_ONCE_COMPILE = {"xla_cpu_use_fusion_emitters": False}
RUN_ONCE_MAX_DATA = 50_000  # data elements up to which a run-once program compiles so


def run_once_options(args: Any) -> dict[str, Any] | None:
    """Compiler options for a program that runs once per fit on `args`: `RUN_ONCE_COMPILE`
    on a CPU for data of up to `RUN_ONCE_MAX_DATA` elements (larger models' starts run for
    seconds, where unfused code costs more than its compile saves), else None (XLA's own)."""
    size = sum(int(np.size(x)) for x in jax.tree_util.tree_leaves(args))
    if jax.default_backend() == "cpu" and size <= RUN_ONCE_MAX_DATA:
        return RUN_ONCE_COMPILE
    return None


class ProgramCache:
    """Compiled programs by key: (what, model structure, argument shapes, settings).
    crowded_at : the share of Linux's memory-map limit past which a build first frees every
    program (`release_if_crowded`)."""

    def __init__(self, crowded_at: float = 0.5) -> None:
        self._programs: dict[Hashable, Any] = {}
        self.crowded_at = crowded_at

    def get(self, key: Hashable, build: Callable[[], Any]) -> tuple[Any, bool]:
        """The program under `key`, built by `build()` on first use; and whether it was.
        A build first frees every program if the process is crowded (`release_if_crowded`)."""
        fresh = key not in self._programs
        if fresh:
            self.release_if_crowded()
            self._programs[key] = build()
        return self._programs[key], fresh

    def clear(self) -> None:
        """Forget every program (the next use traces again; the disk cache still serves)."""
        self._programs.clear()

    def release(self) -> None:
        """Forget every program, here and in JAX's own caches, and free their executables."""
        self.clear()
        jax.clear_caches()
        gc.collect()

    def release_if_crowded(self) -> bool:
        """`release` when this process holds more than `crowded_at` of the memory maps Linux
        allows it; whether it did (never where /proc does not tell)."""
        counts = memory_maps()
        if counts is None or counts[0] <= self.crowded_at * counts[1]:
            return False
        self.release()
        return True


def memory_maps() -> tuple[int, int] | None:
    """(memory maps this process holds, the most it may hold), or None off Linux."""
    try:
        with open("/proc/self/maps", "rb") as maps:
            held = maps.read().count(b"\n")
        limit = int(Path("/proc/sys/vm/max_map_count").read_text())
    except (OSError, ValueError):
        return None
    return held, limit


PROGRAMS = ProgramCache()
