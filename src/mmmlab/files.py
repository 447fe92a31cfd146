"""Reading and writing files safely: strict JSON, schema errors that name the key, and output
folders that never hold their own inputs."""

from __future__ import annotations

import json
import math
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError


def strict_json(obj: Any, **dumps: Any) -> str:
    """`obj` as JSON text with no bare NaN or Infinity (strict parsers reject them).

    Non-finite numbers become ``null``, with one warning naming where they were (e.g.
    ``roas[2].roas_mean``). NumPy scalars and arrays become numbers and lists; anything else
    unknown is written as its string. `dumps` goes to `json.dumps` (indent, sort_keys, ...).
    """
    where: list[str] = []
    clean = _finite(obj, "", where)
    if where:
        shown = ", ".join(where[:8]) + (f" and {len(where) - 8} more" if len(where) > 8 else "")
        warnings.warn(
            f"{len(where)} value(s) not finite (NaN or infinite) written as null: {shown}",
            stacklevel=2,
        )
    return json.dumps(clean, allow_nan=False, default=str, **dumps)


def write_json(path: str | Path, obj: Any, **dumps: Any) -> Path:
    """Write `strict_json(obj)` and a newline to `path`; returns the path."""
    path = Path(path)
    path.write_text(strict_json(obj, **dumps) + "\n")
    return path


def schema_errors(err: ValidationError) -> str:
    """One line per problem, each naming its key as written (``priors.effect.scale: ...``)."""
    return "\n".join(
        f"  {'.'.join(str(x) for x in e['loc']) or '(top)'}: "
        + e["msg"].removeprefix("Value error, ")
        for e in err.errors()
    )


def _finite(value: Any, at: str, where: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v, f"{at}.{k}" if at else str(k), where) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v, f"{at}[{i}]", where) for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _finite(value.tolist(), at, where)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        where.append(at or "(top)")
        return None
    return value


def check_output_dir(out: str | Path, inputs: Iterable[str | Path | None] = (), option="--out"):
    """Refuse an output folder that cannot be one, before any work: a file, a place that
    cannot be written, or a folder that holds one of the `inputs` (its files could be
    written over). Raises ValueError naming `option`, the path and what to do."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{option} {out}: is a file, not a folder; give a folder path")
    resolved = out.resolve()
    for item in inputs:
        if item is None:
            continue
        path = Path(item).resolve()
        if path == resolved or resolved in path.parents:
            raise ValueError(
                f"{option} {out}: holds the input {item}, which outputs written there could "
                f"replace; give another {option} folder (inputs are never written)"
            )
    existing = next(p for p in (resolved, *resolved.parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"{option} {out}: {existing} is a file, so the folder cannot be made")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ValueError(
            f"{option} {out}: cannot write in {existing} ({reason}); give a folder you can write"
        ) from None
