"""NumPyro model functions and their configuration."""

from mmmlab.models.config import DEFAULT_PRIORS, ModelConfig, Prior
from mmmlab.models.mmm import ModelData, Scaling, Structure, mmm, prepare, structure_of

__all__ = [
    "DEFAULT_PRIORS",
    "ModelConfig",
    "ModelData",
    "Prior",
    "Scaling",
    "Structure",
    "mmm",
    "prepare",
    "structure_of",
]
