"""Names a package exports but imports on first use (PEP 562), for packages whose heavy
parts (SciPy's statistics, the SBC machinery) a fit and its report never touch."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    namespace: dict[str, Any], modules: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The package's ``__getattr__`` and ``__dir__``: `modules` maps each lazy name to the
    module defining it; the first lookup imports it and keeps it in `namespace` (the
    package's ``globals()``), so later lookups are plain attribute reads."""

    def getattr_(name: str) -> Any:
        if name not in modules:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(modules[name]), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(modules))

    return getattr_, dir_
