"""mmmlab: Bayesian marketing mix modeling, simulators with an answer key, and benchmarks."""

from mmmlab import runtime  # noqa: F401  (JAX settings before anything else imports jax)
