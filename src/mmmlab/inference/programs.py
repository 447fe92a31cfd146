"""The compile cache: every compiled program of this process, by what it computes and the
shapes it was compiled for.

Data enter compiled programs as arguments, never as constants, so one program serves every
dataset of its shapes: a second fit of the same shape finds its programs here and neither
traces nor compiles. Across processes, JAX's persistent cache on disk (`mmmlab.runtime`)
keeps the executables, so a new process traces but does not compile again.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import jax
import numpy as np


def shape_key(tree: Any) -> tuple:
    """A hashable key of a pytree's structure, leaf shapes and dtypes (not its values)."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return (str(treedef), tuple((np.shape(x), str(jax.numpy.asarray(x).dtype)) for x in leaves))


class ProgramCache:
    """Compiled programs by key: (what, model structure, argument shapes, settings)."""

    def __init__(self) -> None:
        self._programs: dict[Hashable, Any] = {}

    def get(self, key: Hashable, build: Callable[[], Any]) -> tuple[Any, bool]:
        """The program under `key`, built by `build()` on first use; and whether it was."""
        fresh = key not in self._programs
        if fresh:
            self._programs[key] = build()
        return self._programs[key], fresh

    def clear(self) -> None:
        """Forget every program (the next use traces again; the disk cache still serves)."""
        self._programs.clear()


PROGRAMS = ProgramCache()
