"""Inference: NUTS (compiled once per shape), MAP and SVI; diagnostics; saving and loading;
simulation-based calibration."""

from mmmlab.inference.calibration import SbcResult, run_sbc, write_sbc
from mmmlab.inference.components import Components
from mmmlab.inference.diagnostics import Diagnostics
from mmmlab.inference.fit import Fit, fit, load_fit
from mmmlab.inference.settings import SamplerSettings

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
