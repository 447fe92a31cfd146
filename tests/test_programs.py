"""The compile cache gives back the memory maps of its executables."""

import jax
import jax.numpy as jnp
import pytest

from mmmlab.inference.programs import ProgramCache, memory_maps

N_PROGRAMS = 300


def _compile_many(cache: ProgramCache) -> None:
    for n in range(1, N_PROGRAMS + 1):
        program, _ = cache.get(("scaled sine", n), lambda: jax.jit(lambda v: jnp.sin(v) * 2))
        program(jnp.ones(n)).block_until_ready()


def test_release_frees_the_executables_memory_maps() -> None:
    cache = ProgramCache()
    before = memory_maps()
    assert before is not None and before[1] > 0, "this check needs Linux's /proc"
    _compile_many(cache)
    crowded = memory_maps()[0]
    assert crowded > before[0] + N_PROGRAMS  # each executable maps memory of its own
    cache.release()
    assert memory_maps()[0] < crowded - N_PROGRAMS
    program, fresh = cache.get(("scaled sine", 1), lambda: jax.jit(jnp.sin))
    assert fresh  # the cache forgot its programs


@pytest.mark.parametrize(("crowded_at", "released"), [(0.0, True), (1.0, False)])
def test_release_if_crowded_compares_the_maps_with_the_limit(crowded_at, released) -> None:
    cache = ProgramCache(crowded_at)
    cache.get("kept?", lambda: jax.jit(jnp.cos))
    assert cache.release_if_crowded() is released
    assert cache.get("kept?", lambda: jax.jit(jnp.cos))[1] is released


def test_a_build_in_a_crowded_process_frees_the_programs_first() -> None:
    cache = ProgramCache(crowded_at=0.0)  # any process is crowded
    cache.get("first", lambda: jax.jit(jnp.cos))
    cache.get("second", lambda: jax.jit(jnp.sin))
    assert cache.get("first", lambda: jax.jit(jnp.cos))[1]  # forgotten by the second build
