"""Run a cell under another Python interpreter: a peer library's own environment.

PyMC-Marketing and Meridian pin versions that cannot share one environment with each other
(Meridian needs ArviZ < 0.20 and pandas < 3) or with `make test`'s, so each lives in
``.venv-EXTRA`` (``make .venv-pymc/.installed``). A benchmark run from any environment fits a
peer's cells with that environment's interpreter, in a child process of the worker: the job
goes in as a pickle file, the result comes back as one. The child ends with its worker, so the
driver's time and memory budgets reach it too.

`peer_python(backend)` says which interpreter, in this order: ``MMMLAB_PYTHON_<EXTRA>`` (e.g.
``MMMLAB_PYTHON_PYMC``; ``none`` means this process); this process when the library imports
here; ``.venv-<extra>/bin/python`` in the working directory or the mmmlab checkout; else this
process, where the cell is skipped with the install hint.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path

from mmmlab.backends import capabilities
from mmmlab.bench.run.job import CellJob, CellResult

_ERROR_TAIL = 4000  # characters of a failed child's stderr kept in the cell's error
_PR_SET_PDEATHSIG = 1


def peer_python(backend: str) -> str | None:
    """The interpreter to fit `backend`'s cells with, or None for this process: a backend
    runs elsewhere when its `Capabilities` name an `Environment`."""
    environment = capabilities(backend).environment
    if environment is None:
        return None
    extra, module = environment.extra, environment.module
    given = os.environ.get(f"MMMLAB_PYTHON_{extra.upper()}")
    if given:
        return None if given == "none" else given
    if importlib.util.find_spec(module) is not None:
        return None
    checkout = Path(__file__).resolve().parents[4]  # src/mmmlab/bench/run/ -> the checkout
    for root in (Path.cwd(), checkout):
        candidate = root / f".venv-{extra}" / "bin" / "python"
        if candidate.exists():
            return str(candidate)
    return None


def run_isolated(job: CellJob) -> CellResult:
    """Run `job` with ``job.python``; return what `run_cell` returns.

    Raises RuntimeError with the child's traceback (or its stderr's end) when the cell failed.
    """
    python = job.python
    with tempfile.TemporaryDirectory(prefix="mmmlab-cell-") as tmp:
        src, dst = Path(tmp) / "job.pkl", Path(tmp) / "result.pkl"
        src.write_bytes(pickle.dumps(replace(job, python=None)))
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        env.pop("VIRTUAL_ENV", None)
        try:
            proc = subprocess.run(
                [python, "-m", "mmmlab.bench.run.isolated", str(src), str(dst)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                preexec_fn=_die_with_parent,
            )
        except OSError as err:
            raise RuntimeError(
                f"cannot start the interpreter {python} for backend {job.cell.backend!r}: "
                f"{err}; rebuild its environment (e.g. make .venv-pymc/.installed)"
            ) from err
        if not dst.exists():
            raise RuntimeError(
                f"the cell's interpreter {python} ended with exit code {proc.returncode} "
                f"before it wrote a result; its stderr ends:\n{proc.stderr[-_ERROR_TAIL:]}"
            )
        status, value = pickle.loads(dst.read_bytes())
    if status == "failed":
        raise RuntimeError(f"the cell failed under {python}:\n{value}")
    return value


def _die_with_parent() -> None:
    """In the child, before exec: get SIGKILL when the worker dies (Linux; elsewhere the
    child's watcher thread notices)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _watch_parent() -> None:
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-worker", daemon=True).start()


def main(src: str, dst: str) -> None:
    """The child: run the cell in `src` here, write ("done", result) or ("failed", text)."""
    _watch_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver owns Ctrl-C
    try:
        from mmmlab.bench.run.fit_cell import run_here

        reply = ("done", run_here(pickle.loads(Path(src).read_bytes())))
    except BaseException:  # noqa: BLE001  (the parent raises it as this cell's failure)
        reply = ("failed", traceback.format_exc())
    Path(dst).write_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    main(*sys.argv[1:3])
