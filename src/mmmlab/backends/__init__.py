"""Engines behind one interface (`backends.base`): mmmlab's own models first."""

from __future__ import annotations

from mmmlab.backends.base import Backend, BackendFit, Incompatible

BACKENDS = ("mmmlab",)


def get_backend(name: str) -> Backend:
    """The backend called `name`; an unknown name lists the known ones."""
    if name == "mmmlab":
        from mmmlab.backends.mmm import MmmBackend

        return MmmBackend()
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
    get_backend(backend)


__all__ = ["BACKENDS", "Backend", "BackendFit", "Incompatible", "check_params", "get_backend"]
