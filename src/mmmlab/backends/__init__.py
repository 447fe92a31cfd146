"""Engines behind one interface (`backends.base`), registered by name: mmmlab's own models,
a Robyn-style ridge regression, and the peer libraries (`peers/`, each in its own
environment). Each backend class declares its `Capabilities`; it is imported when first used.

Add one with `register_backend(name, "package.module:Class")`.
"""

from __future__ import annotations

import importlib

from mmmlab.backends.base import Backend, BackendFit, Capabilities, Environment, Incompatible

BACKENDS: dict[str, str] = {  # name -> "module:Class"
    "mmmlab": "mmmlab.backends.mmm:MmmBackend",
    "hill_mixture": "mmmlab.backends.hill_mixture:HillMixtureBackend",
    "ridge": "mmmlab.backends.ridge:RidgeBackend",
    "meridian": "mmmlab.backends.peers.meridian:MeridianBackend",  # its library: when fitting
    "pymc-marketing": "mmmlab.backends.peers.pymc_marketing:PymcMarketingBackend",
}


def register_backend(name: str, target: str) -> None:
    """Make the backend class at ``"package.module:Class"`` available as `name`."""
    module, sep, attr = target.partition(":")
    if not (sep and module and attr):
        raise ValueError(f"backend {name!r}: {target!r} is not of the form 'package.module:Class'")
    BACKENDS[name] = target


def get_backend(name: str) -> Backend:
    """The backend called `name`; an unknown name lists the known ones."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}")
    module, _, attr = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), attr)()


def check_params(backend: str, params: dict) -> None:
    """Raise ValueError naming each bad key if `params` are not valid for `backend`."""
    get_backend(backend).check_params(params)


def capabilities(backend: str) -> Capabilities:
    """What the fits of `backend` give, and where it runs."""
    return get_backend(backend).capabilities


__all__ = [
    "BACKENDS",
    "Backend",
    "BackendFit",
    "Capabilities",
    "Environment",
    "Incompatible",
    "capabilities",
    "check_params",
    "get_backend",
    "register_backend",
]
