"""JAX's own count of tracing and compiling, read through `jax.monitoring`'s events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import jax

EVENTS = {
    "/jax/core/compile/jaxpr_trace_duration": "traced",
    "/jax/core/compile/backend_compile_duration": "compiled",
}


@contextmanager
def compile_events() -> Iterator[Counter]:
    """Count, while the block runs, the functions JAX traces to a jaxpr ("traced") and the
    programs XLA compiles or loads from the disk cache ("compiled")."""
    counts: Counter = Counter()

    def listen(event: str, duration: float, **kwargs: object) -> None:
        if event in EVENTS:
            counts[EVENTS[event]] += 1

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield counts
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
