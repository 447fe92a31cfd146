"""Inference: NUTS (compiled once per shape), MAP and SVI; diagnostics; saving and loading;
simulation-based calibration.

The SBC names are imported on first use (PEP 562): a fit does not import them."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mmmlab.inference.components import Components
from mmmlab.inference.diagnostics import Diagnostics
from mmmlab.inference.fit import Fit, fit, load_fit
from mmmlab.inference.settings import SamplerSettings

if TYPE_CHECKING:
    from mmmlab.inference.calibration import SbcResult, run_sbc, write_sbc

_LAZY = {name: "mmmlab.inference.calibration" for name in ("SbcResult", "run_sbc", "write_sbc")}

__all__ = [
    "Components",
    "Diagnostics",
    "Fit",
    "SamplerSettings",
    "SbcResult",
    "fit",
    "load_fit",
    "run_sbc",
    "write_sbc",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
