"""Sampler settings, declared once: defaults, ranges and meaning of every NUTS setting.

`mmmlab.fit`, `run_sbc`, the command line (`mmmlab fit`, `mmmlab sbc`) and the benchmark
spec (`InferenceSpec`) all take their defaults and ranges from `SamplerSettings`, so a
setting is checked the same way wherever it is given.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError


def _whole(value: Any) -> Any:
    """Integers only: a bool or a float is refused, not rounded (NumPy integers are fine)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"must be an integer, got {value!r}")
    return int(value)


Whole = Annotated[int, BeforeValidator(_whole)]
SEED = Field(0, ge=0, description="Random seed (0 or more); equal seeds give equal results")
Seed = Annotated[Whole, SEED]

# Warmup trees stop at depth 6 (63 leapfrog steps). Before the step size and metric settle,
# early warmup otherwise spends most of a fit's gradients on trajectories of up to 1023
# steps whose draws are thrown away. Measured on medium_business, 4 x (1000 + 1000): warmup
# 215k -> 165k leapfrog steps, sampling time 30 -> 25 s, bulk ESS unchanged. Depth 5 saved
# more (120k) but left one of 30 SBC refits with 200 warmup iterations stuck (R-hat 1.4);
# depth 4 let divergences through on growing_business.
WARMUP_TREE_DEPTH = 6


class SamplerSettings(BaseModel):
    """Every NUTS setting, with its default and range. Frozen and hashable: the compiled
    sampler is cached by it (a change of any field compiles a new one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    num_warmup: Whole = Field(1000, ge=1, description="Warmup iterations per chain")
    num_samples: Whole = Field(1000, ge=1, description="Draws kept per chain")
    num_chains: Whole = Field(2, ge=1, description="NUTS chains (2 or more for R-hat)")
    target_accept: float = Field(
        0.85, gt=0, lt=1, description="NUTS target acceptance (dual averaging), in (0, 1)"
    )
    max_tree_depth: Whole = Field(10, ge=1, le=15, description="NUTS tree depth cap, sampling")
    warmup_tree_depth: Whole = Field(
        WARMUP_TREE_DEPTH, ge=1, le=15, description="NUTS tree depth cap during warmup"
    )
    dense_mass: bool | None = Field(
        None,
        description="Full mass matrix instead of diagonal; None lets the model choose "
        "(`mmmlab.fit`: dense for national data, diagonal for geo panels)",
    )
    init_radius: float = Field(
        1.0, gt=0, description="Jitter of each start around the prior mean, unconstrained space"
    )
    num_starts: Whole | None = Field(
        None,
        ge=1,
        description="Optimised starting points: 1 (None) optimises each chain's own start; "
        "M > 1 optimises M jittered starts and begins every chain near the best mode found",
    )
    extra_samples: Whole = Field(
        1000,
        ge=0,
        description="Draws per chain a run of 1000 or more draws adds, 100 at a time, while "
        "it has not converged (max R-hat > 1.01 or min bulk ESS < 400); 0 samples exactly "
        "num_samples",
    )
    chain_method: Literal["auto", "parallel", "vectorized", "sequential"] = Field(
        "auto", description="How chains run (`inference.chains.chain_method`)"
    )


# Each SBC refit's NUTS settings: a fixed length (a length chosen from the draws would make
# the ranks depend on how well a refit mixed).
SBC_SETTINGS = SamplerSettings(num_warmup=500, num_samples=500, extra_samples=0)


def sampler_settings(base: SamplerSettings | None = None, **options: Any) -> SamplerSettings:
    """`base` (default `SamplerSettings()`) with `options` replaced, validated.

    Raises ValueError naming each setting out of range, e.g. ``num_chains: Input should be
    greater than or equal to 1, got 0``.
    """
    base = SamplerSettings() if base is None else base
    try:
        return SamplerSettings.model_validate(base.model_dump() | options)
    except ValidationError as err:
        raise ValueError("sampler settings:\n" + _lines(err)) from None


def check_seed(seed: Any) -> int:
    """`seed` as an int, or ValueError when it is not an integer of 0 or more."""
    try:
        return TypeAdapter(Seed).validate_python(seed)
    except ValidationError as err:
        raise ValueError("seed:" + _lines(err).removeprefix("  (top):")) from None


def _lines(err: ValidationError) -> str:
    return "\n".join(
        f"  {'.'.join(str(x) for x in e['loc']) or '(top)'}: "
        + e["msg"].removeprefix("Value error, ")
        + ("" if "got" in e["msg"] else f", got {e['input']!r}")
        for e in err.errors()
    )
