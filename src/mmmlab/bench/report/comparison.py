"""The engine comparison view: per dataset, each engine's cost, sampling efficiency, fit and
recovery side by side, with ratios to the reference engine (mmmlab), and the targets of the
parameter-recovery study checked from them.

Every figure is a median over seeds unless it says otherwise; coverage is pooled over channel
× seed cells. Cells that did not finish are listed with their reason, never dropped silently.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mmmlab.bench.report.summary import first_error_line

# (metric, column, how to combine over seeds)
COLUMNS = (
    ("fit_s", "fit s", "median"),
    ("compile_s", "compile s", "median"),
    ("compile_s", "first compile s", "max"),
    ("sample_s", "sample s", "median"),
    ("min_ess_bulk", "min ESS", "median"),
    ("ess_per_s", "min ESS/s", "median"),
    ("median_ess_per_s", "median ESS/s", "median"),
    ("max_rhat", "max R-hat", "max"),
    ("divergences", "divergences", "median"),
    ("peak_memory_gb", "peak GiB", "max"),
    ("r2_train", "R²", "median"),
    ("mape_train", "MAPE", "median"),
    ("srmse_train", "SRMSE", "median"),
    ("durbin_watson_train", "Durbin–Watson", "median"),
    ("contribution_srmse_median", "contribution SRMSE", "median"),
    ("geo_contribution_srmse_median", "geo contribution SRMSE", "median"),
    ("roas_mae", "ROAS MAE", "median"),
    ("geometric_alpha_mae", "decay MAE", "median"),
)
# pooled over elements (keys starting with the prefix) and seeds: (metric, prefix, column)
POOLED = (
    ("roas_cover90", "", "ROAS cover90"),
    ("param_cover90", "geometric_alpha[", "decay cover90"),
)


def reference_engine(cells: pd.DataFrame) -> str | None:
    """The engine others are compared with: ``mmmlab`` if present, else the first model."""
    models = list(dict.fromkeys(cells["model"].astype(str)))
    if not models:
        return None
    return "mmmlab" if "mmmlab" in models else models[0]


def _done(metrics: pd.DataFrame) -> pd.DataFrame:
    return metrics[metrics["status"] == "done"]


def engine_table(cells: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, model) with a finished cell: `COLUMNS`, `POOLED` and the ratio
    ``ref ESS/s ÷`` (the reference engine's min ESS/s over this engine's; > 1: it is faster)."""
    done = _done(metrics)
    scalar = done[done["key"].fillna("") == ""]
    rows = []
    ids = ["dataset", "model"]
    counts = cells[cells["status"] == "done"].groupby(ids).size()
    for (dataset, model), n in counts.items():
        part = scalar[(scalar["dataset"] == dataset) & (scalar["model"] == model)]
        row: dict[str, object] = {"dataset": dataset, "model": model, "seeds": int(n)}
        for metric, column, how in COLUMNS:
            values = part.loc[part["metric"] == metric, "value"].astype(float)
            row[column] = float(getattr(values, how)()) if len(values) else np.nan
        mine = done[(done["dataset"] == dataset) & (done["model"] == model)]
        for metric, prefix, column in POOLED:
            values = mine.loc[mine["metric"] == metric, ["key", "value"]]
            values = values[values["key"].fillna("").astype(str).str.startswith(prefix)]
            row[column] = float(values["value"].mean()) if len(values) else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    # A process compiles once per model shape; later fits reuse it. The slowest compile over
    # seeds is the engine's first fit in a fresh process: ESS/s had every fit paid it.
    first = table["min ESS"] / (table["first compile s"] + table["sample s"])
    table.insert(table.columns.get_loc("min ESS/s") + 1, "first-fit ESS/s", first)
    ref = reference_engine(cells)
    speed = table.set_index(["dataset", "model"])["min ESS/s"]
    ratios = []
    for dataset, model in zip(table["dataset"], table["model"], strict=True):
        mine, theirs = speed.get((dataset, model), np.nan), speed.get((dataset, ref), np.nan)
        ratios.append(theirs / mine if mine and np.isfinite(mine) and mine > 0 else np.nan)
    table.insert(table.columns.get_loc("min ESS/s") + 1, f"{ref} ESS/s ÷", ratios)
    datasets = {d: i for i, d in enumerate(dict.fromkeys(cells["dataset"]))}  # the spec's order
    order = table["dataset"].map(datasets).astype(float), table["model"].ne(ref), table["model"]
    rows = sorted(range(len(table)), key=lambda i: tuple(part.iloc[i] for part in order))
    return table.iloc[rows].reset_index(drop=True)


