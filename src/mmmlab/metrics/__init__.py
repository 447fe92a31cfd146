"""Metrics as pure array functions with explicit axes.

The SBC names are imported on first use (PEP 562): they need SciPy's statistics, which a fit
and its report do not."""

from typing import TYPE_CHECKING

from mmmlab.lazy import lazy_exports
from mmmlab.metrics.predictive import durbin_watson, fit_metrics, mape, nrmse, r_squared, srmse
from mmmlab.metrics.recovery import (
    central_interval,
    contribution_recovery,
    contribution_recovery_table,
    covers,
    parameter_recovery,
    roas_recovery,
)

if TYPE_CHECKING:
    from mmmlab.metrics.sbc import (
        plot_rank_histograms,
        rank_histogram,
        sbc_rank,
        sbc_summary,
        thin,
        uniformity_test,
    )

_LAZY = {
    name: "mmmlab.metrics.sbc"
    for name in (
        "plot_rank_histograms",
        "rank_histogram",
        "sbc_rank",
        "sbc_summary",
        "thin",
        "uniformity_test",
    )
}

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


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
