"""Metrics as pure array functions with explicit axes."""

from mmmlab.metrics.predictive import durbin_watson, fit_metrics, mape, nrmse, r_squared, srmse
from mmmlab.metrics.recovery import (
    central_interval,
    contribution_recovery,
    contribution_recovery_table,
    covers,
    parameter_recovery,
    roas_recovery,
)
from mmmlab.metrics.sbc import (
    plot_rank_histograms,
    rank_histogram,
    sbc_rank,
    sbc_summary,
    thin,
    uniformity_test,
)

__all__ = [
    "central_interval",
    "contribution_recovery",
    "contribution_recovery_table",
    "covers",
    "durbin_watson",
    "fit_metrics",
    "mape",
    "nrmse",
    "parameter_recovery",
    "plot_rank_histograms",
    "r_squared",
    "rank_histogram",
    "roas_recovery",
    "sbc_rank",
    "sbc_summary",
    "srmse",
    "thin",
    "uniformity_test",
]
