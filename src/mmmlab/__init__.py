"""mmmlab: Bayesian marketing mix modeling, simulators with an answer key, and benchmarks.

The short public surface::

    import mmmlab
    dataset, truth = mmmlab.example_dataset()
    fit = mmmlab.fit(dataset, mmmlab.ModelConfig(), seed=0)
    fit.roas(); fit.components(); fit.predict(); fit.save("out/fit")
    same = mmmlab.load("out/fit")
    plan = mmmlab.optimize(fit, budget=1e6, horizon=13)        # mmmlab.decisions.write_plan
    result = mmmlab.scenario(fit, "plans.yaml")                # .write_scenarios
    dataset, truth = mmmlab.simulate("small_business", seed=3)   # any built-in world
"""

from mmmlab import runtime  # noqa: F401  (JAX settings before anything else imports jax)

# isort: split
from mmmlab import datasets
from mmmlab.data import ColumnMap, Dataset, MffMap, read_dataset, read_mff
from mmmlab.decisions import optimize, scenario
from mmmlab.inference import Fit, SamplerSettings, fit
from mmmlab.inference.fit import load_fit as load
from mmmlab.models import ModelConfig, Prior
from mmmlab.synth import Truth, example_dataset, simulate

__version__ = "0.1.0"
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
    "example_dataset",
    "fit",
    "load",
    "optimize",
    "read_dataset",
    "read_mff",
    "scenario",
    "simulate",
]
