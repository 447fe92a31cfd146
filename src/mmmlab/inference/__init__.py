"""Inference: NUTS (compiled once per shape), MAP and SVI; diagnostics; saving and loading;
simulation-based calibration.

The SBC names are imported on first use (PEP 562): a fit does not import them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmmlab.inference.components import Components
from mmmlab.inference.diagnostics import Diagnostics
from mmmlab.inference.fit import Fit, fit, load_fit
from mmmlab.inference.settings import SamplerSettings
from mmmlab.lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
