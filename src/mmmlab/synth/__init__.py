"""Simulators with a full answer key (true parameters, contributions, ROAS)."""

from mmmlab.synth.example import Truth, example_dataset

__all__ = ["Truth", "example_dataset"]
