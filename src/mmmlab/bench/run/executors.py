"""The executors by name: ``local`` worker processes or ``ray`` tasks (`executor.Executor`)."""

from __future__ import annotations

from mmmlab.bench.run.executor import Executor
from mmmlab.bench.run.local import LocalExecutor

EXECUTOR_KINDS = ("local", "ray")


def make_executor(
    kind: str,
    n_workers: int | None = None,
    timeout_s: float | None = None,
    address: str | None = None,
    env: dict[str, str] | None = None,
    memory_gb: float | None = None,
) -> Executor:
    """Build the executor named ``kind``: ``'local'`` processes or ``'ray'``.

    ``n_workers`` is the local worker processes, or Ray's tasks in flight at most; ``address``
    is Ray's cluster (None starts a local instance) and an error for the local executor.
    ``memory_gb`` is the local executor's per-task memory budget (Ray has its own monitor).

    Raises
    ------
    ValueError
        For an unknown kind, listing the choices, or an address given to the local executor.
    """
    if kind == "local":
        if address is not None:
            raise ValueError(
                f"address {address!r} is for the ray executor; the local executor runs on this "
                "machine (use the ray executor to connect to a cluster)"
            )
        return LocalExecutor(n_workers=n_workers, timeout_s=timeout_s, env=env, memory_gb=memory_gb)
    if kind == "ray":
        from mmmlab.bench.run.ray_executor import RayExecutor  # Ray is an optional extra

        return RayExecutor(address=address, timeout_s=timeout_s, env=env, n_workers=n_workers)
    raise ValueError(f"unknown executor {kind!r}; choose one of: {', '.join(EXECUTOR_KINDS)}")
