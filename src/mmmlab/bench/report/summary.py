"""Benchmark summaries: pure functions of the stored ``cells`` and long ``metrics`` frames.

Nothing here recomputes a metric; every number is read from the store's two tables.

``cells`` has one row per cell::

    name, dataset, model, variant, seed, status, seconds, error

``metrics`` is long, one row per (cell, metric, key)::

    cell, dataset, model, variant, seed, status, metric, key, value

``key`` is ``''`` for a cell-level metric and a channel name for a per-channel one. Summaries
use only cells whose status is ``'done'``: a failed cell's partial metrics are not results.
A ``NaN`` value counts as missing. Any metric may be absent; a function then returns an empty
frame with its usual columns, so callers can test ``frame.empty``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from mmmlab.bench.report.tables import (
    CELL_COLUMNS,
    METRIC_COLUMNS,
    SEED_CELL,
    done_wide,
    require_columns,
)

STATUSES = ["done", "failed", "skipped", "pending", "running"]
DESCRIBE_COLUMNS = [
    *("n", "n_missing", "mean", "mean_converged", "median", "trimmed_mean", "sd"),
    *("p50", "p90", "p95", "p99", "max", "min"),
]
# The metrics a reader looks at first; describe_all puts them ahead of the rest.
KEY_METRICS = [
    *("test_rmse", "elpd_loo", "test_coverage_90", "train_rmse", "effective_k", "competing_modes"),
    *("delta_loo", "max_rhat", "ess_per_s", "sample_s", "r2_test", "decomp_rssd", "roas_mae"),
]
# Shown beside each worst run by R-hat: how badly it mixed and what it cost in fit.
WORST_RUN_COLUMNS = ("min_ess_bulk", "divergences", "elpd_loo", "test_rmse")
DEFAULT_CATASTROPHIC_RULES: dict[str, tuple[str, float]] = {"elpd_loo": ("<", -2000.0)}
_OPERATORS: dict[str, Callable[[object, object], object]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _groups(frame: pd.DataFrame, by: Sequence[str]):
    """``(key_tuple, subframe)`` pairs over ``by``; one group ``()`` when ``by`` is empty."""
    if not by:
        return [((), frame)]
    return [(k if isinstance(k, tuple) else (k,), g) for k, g in frame.groupby(list(by), sort=True)]


def convergence_rate(metrics: pd.DataFrame, by: Sequence[str] = ("model",)) -> pd.DataFrame:
    """Share of done cells that converged, per group.

    Returns
    -------
    DataFrame
        Columns ``*by, n_done, n_assessed, n_converged, rate, n_converged_divergent``.
        ``n_assessed`` counts done cells with a recorded ``converged`` flag (optimisers have
        none); ``rate`` is ``n_converged / n_assessed``, NaN when nothing was assessed.
        ``n_converged_divergent`` counts the converged cells whose sampler still diverged
        (``divergences`` > 0: R-hat and ESS can pass over a region NUTS could not enter), NaN
        where the group records no divergences; the column is left out where no group does.
    """
    table = done_wide(metrics)
    rows = []
    for key, group in _groups(table, by):
        flag = group["converged"]
        assessed, converged = int(flag.notna().sum()), int((flag == 1).sum())
        rate = converged / assessed if assessed else np.nan
        divergent = np.nan
        if "divergences" in group and group["divergences"].notna().any():
            divergent = int(((flag == 1) & (group["divergences"] > 0)).sum())
        rows.append((*key, len(group), assessed, converged, rate, divergent))
    columns = ["n_done", "n_assessed", "n_converged", "rate", "n_converged_divergent"]
    out = pd.DataFrame(rows, columns=[*by, *columns])
    if out["n_converged_divergent"].isna().all():  # no cell recorded divergences
        out = out.drop(columns="n_converged_divergent")
    return out


def _describe_values(values: np.ndarray, converged: np.ndarray, trim: float) -> list[float]:
    keep = ~np.isnan(values)
    v, ok = values[keep], converged[keep] == 1
    if not len(v):
        return [0, int((~keep).sum()), *[np.nan] * (len(DESCRIBE_COLUMNS) - 2)]
    q = np.quantile(v, [0.5, 0.9, 0.95, 0.99])
    return [
        len(v),
        int((~keep).sum()),
        float(v.mean()),
        float(v[ok].mean()) if ok.any() else np.nan,
        float(np.median(v)),
        float(stats.trim_mean(v, trim)),
        float(v.std(ddof=1)) if len(v) > 1 else np.nan,
        *map(float, q),
        float(v.max()),
        float(v.min()),
    ]


def describe(
    metrics: pd.DataFrame,
    metric: str,
    by: Sequence[str] = ("model",),
    converged_only: bool = False,
    trim: float = 0.1,
) -> pd.DataFrame:
    """Robust description of one cell-level metric over done runs, per group.

    Parameters
    ----------
    metrics : DataFrame
        Long metrics.
    metric : str
        A cell-level metric name, e.g. ``'test_rmse'``.
    by : sequence of str
        Grouping columns of the wide table; empty for one overall row.
    converged_only : bool
        Keep only runs flagged ``converged == 1`` before describing.
    trim : float
        Share cut from *each* tail for ``trimmed_mean`` (``scipy.stats.trim_mean``).

    Returns
    -------
    DataFrame
        Columns ``*by`` then ``DESCRIBE_COLUMNS``: ``n`` non-missing values, ``n_missing`` NaN
        values, ``mean``, ``mean_converged`` (mean over converged runs only), ``median``,
        ``trimmed_mean``, ``sd`` (ddof=1), ``p50 .. p99`` (linear interpolation), ``max``,
        ``min``. Empty when the metric is absent.
    """
    table = done_wide(metrics)
    columns = [*by, *DESCRIBE_COLUMNS]
    if metric not in table.columns:
        return pd.DataFrame(columns=columns)
    if converged_only:
        table = table[table["converged"] == 1]
    rows = [
        (*key, *_describe_values(g[metric].to_numpy(float), g["converged"].to_numpy(), trim))
        for key, g in _groups(table, by)
    ]
    return pd.DataFrame(rows, columns=columns)


def cell_metric_names(metrics: pd.DataFrame) -> list[str]:
    """Cell-level metric names present, ``KEY_METRICS`` first, then the rest sorted."""
    present = set(metrics.loc[metrics["key"].fillna("") == "", "metric"])
    return [m for m in KEY_METRICS if m in present] + sorted(present - set(KEY_METRICS))


def describe_all(
    metrics: pd.DataFrame,
    metrics_list: Sequence[str] | None = None,
    by: Sequence[str] = ("model",),
) -> pd.DataFrame:
    """``describe`` stacked over metrics: columns ``metric, *by, *DESCRIBE_COLUMNS``.

    ``metrics_list`` defaults to every cell-level metric present (see ``cell_metric_names``);
    names that are absent are skipped.
    """
    require_columns(metrics, METRIC_COLUMNS, "metrics")
    names = cell_metric_names(metrics) if metrics_list is None else list(metrics_list)
    parts = [describe(metrics, m, by).assign(metric=m) for m in names]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=["metric", *by, *DESCRIBE_COLUMNS])
    out = pd.concat(parts, ignore_index=True)
    return out[["metric", *by, *DESCRIBE_COLUMNS]]


def rule_label(metric: str, rule: tuple[str, float]) -> str:
    """Column name of a catastrophe rule, e.g. ``'elpd_loo < -2000'``."""
    op, threshold = rule
    return f"{metric} {op} {threshold:g}"


def catastrophic(
    metrics: pd.DataFrame,
    rules: Mapping[str, tuple[str, float]] | None = None,
    by: Sequence[str] = ("dataset", "model"),
) -> pd.DataFrame:
    """Count done runs breaking each rule, per group.

    Parameters
    ----------
    rules : mapping metric -> (operator, threshold)
        Operator one of ``<, <=, >, >=``; default ``{'elpd_loo': ('<', -2000)}``. A NaN value
        breaks no rule. Rules on metrics absent from ``metrics`` are dropped.

    Returns
    -------
    DataFrame
        Columns ``*by, n_runs``, one count column per rule named by ``rule_label``, and
        ``n_any`` (runs breaking at least one rule). Empty when no rule applies.
    """
    rules = DEFAULT_CATASTROPHIC_RULES if rules is None else rules
    for metric, rule in rules.items():
        if len(rule) != 2 or rule[0] not in _OPERATORS:
            raise ValueError(
                f"catastrophic rule for {metric!r} is {rule!r}; write it as (operator, "
                f"threshold) with operator one of {list(_OPERATORS)}, e.g. ('<', -2000)."
            )
    table = done_wide(metrics)
    active = {m: r for m, r in rules.items() if m in table.columns}
    labels = [rule_label(m, r) for m, r in active.items()]
    if not active:
        return pd.DataFrame(columns=[*by, "n_runs", "n_any"])
    broken = pd.DataFrame(
        {
            rule_label(m, (op, t)): _OPERATORS[op](table[m], t).astype(bool)
            for m, (op, t) in active.items()
        }
    )
    broken["n_any"] = broken.any(axis=1)
    counts = pd.concat([table[list(by)], broken.astype(int)], axis=1)
    counts["n_runs"] = 1
    out = (
        counts.groupby(list(by), sort=True).sum().reset_index() if by else counts.sum().to_frame().T
    )
    return out[[*by, "n_runs", *labels, "n_any"]].reset_index(drop=True)


def winners(
    metrics: pd.DataFrame, metric: str = "test_rmse", lower_is_better: bool = True
) -> pd.DataFrame:
    """The best model of each seed-cell ``(dataset, variant, seed)`` on one metric.

    Returns
    -------
    DataFrame
        Columns ``dataset, variant, seed, model, value, converged, n_models``: the winner, its
        value, its ``converged`` flag (NaN if unrecorded) and how many models had a value in
        that seed-cell. Runs with a NaN value do not compete; ties go to the first model name.
    """
    columns = [*SEED_CELL, "model", "value", "converged", "n_models"]
    table = done_wide(metrics)
    if metric not in table.columns:
        return pd.DataFrame(columns=columns)
    table = table[table[metric].notna()].sort_values([*SEED_CELL, "model"], kind="stable")
    if table.empty:
        return pd.DataFrame(columns=columns)
    grouped = table.groupby(SEED_CELL, sort=True)[metric]
    best = grouped.idxmin() if lower_is_better else grouped.idxmax()
    out = table.loc[best.to_numpy(), [*SEED_CELL, "model", metric, "converged"]]
    out = out.rename(columns={metric: "value"}).reset_index(drop=True)
    out["n_models"] = grouped.count().to_numpy()
    return out[columns]


def winner_counts(
    metrics: pd.DataFrame, metric: str = "test_rmse", lower_is_better: bool = True
) -> pd.DataFrame:
    """Wins per model over seed-cells (see ``winners``).

    Returns
    -------
    DataFrame
        Columns ``model, n_wins, n_wins_not_converged`` for every model that competed (zero
        wins included), most wins first. A win "did not converge" when its flag is 0.
    """
    columns = ["model", "n_wins", "n_wins_not_converged"]
    table = winners(metrics, metric, lower_is_better)
    if table.empty:
        return pd.DataFrame(columns=columns)
    done = done_wide(metrics)
    models = sorted(done.loc[done[metric].notna(), "model"].unique())
    wins = table.groupby("model").size().reindex(models, fill_value=0)
    bad = table[table["converged"] == 0].groupby("model").size().reindex(models, fill_value=0)
    out = pd.DataFrame(
        {"model": models, "n_wins": wins.to_numpy(), "n_wins_not_converged": bad.to_numpy()}
    )
    out = out.sort_values(["n_wins", "model"], ascending=[False, True], kind="stable")
    return out.reset_index(drop=True)[columns]


def best_by_dataset(
    metrics: pd.DataFrame, metric: str, lower_is_better: bool = True
) -> pd.DataFrame:
    """Per dataset, the (model, variant) with the best median of ``metric`` over seeds.

    Returns
    -------
    DataFrame
        Columns ``dataset, model, variant, median, n_seeds``; ties go to the first model name.
    """
    columns = ["dataset", "model", "variant", "median", "n_seeds"]
    table = done_wide(metrics)
    if metric not in table.columns or table[metric].isna().all():
        return pd.DataFrame(columns=columns)
    grouped = table[table[metric].notna()].groupby(["dataset", "model", "variant"], sort=True)
    medians = grouped[metric].agg(median="median", n_seeds="count").reset_index()
    order = medians.sort_values(
        ["dataset", "median", "model"], ascending=[True, lower_is_better, True], kind="stable"
    )
    return order.drop_duplicates("dataset").reset_index(drop=True)[columns]


def worst_runs(
    metrics: pd.DataFrame,
    metric: str = "max_rhat",
    n: int = 10,
    ascending: bool = False,
    also: Sequence[str] = (),
) -> pd.DataFrame:
    """The ``n`` done cells with the largest (or, ``ascending=True``, smallest) value.

    Returns
    -------
    DataFrame
        Columns ``cell, dataset, model, variant, seed, value``, then the cell-level metrics of
        `also` that are recorded (NaN where a cell lacks one); NaN values are left out.
    """
    columns = ["cell", "dataset", "model", "variant", "seed", "value"]
    table = done_wide(metrics)
    if metric not in table.columns:
        return pd.DataFrame(columns=columns)
    columns += [m for m in also if m in table.columns and m != metric]
    table = table[table[metric].notna()].rename(columns={metric: "value"})
    table = table.sort_values(["value", "cell"], ascending=[ascending, True], kind="stable")
    return table.head(n).reset_index(drop=True)[columns]


def status_counts(cells: pd.DataFrame, by: Sequence[str] = ("model",)) -> pd.DataFrame:
    """Cells per status, per group: columns ``*by``, one per status (``STATUSES`` first, any
    other status after), and ``total``."""
    require_columns(cells, ["status", *by], "cells")
    seen = [s for s in cells["status"].dropna().unique() if s not in STATUSES]
    statuses = [*STATUSES, *sorted(seen)]
    if cells.empty:
        return pd.DataFrame(columns=[*by, *statuses, "total"])
    if by:
        counts = pd.crosstab([cells[c] for c in by], cells["status"])
    else:
        counts = cells["status"].value_counts().to_frame().T
    counts = counts.reindex(columns=statuses, fill_value=0)
    counts["total"] = counts.sum(axis=1)
    out = counts.reset_index() if by else counts.reset_index(drop=True)
    out.columns.name = None
    return out[[*by, *statuses, "total"]]


def first_error_line(error: str | None) -> str:
    """The informative line of an error text: its first non-empty line, or for a Python
    traceback (which starts with 'Traceback') its last non-empty line."""
    if not isinstance(error, str):
        return ""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1] if lines[0].startswith("Traceback") else lines[0]


def failures(cells: pd.DataFrame) -> pd.DataFrame:
    """Failed cells: columns ``name, model, error`` (see ``first_error_line``), by name."""
    require_columns(cells, ["name", "model", "status", "error"], "cells")
    failed = cells[cells["status"] == "failed"].sort_values("name")
    return pd.DataFrame(
        {
            "name": failed["name"].to_numpy(),
            "model": failed["model"].to_numpy(),
            "error": [first_error_line(e) for e in failed["error"]],
        }
    )


def summarize(
    cells: pd.DataFrame,
    metrics: pd.DataFrame,
    catastrophic_rules: Mapping[str, tuple[str, float]] | None = None,
    by: Sequence[str] = ("model",),
) -> dict[str, pd.DataFrame]:
    """Every summary table of a benchmark run, keyed by name.

    Parameters
    ----------
    cells, metrics : DataFrame
        The store's tables (``CELL_COLUMNS``, ``METRIC_COLUMNS``).
    catastrophic_rules : mapping, optional
        See ``catastrophic``.
    by : sequence of str
        Grouping of the per-model tables, e.g. ``("model", "variant")``.

    Returns
    -------
    dict of str to DataFrame
        ``status``, ``convergence`` and ``describe`` (every cell-level metric) grouped ``by``;
        ``catastrophic`` by dataset and ``by``; ``winners_rmse`` and
        ``winners_loo`` (``winner_counts`` on ``test_rmse``, lower better, and ``elpd_loo``,
        higher better), ``best_rmse`` and ``best_loo`` (``best_by_dataset``), ``worst_rhat``
        (ten largest ``max_rhat``, with ``WORST_RUN_COLUMNS``) and ``failures``. Missing data
        give empty frames.
    """
    require_columns(cells, CELL_COLUMNS, "cells")
    require_columns(metrics, METRIC_COLUMNS, "metrics")
    return {
        "status": status_counts(cells, by),
        "convergence": convergence_rate(metrics, by),
        "describe": describe_all(metrics, by=by),
        "catastrophic": catastrophic(metrics, catastrophic_rules, ("dataset", *by)),
        "winners_rmse": winner_counts(metrics, "test_rmse", lower_is_better=True),
        "winners_loo": winner_counts(metrics, "elpd_loo", lower_is_better=False),
        "best_rmse": best_by_dataset(metrics, "test_rmse", lower_is_better=True),
        "best_loo": best_by_dataset(metrics, "elpd_loo", lower_is_better=False),
        "worst_rhat": worst_runs(metrics, "max_rhat", also=WORST_RUN_COLUMNS),
        "failures": failures(cells),
    }
