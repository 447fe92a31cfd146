"""A local worker process: import the worker function, then serve the driver's tasks.

`local.LocalExecutor` starts each worker with ``runpy.run_path`` on this file rather than an
import of the package, so a worker imports the standard library and then only what its worker
function needs (``import mmmlab.bench...`` would first import all of mmmlab and JAX). Keep this
file to the standard library alone: a test reads its imports.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import pickle
import signal
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

RUN_NAME = "__mmmlab_local_worker__"  # the module name a worker runs this file under


def resolve(path: str) -> Callable[[Any], Any]:
    """Import the worker function named by ``"package.module:function"``.

    Raises
    ------
    ValueError
        Naming the path, when it is malformed, its module does not import or it names no
        callable.
    """
    module_name, attr = split_path(path)
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


def split_path(path: str) -> tuple[str, str]:
    """(module, attribute) of ``"package.module:function"``; ValueError when malformed."""
    module_name, sep, attr = str(path).partition(":")
    if not (sep and module_name and attr):
        raise ValueError(f"worker function {path!r} is not of the form 'package.module:function'")
    return module_name, attr


def serve(conn: Connection, worker_fn: str) -> None:
    """Serve payloads from the driver until it sends None or goes away.

    The worker imports ``worker_fn`` (and so mmmlab and JAX) before it says it is ready, so the
    import does not count against its first task's time. Each reply is ``("done", result)`` or
    ``("failed", traceback text)``.
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


if __name__ == RUN_NAME:
    # A local worker process: `local.LocalExecutor` runs this file with these two globals.
    serve(_DRIVER_CONN, _WORKER_FN)  # noqa: F821  (given by run_path's init_globals)
