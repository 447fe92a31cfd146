"""NumPyro model functions and their configuration."""

from mmmlab.models.config import DEFAULT_PRIORS, ModelConfig, Prior
from mmmlab.models.mmm import Structure, mmm, structure_of
from mmmlab.models.scaling import ModelData, Scaling, prepare

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
