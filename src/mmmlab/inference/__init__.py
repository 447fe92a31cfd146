"""Inference: NUTS (compiled once per shape), MAP and SVI; diagnostics; saving and loading;
simulation-based calibration."""

from mmmlab.inference.calibration import SbcResult, run_sbc, write_sbc
from mmmlab.inference.diagnostics import Diagnostics
from mmmlab.inference.fit import Components, Fit, fit
from mmmlab.inference.nuts import NutsSettings

__all__ = [
    "Components",
    "Diagnostics",
    "Fit",
    "NutsSettings",
    "SbcResult",
    "fit",
    "run_sbc",
    "write_sbc",
]
