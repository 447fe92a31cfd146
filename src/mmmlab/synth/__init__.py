"""Simulators with a full answer key: business presets, Hill-mixture worlds, scenario worlds."""

from mmmlab.synth.calendar import as_daily
from mmmlab.synth.catalog import SIMULATORS, list_simulators, simulate, write_simulation
from mmmlab.synth.example import example_dataset
from mmmlab.synth.truth import Truth
from mmmlab.synth.world import ChannelSpec, ControlSpec, WorldSpec

__all__ = [
    "SIMULATORS",
    "ChannelSpec",
    "ControlSpec",
    "Truth",
    "WorldSpec",
    "as_daily",
    "example_dataset",
    "list_simulators",
    "simulate",
    "write_simulation",
]
