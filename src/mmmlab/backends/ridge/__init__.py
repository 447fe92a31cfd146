"""A Robyn-style ridge MMM: the design (`design`: adstock, Hill, ridge regression), the
Nevergrad multi-objective search (`search`), the backend (`backend`) and its fit (`fit`)."""

from mmmlab.backends.ridge.backend import (
    RidgeBackend,
    RidgeParams,
    score_candidates,
    validate_params,
)
from mmmlab.backends.ridge.fit import RidgeFit

__all__ = ["RidgeBackend", "RidgeFit", "RidgeParams", "score_candidates", "validate_params"]
