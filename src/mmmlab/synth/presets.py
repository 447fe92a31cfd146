"""The shipped worlds: world files in `synth/worlds/`, read like any user's world file.

The business presets are shaped like the published mmm-data-generator's (same sizes, channels
and spend patterns), with reproducible parameters (docs/synth.md lists every true value).
Departures from the published presets, on purpose:
- `large_business`'s 30 channels were drawn once from a generator with a fixed seed and are
  written out (the published one drew the Hill parameters from the unseeded global generator);
- a delayed-start channel stops at its `end_period` (the published generator ignored it);
- baseline levels are chosen so media drives roughly 15-35% of sales, and the noise is 5% of
  the baseline level;
- half-saturation points are relative to each channel's average spend in a geo, which is the
  scale the fitted model uses;
- channels bought by exposure carry a typical CPM, used when a world reports exposure.

`scenario_base.yaml` is the national business every scenario world departs from.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from mmmlab.synth.world import WorldSpec, world_from_file

WORLDS = Path(__file__).parent / "worlds"
BUSINESSES = (
    "small_business",
    "growing_business",
    "medium_business",
    "large_business",
    "national_brand",
)


def shipped_world(name: str) -> WorldSpec:
    """The world `name` shipped in `synth/worlds/` (a business preset or `scenario_base`)."""
    return world_from_file(WORLDS / f"{name}.yaml")


PRESETS: dict[str, Callable[[], WorldSpec]] = {
    name: partial(shipped_world, name) for name in BUSINESSES
}
