"""Metrics as pure array functions with explicit axes."""

from mmmlab.metrics.predictive import fit_metrics, mape, nrmse, r_squared

__all__ = ["fit_metrics", "mape", "nrmse", "r_squared"]
