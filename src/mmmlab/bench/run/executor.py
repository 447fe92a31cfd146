"""The executor contract: what runs benchmark cells, and the values it takes and gives.

An `Executor` runs `Task`s with a worker function named ``"package.module:function"``, calls
``on_start(name, worker)`` as each task starts and ``on_outcome(outcome)`` as each ends, and
returns one `Outcome` per task in task order. A task never crashes the run: an exception, a
timeout, a dead worker or a value that does not pickle is a ``failed`` outcome with its error
text. Ctrl-C stops every worker, reports nothing more and re-raises `KeyboardInterrupt`, so the
caller's store holds only finished cells. `local.LocalExecutor` and `ray_executor.RayExecutor`
implement it; `executors.make_executor` builds one by name.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple, Protocol

POLL_S = 1.0  # longest wait of a driver loop between checks of timeouts


class Task(NamedTuple):
    """One cell to run.

    name : the cell's canonical name; its `Outcome` carries the same name
    payload : the one argument given to the worker function; it must pickle
    """

    name: str
    payload: Any


class Outcome(NamedTuple):
    """What became of one task.

    name : the task's name
    status : ``done`` when the worker function returned, ``failed`` otherwise
    result : the worker function's return value when done; None when failed
    error : empty when done; else the exception's formatted traceback, ``timed out after N s``,
        or ``worker process died (exit code X / signal NAME) while running this cell``
    seconds : wall time from handing the task to a worker (Ray: submitting it) to its outcome
    worker : ``local-N`` (the N-th worker process of the run) or ``ray-<node>-pid<pid>``
        (``ray`` when the task failed before saying where it ran)
    """

    name: str
    status: Literal["done", "failed"]
    result: Any
    error: str
    seconds: float
    worker: str


StartFn = Callable[[str, str], None]
OutcomeFn = Callable[[Outcome], None]


class Executor(Protocol):
    """Runs tasks in worker processes (see the module docstring for the contract)."""

    def run(
        self,
        tasks: Sequence[Task],
        worker_fn: str,
        on_start: StartFn | None = None,
        on_outcome: OutcomeFn | None = None,
    ) -> list[Outcome]:
        """Run every task; one `Outcome` per task, in the order of ``tasks``."""
        ...


class TaskQueue:
    """The tasks of one run, their outcomes so far and the caller's callbacks: what an
    executor hands out (`pending`, by index) and reports back (`started`, `report`)."""

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


def check_workers(n_workers: int | None) -> int | None:
    """`n_workers` as an int, or None; ValueError unless a whole number of at least 1."""
    if n_workers is not None and (
        isinstance(n_workers, bool) or int(n_workers) != n_workers or n_workers < 1
    ):
        raise ValueError(f"n_workers must be a whole number of at least 1, got {n_workers!r}")
    return None if n_workers is None else int(n_workers)


def check_positive(value: float | None, name: str, unit: str) -> float | None:
    """`value` as a float, or None; ValueError naming `name` unless positive."""
    if value is not None and not value > 0:
        raise ValueError(f"{name} must be positive {unit} or None, got {value!r}")
    return None if value is None else float(value)


def check_env(env: dict[str, str] | None) -> dict[str, str]:
    """A copy of `env`; ValueError unless it maps str to str."""
    env = dict(env or {})
    for key, value in env.items():
        if not (isinstance(key, str) and isinstance(value, str)):
            raise ValueError(f"env must map str to str; {key!r}: {value!r} is not")
    return env