def not_finished(cells: pd.DataFrame) -> pd.DataFrame:
    """Cells that were skipped (with the store's ``skip_reason``) or failed (with the error's
    informative line), one row per dataset, model, status and reason with its seeds."""
    columns = ["dataset", "model", "seeds", "status", "reason"]
    rest = cells[cells["status"].isin(["failed", "skipped"])]
    if rest.empty:
        return pd.DataFrame(columns=columns)
    why = zip(rest["status"], rest["skip_reason"], rest["error"], strict=True)
    reason = [first_error_line(skip if st == "skipped" else err)[:300] for st, skip, err in why]
    rest = rest.assign(reason=reason).sort_values(["dataset", "model", "seed"])
    keys = ["dataset", "model", "status", "reason"]
    out = rest.groupby(keys, sort=False)["seed"].agg(lambda s: ", ".join(map(str, s)))
    return out.rename("seeds").reset_index()[columns]


def targets(table: pd.DataFrame, ref: str | None) -> pd.DataFrame:
    """Per dataset: the reference engine's min ESS/s against the best other engine's, its
    contribution SRMSE against the best other's (lowest), and its pooled ROAS coverage."""
    if table.empty or ref is None:
        return pd.DataFrame()
    rows = []
    for dataset in dict.fromkeys(table["dataset"]):  # the engine table's (the spec's) order
        part = table[table["dataset"] == dataset]
        mine = part[part["model"] == ref]
        peers = part[part["model"] != ref]
        if mine.empty:
            continue
        me = mine.iloc[0]
        row = {"dataset": dataset, f"{ref} min ESS/s": me["min ESS/s"]}
        if not peers.empty and peers["min ESS/s"].notna().any():
            best = peers.loc[peers["min ESS/s"].idxmax()]
            first = peers["first-fit ESS/s"].max()
            row |= {
                "best peer": best["model"],
                "peer min ESS/s": best["min ESS/s"],
                "speed-up": me["min ESS/s"] / best["min ESS/s"],
                "speed-up, first fits": me["first-fit ESS/s"] / first,
            }
        srmse = "contribution SRMSE"
        row[f"{ref} {srmse}"] = me[srmse]
        if not peers.empty and peers[srmse].notna().any():
            row[f"best peer {srmse}"] = float(peers[srmse].min())
        row[f"{ref} ROAS cover90"] = me["ROAS cover90"]
        rows.append(row)
    return pd.DataFrame(rows)


def speed_figure(table: pd.DataFrame) -> Figure | None:
    """Min bulk ESS per second of fit time (compile included), per dataset and engine, log
    scale."""
    if table.empty or table["min ESS/s"].notna().sum() < 2:
        return None
    datasets = list(dict.fromkeys(table["dataset"]))
    models = list(dict.fromkeys(table["model"]))
    fig = Figure(figsize=(max(7.0, 1.6 * len(datasets) + 2), 4.8))
    ax = fig.add_subplot()
    width = 0.8 / len(models)
    x = np.arange(len(datasets))
    for i, model in enumerate(models):
        part = table[table["model"] == model].set_index("dataset")["min ESS/s"]
        values = [part.get(d, np.nan) for d in datasets]
        ax.bar(x + (i - (len(models) - 1) / 2) * width, values, width, label=model)
    ax.set_xticks(x, datasets)
    ax.set_yscale("log")
    ax.set_ylabel("min bulk ESS per second (compile included)")
    ax.grid(axis="y", alpha=0.3, which="both")
    ax.legend(fontsize=8, ncols=min(len(models), 3), loc="upper center", bbox_to_anchor=(0.5, -0.1))
    fig.tight_layout()
    return fig
