"""Run benchmark cells in worker processes and report each outcome as it happens.

`LocalExecutor` keeps long-lived ``spawn`` worker processes (JAX is not fork-safe), one cell at a
time each so a worker reuses its JAX compile cache; a single driver thread feeds them over pipes,
enforces timeouts and replaces dead workers. `ray_executor.RayExecutor` runs one Ray task per cell
(``pip install 'mmmlab[ray]'``). Both share ``run(tasks, worker_fn, on_start, on_outcome)``.

A cell never crashes the run: an exception, a timeout, a dead worker or a value that does not
pickle is a ``failed`` `Outcome` with an error text. Ctrl-C stops every worker, reports nothing
more and re-raises `KeyboardInterrupt`, so the caller's store holds only finished cells.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import pickle
import re
import runpy
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Literal, NamedTuple

__all__ = ["LocalExecutor", "Outcome", "Task", "make_executor", "resolve"]

EXECUTOR_KINDS = ("local", "ray")
_POLL_S = 1.0  # longest driver wait between checks of timeouts
_MEMORY_POLL_S = 0.5  # ... and between checks of workers' memory, under a memory budget
_STOP_GRACE_S = 3.0  # how long idle workers get to exit on their own at the end of a run
_MAX_BOOT_FAILURES = 3  # workers ending before they are ready, in a row, before the run gives up
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_WORKER_RUN_NAME = "__mmmlab_local_worker__"


class Task(NamedTuple):
    """One cell to run.

    Attributes
    ----------
    name : str
        The cell's canonical name; its `Outcome` carries the same name.
    payload : Any
        The one argument given to the worker function; it must pickle.
    """

    name: str
    payload: Any


class Outcome(NamedTuple):
    """What became of one task.

    Attributes
    ----------
    name : str
        The task's name.
    status : {'done', 'failed'}
        ``done`` when the worker function returned, ``failed`` otherwise.
    result : Any
        The worker function's return value when done; None when failed.
    error : str
        Empty when done; else the exception's formatted traceback, ``timed out after N s``, or
        ``worker process died (exit code X / signal NAME) while running this cell``.
    seconds : float
        Wall time from handing the task to a worker (Ray: submitting it) to its outcome.
    worker : str
        ``local-N`` (the N-th worker process of the run) or ``ray-<node>-pid<pid>`` (``ray``
        when the task failed before saying where it ran).
    """

    name: str
    status: Literal["done", "failed"]
    result: Any
    error: str
    seconds: float
    worker: str


StartFn = Callable[[str, str], None]
OutcomeFn = Callable[[Outcome], None]


def resolve(path: str) -> Callable[[Any], Any]:
    """Import the worker function named by ``"package.module:function"``.

    Raises
    ------
    ValueError
        Naming the path, when it is malformed, its module does not import or it names no
        callable.
    """
    module_name, attr = _split_path(path)
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(
            f"worker function {path!r}: module {module_name!r} does not import ({err})"
        ) from err
    for part in attr.split("."):
        target = getattr(target, part, None)
    if not callable(target):
        raise ValueError(f"worker function {path!r}: {module_name} has no callable {attr!r}")
    return target


def _split_path(path: str) -> tuple[str, str]:
    module_name, sep, attr = str(path).partition(":")
    if not (sep and module_name and attr):
        raise ValueError(f"worker function {path!r} is not of the form 'package.module:function'")
    return module_name, attr


def _death_text(exitcode: int | None) -> str:
    how = f"exit code {exitcode}"
    if exitcode is not None and exitcode < 0:
        with contextlib.suppress(ValueError):
            how = f"signal {signal.Signals(-exitcode).name}"
    return f"worker process died ({how}) while running this cell"


class _Job:
    """The tasks of one run, their outcomes so far and the caller's callbacks."""

    def __init__(
        self,
        tasks: list[Task],
        worker_fn: str,
        on_start: StartFn | None,
        on_outcome: OutcomeFn | None,
    ) -> None:
        self.tasks, self.worker_fn = tasks, worker_fn
        self.on_start, self.on_outcome = on_start, on_outcome
        self.pending: deque[int] = deque(range(len(tasks)))
        self.outcomes: list[Outcome | None] = [None] * len(tasks)

    def started(self, index: int, worker: str) -> None:
        if self.on_start is not None:
            self.on_start(self.tasks[index].name, worker)

    def report(self, index: int, status: str, value: Any, seconds: float, worker: str) -> None:
        """Record a task's outcome; ``value`` is its result when done, else the error text."""
        name = self.tasks[index].name
        if status == "done":
            outcome = Outcome(name, "done", value, "", seconds, worker)
        else:
            outcome = Outcome(name, "failed", None, str(value), seconds, worker)
        self.outcomes[index] = outcome
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def results(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome is not None]


