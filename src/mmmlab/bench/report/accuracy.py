"""Accuracy and reliability side by side: the model comparison tables of the Hill-mixture
protocol, read from the store's metrics.

Means per dataset over all runs and over converged runs, test RMSE by convergence status, each
model's change against the reference model (the spec's ``reference_model``) and each model's
worst run. Every number is a statistic of stored cell-level metrics of done cells
(`tables.done_wide`); nothing is recomputed from draws.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from mmmlab.bench.report.sections import Block, table_or_note
from mmmlab.bench.report.tables import done_wide

# The published means tables' metrics, in their order.
MEAN_METRICS = (
    "elpd_loo",
    "test_rmse",
    "train_rmse",
    "test_coverage_90",
    "effective_k",
    "delta_loo",
)
# (metric, lower is better) compared with the reference model.
CHANGE_METRICS = (("test_rmse", True), ("elpd_loo", False))
ALL = "all"  # the pooled row of a grouped table
TRIM = 0.1


def reference_in_spec(spec_text: str | None) -> str | None:
    """The ``reference_model`` a spec snapshot names, or None (no spec, none named, or text
    that is not a YAML mapping)."""
    try:
        spec = yaml.safe_load(spec_text) if spec_text else None
    except yaml.YAMLError:
        return None
    reference = spec.get("reference_model") if isinstance(spec, dict) else None
    return str(reference) if reference is not None else None


def dataset_means(
    metrics: pd.DataFrame, by: Sequence[str] = ("model",), converged_only: bool = False
) -> pd.DataFrame:
    """Means of `MEAN_METRICS` per dataset and group over done runs.

    Parameters
    ----------
    converged_only : bool
        Keep only runs flagged ``converged == 1``; groups without one are left out.

    Returns
    -------
    DataFrame
        Columns ``dataset, *by, n_runs`` and one per metric of `MEAN_METRICS` that is recorded;
        a mean skips NaN values (``delta_loo`` is NaN for the reference model's runs).
    """
    table = done_wide(metrics)
    present = [m for m in MEAN_METRICS if m in table.columns]
    if converged_only:
        table = table[table["converged"] == 1]
    keys = ["dataset", *by]
    if table.empty or not present:
        return pd.DataFrame(columns=[*keys, "n_runs", *present])
    grouped = table.groupby(keys, sort=True)
    out = grouped[present].mean().join(grouped.size().rename("n_runs")).reset_index()
    return out[[*keys, "n_runs", *present]]


def by_convergence(
    metrics: pd.DataFrame, metric: str = "test_rmse", by: Sequence[str] = ("model",)
) -> pd.DataFrame:
    """`metric` over converged and not converged done runs, per group and pooled.

    Returns
    -------
    DataFrame
        Columns ``*by, convergence, n, mean, median, p90, max``: one row per group and status
        with runs, then the pooled rows (``model`` = ``'all'``). Runs without a ``converged``
        flag or without a value are left out; empty when none is left.
    """
    columns = [*by, "convergence", "n", "mean", "median", "p90", "max"]
    table = done_wide(metrics)
    if metric not in table.columns:
        return pd.DataFrame(columns=columns)
    table = table[table["converged"].notna() & table[metric].notna()]
    pooled = table.assign(**{c: ALL if c == "model" else "" for c in by})
    rows = []
    for part in (table, pooled):
        for key, group in part.groupby(list(by), sort=True):
            for flag, status in ((1, "converged"), (0, "not converged")):
                v = group.loc[group["converged"] == flag, metric].to_numpy(float)
                if len(v):
                    described = (v.mean(), np.median(v), np.quantile(v, 0.9), v.max())
                    rows.append((*key, status, len(v), *map(float, described)))
    return pd.DataFrame(rows, columns=columns)


def _relative(value: float, reference: float) -> float:
    """Percent change of `value` from `reference`, signed as the metric moves."""
    if not np.isfinite(reference) or reference == 0:
        return np.nan
    return 100.0 * (value - reference) / abs(reference)


def change_against(
    metrics: pd.DataFrame, reference: str, metric: str = "test_rmse", by: Sequence[str] = ("model",)
) -> pd.DataFrame:
    """Median, 10% trimmed mean and mean of `metric` per group, and each one's percent change
    against the reference model's (same variant) on the same datasets.

    Percent change is ``100 · (model − reference) / |reference|``, over every done run with a
    value; the first rows pool all datasets (``dataset`` = ``'all'``), then one block per dataset,
    the reference first in each.

    Returns
    -------
    DataFrame
        Columns ``dataset, *by, n, median, median %, trimmed mean, trimmed mean %, mean,
        mean %``; empty when `metric` or the reference model's runs are missing.
    """
    stat_names = ("median", "trimmed mean", "mean")
    columns = ["dataset", *by, "n", *[c for s in stat_names for c in (s, f"{s} %")]]
    table = done_wide(metrics)
    if metric not in table.columns or not (table["model"] == reference).any():
        return pd.DataFrame(columns=columns)
    table = table[table[metric].notna()]
    parts = [(ALL, table)] + list(table.groupby("dataset", sort=True))
    rows = []
    for dataset, part in parts:
        described = {
            key: (len(v), np.median(v), stats.trim_mean(v, TRIM), v.mean())
            for key, group in part.groupby(list(by), sort=True)
            for v in [group[metric].to_numpy(float)]
        }
        for key in sorted(described, key=lambda k: (k[by.index("model")] != reference, k)):
            n, *values = described[key]
            ref_key = tuple(reference if c == "model" else k for c, k in zip(by, key, strict=True))
            _, *ref = described.get(ref_key, (0, np.nan, np.nan, np.nan))
            pairs = [x for v, r in zip(values, ref, strict=True) for x in (v, _relative(v, r))]
            rows.append((dataset, *key, n, *map(float, pairs)))
    return pd.DataFrame(rows, columns=columns)


def worst_by_model(metrics: pd.DataFrame, by: Sequence[str] = ("model",)) -> pd.DataFrame:
    """Each group's worst done run: the largest test RMSE and the lowest elpd_loo, each with the
    cell that produced it.

    Returns
    -------
    DataFrame
        Columns ``*by, n_runs`` then, for each of the two metrics that is recorded,
        ``worst <metric>`` and ``run (<metric>)``.
    """
    table = done_wide(metrics)
    worst = [(m, low) for m, low in CHANGE_METRICS if m in table.columns]
    columns = [*by, "n_runs", *[c for m, _ in worst for c in (f"worst {m}", f"run ({m})")]]
    if table.empty or not worst:
        return pd.DataFrame(columns=columns)
    rows = []
    for key, group in table.groupby(list(by), sort=True):
        row = [*key, len(group)]
        for metric, lower in worst:
            values = group.dropna(subset=[metric]).sort_values(["cell"], kind="stable")
            if values.empty:
                row += [np.nan, ""]
                continue
            at = values[metric].idxmax() if lower else values[metric].idxmin()
            row += [float(values.at[at, metric]), values.at[at, "cell"]]
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def blocks(metrics: pd.DataFrame, by: Sequence[str], reference: str | None) -> list[Block]:
    """The report's "Accuracy and reliability" section; empty unless a metric of
    `MEAN_METRICS` is recorded."""
    if not metrics["metric"].isin(MEAN_METRICS).any():
        return []
    out = [
        Block("heading", "Means by dataset, all runs"),
        table_or_note(dataset_means(metrics, by), "No done runs."),
        Block("heading", "Means by dataset, converged runs"),
        table_or_note(dataset_means(metrics, by, True), "No converged runs."),
        Block("heading", "test_rmse by convergence status"),
        table_or_note(by_convergence(metrics, "test_rmse", by), "No test_rmse with a flag."),
    ]
    if reference is None:
        out.append(Block("text", "No reference_model in the spec: no change against it."))
    for metric, lower in CHANGE_METRICS if reference is not None else ():
        better = "lower" if lower else "higher"
        out += [
            Block("heading", f"{metric} against {reference}"),
            Block("text", f"% = 100 · (model − {reference}) / |{reference}|, of the statistic "
                  f"over done runs; {better} {metric} is better."),
            table_or_note(change_against(metrics, reference, metric, by),
                          f"No {metric} of {reference} recorded."),
        ]  # fmt: skip
    out += [
        Block("heading", "Worst run per model"),
        table_or_note(worst_by_model(metrics, by), "No test_rmse or elpd_loo recorded."),
    ]
    return out
