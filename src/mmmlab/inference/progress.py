"""A progress bar for long runs: Rich's (with ETA), a caller's callback, or none."""

from __future__ import annotations

from collections.abc import Callable


class ProgressBar:
    """Context manager: a Rich progress bar (with ETA) or a user callback, or nothing."""

    def __init__(self, progress: bool | Callable[[int, int], None], label: str) -> None:
        self.progress, self.label, self._bar = progress, label, None

    def __enter__(self) -> Callable[[int, int], None] | None:
        if callable(self.progress):
            return self.progress
        if not self.progress:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            transient=True,
        )
        self._bar.start()
        task = self._bar.add_task(f"{self.label} (compiling on first use)", total=None)

        def update(done: int, total: int) -> None:
            self._bar.update(task, completed=done, total=total, description=self.label)

        return update

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