def _worker_main(conn: Connection, worker_fn: str) -> None:
    """Serve payloads from the driver until it sends None or goes away (runs in the worker).

    The worker imports ``worker_fn`` (and so mmmlab and JAX) before it says it is ready, so the
    import does not count against its first task's time.
    """
    # The driver owns Ctrl-C and stops the workers itself; a terminal's SIGINT to the whole
    # process group must not turn the running cell into a spurious failure.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_driver()
    try:
        function, import_error = resolve(worker_fn), ""
    except BaseException:  # noqa: BLE001  (every task then fails with this traceback)
        function, import_error = None, traceback.format_exc()
    conn.send_bytes(pickle.dumps(("ready", None)))
    while True:
        try:
            request = conn.recv_bytes()
        except (EOFError, OSError):
            return  # the driver is gone
        try:
            message = pickle.loads(request)
            if message is None:
                return
            if function is None:
                raise RuntimeError(f"{worker_fn} did not import in the worker:\n{import_error}")
            reply = ("done", function(message[0]))
        except BaseException:  # noqa: BLE001  (SystemExit in a cell is that cell's failure)
            reply = ("failed", traceback.format_exc())
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:  # noqa: BLE001
            data = pickle.dumps(
                ("failed", f"the result could not be pickled:\n{traceback.format_exc()}")
            )
        conn.send_bytes(data)


def _exit_with_driver() -> None:
    """End this worker when the driver process dies, even mid-cell, so no orphan keeps running."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])  # readable once the driver's end of the spawn pipe closes
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-driver", daemon=True).start()


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
        self.n_workers = _check_count(n_workers) or os.cpu_count() or 1
        self.timeout_s = _check_timeout(timeout_s)
        self.memory_gb = _check_positive(memory_gb, "memory_gb", "GiB")
        self.env = _check_env(env)

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
        resolve(worker_fn)
        return _LocalRun(self, _Job(tasks, worker_fn, on_start, on_outcome)).run()


class _LocalRun:
    """The driver loop of one `LocalExecutor.run` (single-threaded)."""

    def __init__(self, executor: LocalExecutor, job: _Job) -> None:
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
                args=(__file__,),
                kwargs={"init_globals": init, "run_name": _WORKER_RUN_NAME},
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
        wait_s = _POLL_S if self.executor.memory_gb is None else _MEMORY_POLL_S
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
        if budget is not None:  # imported here: a worker process runs this file without mmmlab
            from mmmlab.bench.resources import GIB, budget_text, tree_rss
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


def make_executor(
    kind: str,
    n_workers: int | None = None,
    timeout_s: float | None = None,
    address: str | None = None,
    env: dict[str, str] | None = None,
    memory_gb: float | None = None,
) -> LocalExecutor | Any:
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
        from mmmlab.bench.ray_executor import RayExecutor

        return RayExecutor(address=address, timeout_s=timeout_s, env=env, n_workers=n_workers)
    raise ValueError(f"unknown executor {kind!r}; choose one of: {', '.join(EXECUTOR_KINDS)}")


def _check_count(n_workers: int | None) -> int | None:
    if n_workers is not None and (
        isinstance(n_workers, bool) or int(n_workers) != n_workers or n_workers < 1
    ):
        raise ValueError(f"n_workers must be a whole number of at least 1, got {n_workers!r}")
    return None if n_workers is None else int(n_workers)


def _check_timeout(timeout_s: float | None) -> float | None:
    return _check_positive(timeout_s, "timeout_s", "seconds")


def _check_positive(value: float | None, name: str, unit: str) -> float | None:
    if value is not None and not value > 0:
        raise ValueError(f"{name} must be positive {unit} or None, got {value!r}")
    return None if value is None else float(value)


def _check_env(env: dict[str, str] | None) -> dict[str, str]:
    env = dict(env or {})
    for key, value in env.items():
        if not (isinstance(key, str) and isinstance(value, str)):
            raise ValueError(f"env must map str to str; {key!r}: {value!r} is not")
    return env


if __name__ == _WORKER_RUN_NAME:
    # A local worker process. `_LocalRun._refill` runs this file with `runpy.run_path` rather than
    # importing it, so that a worker imports the standard library and then only what `worker_fn`
    # needs: ``import mmmlab.bench.executors`` would first import all of mmmlab and JAX.
    _worker_main(_DRIVER_CONN, _WORKER_FN)  # noqa: F821  (given by run_path's init_globals)
