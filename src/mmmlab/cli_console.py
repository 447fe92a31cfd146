"""What every `mmmlab` command prints with: the console, errors printed whole, numbers."""

from __future__ import annotations

import math

from rich.console import Console

console = Console()


def error(err: Exception | str) -> None:
    """Print a user error whole: no wrapping (paths stay intact), no markup parsing."""
    console.print("[red]error:[/] ", end="")
    console.print(str(err), soft_wrap=True, markup=False, highlight=False)


def fmt(value: float | None, digits: int = 3, kind: str = "f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}{kind}}"
