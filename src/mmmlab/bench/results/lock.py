"""One writer per run directory: ``run.lock``, held by the process that writes the store.

The holder keeps an OS lock (``flock``) on the file and writes its pid, host, start time and
command in it. The OS drops the lock when the process ends, however it ends, so a lock file
whose lock nobody holds was left by a run that died: the next run takes it over with a note.
A run that finds the lock held stops and names the holder. Monitors (`bench status`,
`summary`, `export`, `report`) read the store without the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE = "run.lock"


class RunDirectoryHeld(ValueError):
    """Another live process holds the run directory; the message names it."""


@contextlib.contextmanager
def hold(run_dir: str | Path, on_note: Callable[[str], None] | None = None) -> Iterator[Path]:
    """Hold `run_dir` (created if missing) for as long as the block runs.

    Raises `RunDirectoryHeld` naming the holder when a live process holds it. A lock left by
    a process that ended is taken over, with ``on_note(text)`` naming it. The lock file is
    removed when the block ends: normally, on an error or on Ctrl-C.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirectoryHeld(f"{run_dir} is a file, not a run directory; pass another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    fd = _acquire(path, on_note)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # before the lock goes: a waiting process then finds no stale file
        os.close(fd)


def _acquire(path: Path, on_note: Callable[[str], None] | None) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(_read(fd))
            os.close(fd)
            run_dir = path.parent
            raise RunDirectoryHeld(
                f"run directory {run_dir} is in use by another run ({holder}); wait for it to "
                f"finish or stop it, or pass another --out. `mmmlab bench status {run_dir}` "
                "shows its progress meanwhile"
            ) from None
        with contextlib.suppress(FileNotFoundError):
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break  # else the holder removed the file as we opened it: open the new one
        os.close(fd)
    left = _read(fd)
    if left is not None and on_note:
        on_note(
            f"{path}: the run recorded there ({_describe(left)}) ended without releasing it; "
            "this run takes it over"
        )
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
    return fd


def _read(fd: int) -> dict | None:
    """The holder's record in the lock file, None when empty; {} when unreadable."""
    text = os.pread(fd, 4096, 0).decode(errors="replace").strip()
    if not text:
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return record if isinstance(record, dict) else {}


def _describe(record: dict | None) -> str:
    if not record:
        return "its details are not written yet" if record is None else "no details readable"
    what = f"pid {record.get('pid')} on host {record.get('host')}"
    if record.get("started"):
        what += f", since {record['started']}"
    if record.get("command"):
        what += f": {record['command']}"
    return what
