"""The Ray executor: one Ray task per cell, on a local Ray instance or a cluster.

The contract of `executor.Executor`; Ray is an optional extra
(``pip install 'mmmlab[ray]'``) imported only when this executor runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import traceback
from collections.abc import Sequence
from typing import Any

from mmmlab.bench.run.executor import (
    POLL_S,
    Outcome,
    OutcomeFn,
    StartFn,
    Task,
    TaskQueue,
    check_env,
    check_positive,
    check_workers,
)
from mmmlab.bench.run.worker import resolve, split_path

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour codes in Ray's error texts


def _ray_cell(worker_fn: str, payload: Any) -> tuple[Any, str]:
    """Run one cell inside a Ray worker and say where it ran."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    return resolve(worker_fn)(payload), f"ray-{node[:8]}-pid{os.getpid()}"


def _ray_error_text(ray: Any, err: BaseException) -> str:
    text = _ANSI.sub("", str(err)).strip()
    if isinstance(err, ray.exceptions.RayTaskError):
        return text  # the remote traceback
    names = ("WorkerCrashedError", "NodeDiedError", "LocalRayletDiedError", "OutOfMemoryError")
    died = tuple(getattr(ray.exceptions, name) for name in names if hasattr(ray.exceptions, name))
    if isinstance(err, died):
        return f"worker process died ({type(err).__name__}) while running this cell: {text}"
    return f"{type(err).__name__}: {text}"


class RayExecutor:
    """Run each task as a Ray task, on a local Ray instance or a cluster.

    Parameters
    ----------
    address : str, optional
        None starts a local Ray instance with one CPU per core, unless Ray is already initialized
        in this process; ``"host:port"`` or ``"auto"`` connects to a running cluster.
    timeout_s : float, optional
        Per-task wall-clock limit from submission; a task over it is force-cancelled (its worker
        process is killed).
    num_cpus_per_task : float
        CPUs Ray reserves for each task.
    env : dict of str to str, optional
        Environment variables of the Ray worker processes (``runtime_env`` ``env_vars``).
    n_workers : int, optional
        Tasks in flight at most; default the cluster's CPUs over ``num_cpus_per_task``. Tasks
        are submitted no faster than they can start, so queueing does not eat into a timeout.
    """

    def __init__(
        self,
        address: str | None = None,
        timeout_s: float | None = None,
        num_cpus_per_task: float = 1,
        env: dict[str, str] | None = None,
        n_workers: int | None = None,
    ) -> None:
        if not num_cpus_per_task > 0:
            raise ValueError(f"num_cpus_per_task must be positive, got {num_cpus_per_task!r}")
        self.address, self.num_cpus_per_task = address, num_cpus_per_task
        self.timeout_s = check_positive(timeout_s, "timeout_s", "seconds")
        self.env = check_env(env)
        self.n_workers = check_workers(n_workers)

    def run(
        self,
        tasks: Sequence[Task],
        worker_fn: str,
        on_start: StartFn | None = None,
        on_outcome: OutcomeFn | None = None,
    ) -> list[Outcome]:
        """Run every task on Ray; the contract of `LocalExecutor.run`.

        ``on_start`` gets ``"ray"`` as the worker id: Ray picks the node. Ray is shut down at
        the end only when this call started (or connected) it.
        """
        tasks = list(tasks)
        if not tasks:
            return []
        split_path(worker_fn)
        try:
            import ray
        except ImportError as err:
            raise ImportError("the ray executor needs ray: pip install 'mmmlab[ray]'") from err
        started_here = not ray.is_initialized()
        if started_here and self.address:
            ray.init(address=self.address, log_to_driver=False, ignore_reinit_error=True)
        elif started_here:
            ray.init(
                num_cpus=os.cpu_count(),
                include_dashboard=False,
                log_to_driver=False,
                ignore_reinit_error=True,
            )
        try:
            return self._run(ray, TaskQueue(tasks, worker_fn, on_start, on_outcome))
        finally:
            if started_here:
                ray.shutdown()

    def _run(self, ray: Any, job: TaskQueue) -> list[Outcome]:
        options: dict[str, Any] = {"num_cpus": self.num_cpus_per_task, "max_retries": 0}
        if self.env:
            options["runtime_env"] = {"env_vars": dict(self.env)}
        remote = ray.remote(_ray_cell).options(**options)
        in_flight: dict[Any, tuple[int, float]] = {}  # ref -> (task index, submitted at)
        try:
            while job.pending or in_flight:
                capacity = self.n_workers or max(
                    1, int(ray.cluster_resources().get("CPU", 1) // self.num_cpus_per_task)
                )
                while job.pending and len(in_flight) < capacity:
                    index = job.pending.popleft()
                    try:
                        ref = remote.remote(job.worker_fn, job.tasks[index].payload)
                    except Exception:  # noqa: BLE001  (a payload Ray cannot serialize)
                        error = f"the payload could not be pickled:\n{traceback.format_exc()}"
                        job.report(index, "failed", error, 0.0, "ray")
                        continue
                    in_flight[ref] = (index, time.monotonic())
                    job.started(index, "ray")
                if not in_flight:
                    continue
                wait_s = POLL_S
                if self.timeout_s is not None:
                    first = min(submitted for _, submitted in in_flight.values())
                    wait_s = min(wait_s, max(0.0, first + self.timeout_s - time.monotonic()))
                for ref in ray.wait(list(in_flight), num_returns=1, timeout=wait_s)[0]:
                    index, submitted = in_flight.pop(ref)
                    seconds = time.monotonic() - submitted
                    try:
                        value, worker = ray.get(ref)
                    except Exception as err:  # noqa: BLE001
                        job.report(index, "failed", _ray_error_text(ray, err), seconds, "ray")
                    else:
                        job.report(index, "done", value, seconds, worker)
                for ref, (index, submitted) in list(in_flight.items()):
                    seconds = time.monotonic() - submitted
                    if self.timeout_s is not None and seconds >= self.timeout_s:
                        ray.cancel(ref, force=True)
                        del in_flight[ref]
                        error = f"timed out after {self.timeout_s:g} s"
                        job.report(index, "failed", error, seconds, "ray")
        except BaseException:  # Ctrl-C or a failing callback: stop what is in flight
            for ref in in_flight:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
            raise
        return job.results()
