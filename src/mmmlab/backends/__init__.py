"""Engines behind one interface (`backends.base`): mmmlab's own models first, then a
Robyn-style ridge regression."""

from __future__ import annotations

from mmmlab.backends.base import Backend, BackendFit, Incompatible

BACKENDS = ("mmmlab", "hill_mixture", "ridge", "meridian", "pymc-marketing")


def get_backend(name: str) -> Backend:
    """The backend called `name`; an unknown name lists the known ones."""
    if name == "mmmlab":
        from mmmlab.backends.mmm import MmmBackend

        return MmmBackend()
    if name == "hill_mixture":
        from mmmlab.backends.hill_mixture import HillMixtureBackend

        return HillMixtureBackend()
    if name == "ridge":
        from mmmlab.backends.ridge import RidgeBackend

        return RidgeBackend()
    if name == "meridian":  # google-meridian is imported only when a model is fitted
        from mmmlab.backends.peers.meridian import MeridianBackend

        return MeridianBackend()
    if name == "pymc-marketing":  # pymc-marketing is imported only when a model is fitted
        from mmmlab.backends.peers.pymc_marketing import PymcMarketingBackend

        return PymcMarketingBackend()
    raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}")


def check_params(backend: str, params: dict) -> None:
    """Raise ValueError naming each bad key if `params` are not valid for `backend`."""
    if backend == "mmmlab":
        from pydantic import ValidationError

        from mmmlab.models import ModelConfig

        try:
            ModelConfig.model_validate(params)
        except ValidationError as err:
            raise ValueError(
                "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in err.errors())
            ) from None
        return
    if backend == "hill_mixture":
        from mmmlab.models.hill_mixture import KINDS

        unknown = set(params) - {"kind"}
        if unknown:
            raise ValueError(f"unknown parameter(s) {sorted(unknown)}; hill_mixture takes kind")
        if params.get("kind") not in KINDS:
            raise ValueError(f"kind: give one of {list(KINDS)}, got {params.get('kind')!r}")
        return
    if backend == "ridge":
        from mmmlab.backends.ridge import validate_params

        validate_params(params)
        return
    if backend == "meridian":
        from mmmlab.backends.peers.meridian import validate_params as meridian_params

        meridian_params(params)
        return
    if backend == "pymc-marketing":
        from mmmlab.backends.peers.pymc_marketing import validate_params as pymc_params

        pymc_params(params)
        return
    get_backend(backend)


__all__ = ["BACKENDS", "Backend", "BackendFit", "Incompatible", "check_params", "get_backend"]
