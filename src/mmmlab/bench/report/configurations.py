"""Configuration analysis for variant benchmarks (the Robyn-style questions).

Pure functions of the store's frames (see `summary`), used by the report:

- `r2_by_split`: median R² (and adjusted R² where recorded) per model × variant and split;
- `split_gap`: median NRMSE on train, validation and test and the gaps between them;
- `metric_correlation`: Spearman correlation between cell-level metrics across done cells;
- `best_variant`: per model and goal, the best variant by median over seeds, how much better
  than the base configuration it is, and whether that beats seed-to-seed noise — the mean
  paired difference (same dataset and seed) over more than twice its standard error;
- `tradeoff_figure` (NRMSE vs DECOMP.RSSD, one point per cell) and `pareto_figure` (a ridge
  cell's Pareto fronts and chosen model).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mmmlab.bench.report.tables import done_wide

SPLITS = ("train", "validation", "test")
# goal -> (metric, lower is better)
GOALS = {
    "predict held-out periods": ("nrmse_test", True),
    "decomposition close to spend shares": ("decomp_rssd", True),
    "recover true ROAS": ("roas_mae", True),
    "cover true ROAS (90%)": ("roas_coverage_90", False),
    "explain the test window": ("r2_test", False),
    "calibrate to lift tests": ("mape_lift", True),
}
CORRELATED = [
    "nrmse_train",
    "nrmse_validation",
    "nrmse_test",
    "r2_test",
    "decomp_rssd",
    "mape_lift",
    "roas_mae",
    "contribution_srmse",
    "test_coverage_90",
]


def _wide(metrics: pd.DataFrame) -> pd.DataFrame:
    table = done_wide(metrics)
    return table.assign(variant=table["variant"].fillna("").astype(str))


def base_variant(cells: pd.DataFrame) -> str:
    """The base configuration: the variant of the first cell in grid order."""
    order = cells.sort_values("position") if "position" in cells.columns else cells
    return "" if order.empty else str(order["variant"].fillna("").iloc[0])


def r2_by_split(metrics: pd.DataFrame) -> pd.DataFrame:
    """Median R² (``r2_<split>``, and ``adjusted_r2_<split>`` when present) by model, variant."""
    table = _wide(metrics)
    columns = [
        f"{kind}_{s}" for kind in ("r2", "adjusted_r2") for s in SPLITS if f"{kind}_{s}" in table
    ]
    if not columns:
        return pd.DataFrame(columns=["model", "variant"])
    return table.groupby(["model", "variant"])[columns].median().reset_index()


def split_gap(metrics: pd.DataFrame) -> pd.DataFrame:
    """Median NRMSE per split by model and variant, and the train → validation → test gaps."""
    table = _wide(metrics)
    present = [s for s in SPLITS if f"nrmse_{s}" in table]
    if len(present) < 2:
        return pd.DataFrame(columns=["model", "variant"])
    out = table.groupby(["model", "variant"])[[f"nrmse_{s}" for s in present]].median()
    for a, b in zip(present, present[1:], strict=False):
        out[f"gap_{a}_to_{b}"] = out[f"nrmse_{b}"] - out[f"nrmse_{a}"]
    return out.reset_index()


def metric_correlation(metrics: pd.DataFrame, min_cells: int = 5) -> pd.DataFrame:
    """Spearman correlation (pairwise complete) between `CORRELATED` metrics over done cells;
    metrics seen in fewer than `min_cells` cells are left out."""
    table = _wide(metrics)
    columns = [m for m in CORRELATED if m in table and table[m].notna().sum() >= min_cells]
    if len(columns) < 2:
        return pd.DataFrame()
    values = table[columns].astype(float)
    values = values.loc[:, values.nunique() > 1]  # a constant metric has no correlation
    if values.shape[1] < 2:
        return pd.DataFrame()
    corr = values.corr(method="spearman", min_periods=min_cells)
    return corr.reset_index(names="metric")


def best_variant(cells: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """Per model and goal: the best variant by median, its gain over the base configuration,
    and whether the gain exceeds seed-to-seed noise (paired by dataset and seed)."""
    table = _wide(metrics)
    base = base_variant(cells)
    rows = []
    for goal, (metric, lower) in GOALS.items():
        if metric not in table or table[metric].notna().sum() == 0:
            continue
        for model, part in table.groupby("model"):
            medians = part.groupby("variant")[metric].median().dropna()
            if medians.empty or base not in medians.index:
                continue
            best = medians.idxmin() if lower else medians.idxmax()
            sign = -1.0 if lower else 1.0  # positive gain = better than the base
            paired = part.pivot_table(
                index=["dataset", "seed"], columns="variant", values=metric, aggfunc="last"
            )
            diff = sign * (paired[best] - paired[base]).dropna() if best != base else None
            n = 0 if diff is None else len(diff)
            se = float(diff.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
            gain = float(sign * (medians[best] - medians[base]))
            mean_gain = float(diff.mean()) if n else 0.0
            rows.append(
                {
                    "goal": goal,
                    "metric": metric,
                    "model": model,
                    "best_variant": best or "(base)",
                    "best_median": float(medians[best]),
                    "base_median": float(medians[base]),
                    "gain_vs_base": gain,
                    "gain_pct": 100 * gain / abs(medians[base]) if medians[base] else np.nan,
                    "paired_n": n,
                    "paired_mean_gain": mean_gain,
                    "paired_se": se,
                    "beats_seed_noise": bool(n > 1 and mean_gain > 2 * se),
                }
            )
    return pd.DataFrame(rows)


def tradeoff_figure(metrics: pd.DataFrame) -> Figure | None:
    """NRMSE (validation if recorded, else train) against DECOMP.RSSD, one point per done
    cell, coloured by variant, one marker per model."""
    table = _wide(metrics)
    x = (
        "nrmse_validation"
        if table.get("nrmse_validation", pd.Series()).notna().any()
        else ("nrmse_train")
    )
    if x not in table or "decomp_rssd" not in table:
        return None
    table = table[np.isfinite(table[x].astype(float)) & np.isfinite(table["decomp_rssd"])]
    if table.empty:
        return None
    fig = Figure(figsize=(6.4, 4.6), layout="constrained")
    ax = fig.subplots()
    markers = dict(zip(sorted(table["model"].unique()), "os^Dvx*", strict=False))
    variants = sorted(table["variant"].unique())
    colours = {v: f"C{i % 10}" for i, v in enumerate(variants)}
    for (model, variant), group in table.groupby(["model", "variant"]):
        ax.scatter(
            group[x],
            group["decomp_rssd"],
            marker=markers.get(model, "o"),
            color=colours[variant],
            s=28,
            alpha=0.8,
            label=f"{model}[{variant}]" if variant else model,
        )
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel("DECOMP.RSSD")
    ax.set_title("fit vs decomposition trade-off (lower-left is better)")
    if len(variants) * len(markers) <= 24:
        ax.legend(fontsize=7, loc="best")
    return fig


def pareto_figure(pareto: pd.DataFrame, cell: str) -> Figure | None:
    """A ridge cell's evaluated candidates: Pareto fronts 1-3 highlighted, the chosen model
    starred. `pareto` has columns nrmse, decomp_rssd, front (0 = dominated) and chosen."""
    need = {"nrmse", "decomp_rssd", "front", "chosen"}
    if pareto.empty or not need <= set(pareto.columns):
        return None
    fig = Figure(figsize=(6.0, 4.4), layout="constrained")
    ax = fig.subplots()
    rest = pareto[pareto["front"] == 0]
    ax.scatter(rest["nrmse"], rest["decomp_rssd"], s=4, color="0.75", label="dominated")
    for front in (1, 2, 3):
        part = pareto[pareto["front"] == front].sort_values("nrmse")
        if not part.empty:
            ax.plot(
                part["nrmse"], part["decomp_rssd"], marker="o", ms=3, lw=1, label=f"front {front}"
            )
    chosen = pareto[pareto["chosen"].astype(bool)]
    ax.scatter(
        chosen["nrmse"],
        chosen["decomp_rssd"],
        marker="*",
        s=160,
        color="red",
        label="chosen",
        zorder=5,
    )
    ax.set_xlim(right=float(np.quantile(pareto["nrmse"], 0.9)))  # the front, not the tail
    ax.set_ylim(top=float(np.quantile(pareto["decomp_rssd"], 0.95)))
    ax.set_xlabel("NRMSE (train)")
    ax.set_ylabel("DECOMP.RSSD")
    ax.set_title(f"Pareto fronts: {cell}", fontsize=9)
    ax.legend(fontsize=8)
    return fig
