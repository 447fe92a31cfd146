"""Toy worker functions for the executor tests, importable by dotted path ``bench_tasks:act``.

Each task's payload is ``(action, argument)``, so one run can mix successes and every kind of
failure a real cell can have.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

# The environment as this module was imported: a worker's env must be in place before then.
ENV_AT_IMPORT = dict(os.environ)
if "BENCH_TASKS_EXIT_ON_IMPORT" in ENV_AT_IMPORT:  # a worker that dies before it is ready
    os._exit(int(ENV_AT_IMPORT["BENCH_TASKS_EXIT_ON_IMPORT"]))


def _sleep_then_return(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def _raise(message: str) -> None:
    raise ValueError(message)


def _write_pid_and_sleep(arg: tuple[str, float]) -> None:
    path, seconds = arg
    Path(path).write_text(str(os.getpid()))
    time.sleep(seconds)


def _hold(arg: tuple[int, float]) -> int:
    """Keep `n_bytes` resident (written, so every page counts) for `seconds`."""
    n_bytes, seconds = arg
    block = b"\x01" * n_bytes
    time.sleep(seconds)
    return len(block)


ACTIONS = {
    "return": lambda arg: arg,
    "raise": _raise,
    "sleep": _sleep_then_return,
    "exit": os._exit,
    "sigkill": lambda arg: os.kill(os.getpid(), signal.SIGKILL),
    "pid": lambda arg: os.getpid(),
    "env": lambda arg: os.environ.get(arg),
    "env_at_import": lambda arg: ENV_AT_IMPORT.get(arg),
    "allocate": lambda n_bytes: len(bytearray(n_bytes)),
    "hold": _hold,
    "unpicklable": lambda arg: threading.Lock(),
    "pid_file_sleep": _write_pid_and_sleep,
}


def ctrl_c_as_in_a_terminal() -> None:
    """In a child before exec: SIGINT to its default, so Python raises KeyboardInterrupt even
    when the tests run as a background job (a shell starts those with SIGINT ignored, and an
    ignored signal stays ignored through exec)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def act(payload: tuple[str, Any]) -> Any:
    """Do ``ACTIONS[action](argument)`` for ``payload = (action, argument)``."""
    action, argument = payload
    return ACTIONS[action](argument)
