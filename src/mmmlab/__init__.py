"""mmmlab: Bayesian marketing mix modeling, simulators with an answer key, and benchmarks.

The short public surface::

    import mmmlab
    dataset, truth = mmmlab.example_dataset()
    fit = mmmlab.fit(dataset, mmmlab.ModelConfig(), seed=0)
    fit.roas(); fit.components(); fit.predict(); fit.save("out/fit")
    same = mmmlab.load("out/fit")
    plan = mmmlab.optimize(fit, budget=1e6, horizon=13)        # mmmlab.decisions.write_plan
    result = mmmlab.scenario(fit, "plans.yaml")                # .write_scenarios
    recs = mmmlab.design(fit)                                  # which lift test next
    dataset, truth = mmmlab.simulate("small_business", seed=3)   # any built-in world

Names are imported on first use (PEP 562): ``import mmmlab`` sets up JAX and nothing else, so
a command pays only for what it uses (`mmmlab fit` never imports the decisions' SciPy).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mmmlab import runtime  # noqa: F401  (JAX settings before anything else imports jax)

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and editors
    from mmmlab import datasets
    from mmmlab.data import ColumnMap, Dataset, MffMap, read_dataset, read_mff
    from mmmlab.decisions import optimize, scenario
    from mmmlab.design import design
    from mmmlab.inference import Fit, SamplerSettings, fit
    from mmmlab.inference.batch import fit_many
    from mmmlab.inference.fit import load_fit as load
    from mmmlab.models import ModelConfig, Prior
    from mmmlab.synth import Truth, example_dataset, simulate

__version__ = "0.1.0"

# public name -> (module, attribute); an attribute of None is the module itself
_LAZY: dict[str, tuple[str, str | None]] = {
    "ColumnMap": ("mmmlab.data", "ColumnMap"),
    "Dataset": ("mmmlab.data", "Dataset"),
    "Fit": ("mmmlab.inference", "Fit"),
    "MffMap": ("mmmlab.data", "MffMap"),
    "ModelConfig": ("mmmlab.models", "ModelConfig"),
    "Prior": ("mmmlab.models", "Prior"),
    "SamplerSettings": ("mmmlab.inference.settings", "SamplerSettings"),
    "Truth": ("mmmlab.synth", "Truth"),
    "datasets": ("mmmlab.datasets", None),
    "design": ("mmmlab.design", None),  # the package, callable as its `design` function
    "example_dataset": ("mmmlab.synth", "example_dataset"),
    "fit": ("mmmlab.inference.fit", "fit"),
    "fit_many": ("mmmlab.inference.batch", "fit_many"),
    "load": ("mmmlab.inference.fit", "load_fit"),
    "optimize": ("mmmlab.decisions", "optimize"),
    "read_dataset": ("mmmlab.data", "read_dataset"),
    "read_mff": ("mmmlab.data", "read_mff"),
    "scenario": ("mmmlab.decisions", "scenario"),
    "simulate": ("mmmlab.synth", "simulate"),
}
__all__ = [
    "ColumnMap",
    "Dataset",
    "Fit",
    "MffMap",
    "ModelConfig",
    "Prior",
    "SamplerSettings",
    "Truth",
    "datasets",
    "design",
    "example_dataset",
    "fit",
    "fit_many",
    "load",
    "optimize",
    "read_dataset",
    "read_mff",
    "scenario",
    "simulate",
]


def __getattr__(name: str) -> Any:
    """A public name, imported on first use; a subpackage (``mmmlab.decisions``) likewise."""
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = importlib.import_module(module)
        if attribute is not None:
            value = getattr(value, attribute)
        globals()[name] = value  # later lookups are plain attribute reads
        return value
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
