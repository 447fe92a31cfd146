"""The local executor: long-lived ``spawn`` worker processes on this machine (JAX is not
fork-safe), one cell at a time each so a worker reuses its JAX compile cache. A single driver
thread feeds them over pipes, enforces timeouts and the memory budget, and replaces dead
workers. It implements the contract of `executor.Executor`; each worker runs `worker.py`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import runpy
import signal
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from mmmlab.bench.run import worker as worker_file
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
from mmmlab.bench.run.resources import GIB, budget_text, tree_rss

_MEMORY_POLL_S = 0.5  # longest driver wait between checks of workers' memory, under a budget
_STOP_GRACE_S = 3.0  # how long idle workers get to exit on their own at the end of a run
_MAX_BOOT_FAILURES = 3  # workers ending before they are ready, in a row, before the run gives up


def _death_text(exitcode: int | None) -> str:
    how = f"exit code {exitcode}"
    if exitcode is not None and exitcode < 0:
        with contextlib.suppress(ValueError):
            how = f"signal {signal.Signals(-exitcode).name}"
    return f"worker process died ({how}) while running this cell"


_ENVIRON_LOCK = threading.Lock()


@contextlib.contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    """Set ``env`` in this process for the duration, so a process spawned inside inherits it.

    A spawned worker re-imports the driver's ``__main__`` script (for the ``mmmlab`` command:
    all of mmmlab and JAX) before any code of ours runs in it, and mmmlab reads ``XLA_FLAGS``
    and ``MMMLAB_CACHE_DIR`` on import: only an environment present when the process starts
    reaches the worker before its first import.
    """
    with _ENVIRON_LOCK:
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _stop(processes: Sequence[BaseProcess], grace_s: float) -> None:
    """Give processes ``grace_s`` to exit, then SIGTERM, then SIGKILL (works inside C code)."""
    started = [p for p in processes if p.pid is not None]
    deadline = time.monotonic() + grace_s
    for process in started:
        process.join(max(0.0, deadline - time.monotonic()))
    for method, wait_s in (("terminate", 1.0), ("kill", 5.0)):
        alive = [p for p in started if p.exitcode is None]
        for process in alive:
            getattr(process, method)()
        deadline = time.monotonic() + wait_s
        for process in alive:
            process.join(max(0.0, deadline - time.monotonic()))


@dataclass(eq=False)
class _Worker:
    """A worker process and the task it runs (driver-side, mutable)."""

    ident: str
    process: BaseProcess
    conn: Connection
    ready: bool = False
    index: int | None = None
    started: float = 0.0


class LocalExecutor:
    """Run tasks in long-lived ``spawn`` worker processes on this machine.

    Parameters
    ----------
    n_workers : int, optional
        Worker processes at most (capped at the number of tasks); default ``os.cpu_count()``.
    timeout_s : float, optional
        Per-task wall-clock limit, counted from the moment a ready worker gets the task. A worker
        over it is killed, even inside C code; a fresh worker takes the next task.
    env : dict of str to str, optional
        Environment variables each worker has from its start, before it imports anything
        (e.g. ``XLA_FLAGS`` for one JAX device per worker, ``MMMLAB_CACHE_DIR``).
    memory_gb : float, optional
        Per-task memory budget (GiB) over the worker's whole process tree, checked every half
        second: a worker over it is killed and its task fails, saying how much it held.

    Notes
    -----
    Spawned workers import the driver's ``__main__`` script again: a script that runs an
    executor keeps that work under ``if __name__ == "__main__":``.
    """

    def __init__(
        self,
        n_workers: int | None = None,
        timeout_s: float | None = None,
        env: dict[str, str] | None = None,
        memory_gb: float | None = None,
    ) -> None:
        self.n_workers = check_workers(n_workers) or os.cpu_count() or 1
        self.timeout_s = check_positive(timeout_s, "timeout_s", "seconds")
        self.memory_gb = check_positive(memory_gb, "memory_gb", "GiB")
        self.env = check_env(env)

    def run(
        self,
        tasks: Sequence[Task],
        worker_fn: str,
        on_start: StartFn | None = None,
        on_outcome: OutcomeFn | None = None,
    ) -> list[Outcome]:
        """Run every task; return one `Outcome` per task, in the order of ``tasks``.

        Parameters
        ----------
        tasks : sequence of Task
            The cells to run.
        worker_fn : str
            ``"package.module:function"``, called as ``function(task.payload)`` in a worker.
        on_start : callable, optional
            ``on_start(name, worker_id)`` as a task is handed to a worker.
        on_outcome : callable, optional
            ``on_outcome(outcome)`` as each task finishes, not at the end of the run.

        Raises
        ------
        ValueError
            When ``worker_fn`` does not resolve (checked once, before any worker starts).
        KeyboardInterrupt
            Re-raised once every worker is stopped; tasks in flight are not reported.
        """
        tasks = list(tasks)
        if not tasks:
            return []
        worker_file.resolve(worker_fn)
        return _LocalRun(self, TaskQueue(tasks, worker_fn, on_start, on_outcome)).run()


class _LocalRun:
    """The driver loop of one `LocalExecutor.run` (single-threaded)."""

    def __init__(self, executor: LocalExecutor, job: TaskQueue) -> None:
        self.executor, self.job = executor, job
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []
        self.n_started = 0
        self.boot_failures = 0

    def run(self) -> list[Outcome]:
        finished = False
        try:
            self._refill()
            while self.job.pending or any(w.index is not None for w in self.workers):
                self._assign()
                self._step()
            finished = True
        finally:  # on Ctrl-C or any error: kill at once; a worker missed here exits with us
            for worker in self.workers if finished else ():
                with contextlib.suppress(OSError):
                    worker.conn.send_bytes(pickle.dumps(None))
            _stop([w.process for w in self.workers], _STOP_GRACE_S if finished else 0.0)
            for worker in self.workers:
                worker.conn.close()
        return self.job.results()

    def _refill(self) -> None:
        """Start workers until there is one per task left, up to ``n_workers``."""
        busy = sum(w.index is not None for w in self.workers)
        while len(self.workers) < min(self.executor.n_workers, busy + len(self.job.pending)):
            self.n_started += 1
            ident = f"local-{self.n_started}"
            ours, theirs = self.context.Pipe(duplex=True)
            init = {"_DRIVER_CONN": theirs, "_WORKER_FN": self.job.worker_fn}
            process = self.context.Process(
                target=runpy.run_path,
                args=(worker_file.__file__,),
                kwargs={"init_globals": init, "run_name": worker_file.RUN_NAME},
                name=ident,
            )
            self.workers.append(_Worker(ident, process, ours))
            with _environ(self.executor.env):
                process.start()
            theirs.close()  # so that a dead worker reads as EOF here

    def _assign(self) -> None:
        pending = self.job.pending
        for worker in self.workers:
            while pending and worker.ready and worker.index is None:
                index = pending.popleft()
                payload = self.job.tasks[index].payload
                try:
                    data = pickle.dumps((payload,), pickle.HIGHEST_PROTOCOL)
                except Exception:  # noqa: BLE001  (any pickling error is this task's failure)
                    error = f"the payload could not be pickled:\n{traceback.format_exc()}"
                    self.job.report(index, "failed", error, 0.0, worker.ident)
                    continue
                try:
                    worker.conn.send_bytes(data)
                except OSError:  # it died while idle; its sentinel will say so
                    pending.appendleft(index)
                    worker.ready = False
                    break
                worker.index, worker.started = index, time.monotonic()
                self.job.started(index, worker.ident)

    def _step(self) -> None:
        """Wait for a message, a dead worker or the next deadline, and handle what came."""
        timeout_s = self.executor.timeout_s
        busy = [w for w in self.workers if w.index is not None]
        wait_s = POLL_S if self.executor.memory_gb is None else _MEMORY_POLL_S
        if timeout_s is not None and busy:
            first = min(w.started for w in busy)
            wait_s = min(wait_s, max(0.0, first + timeout_s - time.monotonic()))
        by_conn = {w.conn: w for w in self.workers}
        by_sentinel = {w.process.sentinel: w for w in self.workers}
        ready = wait([*by_conn, *by_sentinel], wait_s)
        for item in ready:  # messages first: a worker may send its result, then end
            if item in by_conn and by_conn[item] in self.workers:
                self._receive(by_conn[item])
        for item in ready:
            if item in by_sentinel and by_sentinel[item] in self.workers:
                self._bury(by_sentinel[item])
        for worker in list(self.workers) if timeout_s is not None else ():
            if worker.index is not None and time.monotonic() - worker.started >= timeout_s:
                self._expire(worker, f"timed out after {timeout_s:g} s")
        budget = self.executor.memory_gb
        for worker in list(self.workers) if budget is not None else ():
            if worker.index is not None and worker.process.pid is not None:
                used = tree_rss(worker.process.pid) / GIB
                if used > budget:
                    self._expire(worker, budget_text(used, budget))

    def _receive(self, worker: _Worker) -> None:
        try:
            data = worker.conn.recv_bytes()
        except (EOFError, OSError):
            self._bury(worker)
        else:
            self._handle(worker, data)

    def _handle(self, worker: _Worker, data: bytes) -> None:
        try:
            status, value = pickle.loads(data)
        except Exception:  # noqa: BLE001
            status, value = "failed", f"result could not be unpickled:\n{traceback.format_exc()}"
        if status == "ready":
            worker.ready = True
            self.boot_failures = 0
        elif worker.index is not None:
            index, worker.index = worker.index, None
            seconds = time.monotonic() - worker.started
            self.job.report(index, status, value, seconds, worker.ident)

    def _bury(self, worker: _Worker) -> None:
        """Handle a worker whose process ended: fail its task, start a replacement."""
        with contextlib.suppress(EOFError, OSError):
            while worker.index is not None and worker.conn.poll():
                self._handle(worker, worker.conn.recv_bytes())  # sent just before it ended
        self._discard(worker, grace_s=2.0)  # it is ending: let it, to read its exit code
        exitcode = worker.process.exitcode
        if worker.index is not None:
            seconds = time.monotonic() - worker.started
            self.job.report(worker.index, "failed", _death_text(exitcode), seconds, worker.ident)
        elif not worker.ready:
            self.boot_failures += 1
            if self.boot_failures >= _MAX_BOOT_FAILURES:
                raise RuntimeError(
                    f"worker processes keep ending before they are ready (exit code {exitcode}); "
                    "see their traceback above. A script that runs an executor needs the "
                    "`if __name__ == '__main__':` guard, as spawned workers import it again"
                )
        self._refill()

    def _expire(self, worker: _Worker, error: str) -> None:
        """Kill a worker whose task ran past its time or memory budget; fail the task with
        `error`, start a replacement."""
        if worker.conn.poll():  # it finished, or died, just in time
            self._receive(worker)
            if worker.index is None or worker not in self.workers:
                return
        self._discard(worker, grace_s=0.0)
        seconds = time.monotonic() - worker.started
        self.job.report(worker.index, "failed", error, seconds, worker.ident)
        self._refill()

    def _discard(self, worker: _Worker, grace_s: float) -> None:
        self.workers.remove(worker)
        _stop([worker.process], grace_s)
        worker.conn.close()
