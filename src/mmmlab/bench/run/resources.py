"""The per-cell resource guard: how much memory a cell's process tree holds, its peak during
the cell, and an up-front estimate that skips a cell whose posterior outputs would not fit.

The driver enforces the budget (`executors.LocalExecutor(memory_gb=...)` kills a worker whose
process tree holds more and fails its cell with the figures); the worker measures the peak it
reports as the ``peak_memory_gb`` metric. Both read ``/proc`` (Linux); elsewhere the tree is the
process alone, read with `resource`, and the driver cannot see workers' memory.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
from pathlib import Path

GIB = 1024**3
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_PROC = Path("/proc")


def _children(pid: int) -> list[int]:
    """Direct children of `pid` (every thread's children file; a scan of /proc without it)."""
    task = _PROC / str(pid) / "task"
    try:
        found = []
        for tid in task.iterdir():
            text = (tid / "children").read_text()
            found += [int(x) for x in text.split()]
        return found
    except OSError:
        pass
    out = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _rss(pid: int) -> int:
    try:
        return int((_PROC / str(pid) / "statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(pid: int | None = None) -> int:
    """Resident bytes of process `pid` (default: this one) and all its descendants."""
    pid = os.getpid() if pid is None else pid
    if not _PROC.is_dir():  # no /proc: this process only, and its peak rather than its level
        scale = 1 if sys.platform == "darwin" else 1024
        return (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale if pid == os.getpid() else 0
        )
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss(p)
        todo += _children(p)
    return total


class PeakMemory:
    """Sample this process tree's resident memory every `interval_s` while in the block.

    >>> with PeakMemory() as peak:
    ...     work()
    >>> peak.gib  # the highest level seen, GiB
    """

    def __init__(self, interval_s: float = 0.2) -> None:
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="peak-memory", daemon=True)

    def _watch(self) -> None:
        while True:
            self.peak = max(self.peak, tree_rss())
            if self._stop.wait(self.interval_s):
                return

    def __enter__(self) -> PeakMemory:
        self.peak = tree_rss()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss())

    @property
    def gib(self) -> float:
        return self.peak / GIB


def output_gib(num_draws: int, n_periods: int, n_geos: int, n_channels: int) -> float:
    """GiB that scoring one window needs at least: the contribution draws (S, T, G, C) and the
    expected and predictive draws (S, T, G), float64, each held once."""
    return num_draws * n_periods * n_geos * (n_channels + 2) * 8 / GIB


def budget_text(used_gib: float, budget_gib: float) -> str:
    """The failure reason of a cell over its memory budget."""
    return (
        f"memory budget exceeded: the cell's processes held {used_gib:.1f} GiB, over the budget "
        f"of {budget_gib:g} GiB (raise run.memory_gb, or use fewer draws or a smaller dataset)"
    )
