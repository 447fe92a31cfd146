"""The benchmark report: one self-contained ``report.html`` and a ``report.md`` twin.

The report reads the store's ``cells`` and long ``metrics`` frames (see ``mmmlab.bench.summary``)
and never recomputes a metric. Both files render one list of sections, so they say the same
thing. The HTML needs nothing from the network and no JavaScript: CSS is inline and figures are
base64 PNG data URIs. The Markdown references the same PNGs written to ``figures/``.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mmmlab.bench import summary

DISTRIBUTION_METRICS = ["test_rmse", "elpd_loo"]
_SPREAD = (
    "of every done run by model: box of the quartiles, one point per run (red x: not "
    "converged); log scale when values span more than two decades."
)
CAPTIONS = {
    **{f"dist_{m}": f"{m} {_SPREAD}" for m in DISTRIBUTION_METRICS},
    "convergence": "Share of done runs that converged, by model (converged / assessed).",
    "roas_recovery": "Estimated against true ROAS, one point per cell and channel; dashed: y = x.",
    "runtime": "Wall-clock seconds per done cell, by model.",
}
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232b;
 margin:0;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px 32px;background:#fff}
h1{font-size:26px;margin:0 0 4px}h2{border-bottom:1px solid #d8dde3;padding-bottom:4px;
 margin-top:32px}h3{font-size:15px;margin:20px 0 6px}
.meta{color:#5b6673}nav a{margin-right:12px;color:#2556a8;text-decoration:none}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:6px 0 14px;font-size:13px}
th,td{border:1px solid #d8dde3;padding:3px 8px;text-align:left;white-space:nowrap}
th{background:#eef1f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fafbfc}figure{margin:10px 0}img{max-width:100%}
figcaption{color:#5b6673;font-size:12px}
pre{background:#f3f5f7;padding:10px;overflow-x:auto;font-size:12px;border:1px solid #d8dde3}
"""


class Block(NamedTuple):
    """One piece of a section.

    Attributes
    ----------
    kind : str
        ``'text'``, ``'heading'``, ``'table'``, ``'figure'`` or ``'pre'``.
    content : Any
        The text, the DataFrame, or the figure name (a key of the figures mapping).
    """

    kind: str
    content: Any


class Section(NamedTuple):
    """A titled part of the report; ``anchor`` is its HTML id."""

    title: str
    anchor: str
    blocks: list[Block]


# ---------------------------------------------------------------------------------- figures


def _label(frame: pd.DataFrame) -> pd.Series:
    """``model`` or ``model[variant]`` per row: the contestant's name on a figure axis."""
    variant = frame["variant"].fillna("").astype(str)
    return frame["model"].astype(str) + np.where(variant == "", "", "[" + variant + "]")


def _auto_scale(ax, values: np.ndarray) -> None:
    """Log (or symlog, for non-positive data) when the magnitudes span more than 2 decades."""
    v = values[np.isfinite(values)]
    size = np.abs(v[v != 0])
    if not len(size) or size.max() / size.min() <= 100:
        return
    if (v > 0).all():
        ax.set_yscale("log")
    else:
        ax.set_yscale("symlog", linthresh=float(size.min()))
    # Pad in the scaled space: symlog's own autoscaling wastes the empty side of zero.
    scale = ax.yaxis.get_transform()
    low, high = scale.transform(np.array([v.min(), v.max()]))
    pad = 0.06 * (high - low)
    ax.set_ylim(*scale.inverted().transform(np.array([low - pad, high + pad])))


def distribution_figure(
    labels: pd.Series, values: pd.Series, converged: pd.Series, title: str
) -> Figure | None:
    """Box plot per group with every run drawn on top (jittered), unconverged runs as red x.

    Parameters
    ----------
    labels, values, converged : Series
        Aligned per run: group name, value, and the converged flag (0 marks unconverged).
    title : str
        Axes title; the value axis is labelled with it too.

    Returns
    -------
    Figure or None
        None when no value is finite.
    """
    keep = np.isfinite(values.to_numpy(float))
    labels, values, converged = labels[keep], values[keep].astype(float), converged[keep]
    if not keep.any():
        return None
    groups = sorted(labels.unique())
    fig = Figure(figsize=(max(5.0, 1.1 * len(groups) + 2.5), 3.8), layout="constrained")
    ax = fig.subplots()
    ax.boxplot(
        [values[labels == g].to_numpy() for g in groups],
        positions=np.arange(1, len(groups) + 1),
        widths=0.5,
        showfliers=False,  # every run is drawn as a point below, tails included
    )
    position = labels.map({g: i + 1 for i, g in enumerate(groups)}).to_numpy(float)
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(position))
    bad = (converged == 0).to_numpy()
    ax.scatter(
        position[~bad] + jitter[~bad], values[~bad], s=14, alpha=0.6, color="C0", label="run"
    )
    if bad.any():
        ax.scatter(
            position[bad] + jitter[bad],
            values[bad],
            s=30,
            marker="x",
            color="C3",
            label="run, not converged",
        )
        ax.legend(fontsize=8, loc="best")
    ax.set_xticks(np.arange(1, len(groups) + 1), groups, rotation=20 if len(groups) > 4 else 0)
    ax.set_title(title)
    ax.set_ylabel(title)
    ax.grid(axis="y", alpha=0.3)
    _auto_scale(ax, values.to_numpy())
    return fig


def metric_figure(metrics: pd.DataFrame, metric: str) -> Figure | None:
    """``distribution_figure`` of one cell-level metric over done runs, by model[variant]."""
    table = summary.done_wide(metrics)
    if metric not in table.columns:
        return None
    return distribution_figure(_label(table), table[metric], table["converged"], metric)


def convergence_figure(convergence: pd.DataFrame) -> Figure | None:
    """Bar chart of ``rate`` from ``summary.convergence_rate``, annotated converged/assessed."""
    rows = convergence[convergence["n_assessed"] > 0] if len(convergence) else convergence
    if rows.empty:
        return None
    names = _label(rows) if "variant" in rows.columns else rows["model"].astype(str)
    fig = Figure(figsize=(max(5.0, 1.0 * len(rows) + 2.5), 3.4), layout="constrained")
    ax = fig.subplots()
    bars = ax.bar(names, rows["rate"].astype(float), color="C0", width=0.6)
    notes = [f"{c}/{a}" for c, a in zip(rows["n_converged"], rows["n_assessed"], strict=True)]
    ax.bar_label(bars, notes, fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("share of done runs converged")
    ax.set_title("convergence rate")
    return fig


def roas_recovery_figure(metrics: pd.DataFrame) -> Figure | None:
    """Scatter of estimated ``roas`` against ``roas_true`` per (cell, channel), with y = x."""
    rows = metrics[(metrics["status"] == "done") & metrics["metric"].isin(["roas", "roas_true"])]
    rows = rows.assign(variant=rows["variant"].fillna(""))
    pairs = rows.pivot_table(
        index=["cell", "model", "variant", "key"], columns="metric", values="value", aggfunc="last"
    ).reset_index()
    if not {"roas", "roas_true"} <= set(pairs.columns):
        return None
    pairs = pairs[np.isfinite(pairs["roas"]) & np.isfinite(pairs["roas_true"])]
    if pairs.empty:
        return None
    fig = Figure(figsize=(5.0, 4.4), layout="constrained")
    ax = fig.subplots()
    pairs = pairs.assign(label=_label(pairs))
    for name, group in pairs.groupby("label", sort=True):
        ax.scatter(group["roas_true"], group["roas"], s=16, alpha=0.7, label=name)
    ends = [
        min(pairs["roas_true"].min(), pairs["roas"].min()),
        pairs[["roas_true", "roas"]].max().max(),
    ]
    ax.plot(ends, ends, color="0.4", linestyle="--", linewidth=1, label="y = x")
    ax.set_xlabel("true ROAS")
    ax.set_ylabel("estimated ROAS")
    ax.set_title("ROAS recovery (one point per cell and channel)")
    ax.legend(fontsize=8)
    return fig


def runtime_figure(cells: pd.DataFrame) -> Figure | None:
    """``distribution_figure`` of wall-clock ``seconds`` of done cells, by model[variant]."""
    done = cells[cells["status"] == "done"]
    flags = pd.Series(1.0, index=done.index)
    return distribution_figure(_label(done), done["seconds"], flags, "seconds per cell")


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return buffer.getvalue()


# ---------------------------------------------------------------------------------- tables


def _text(value: Any) -> str:
    """Display text of one table value: 4 significant digits, thousands grouped, NaN as '—'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        value = float(value)
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if 1e4 <= abs(value) < 1e12:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    return str(value)


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def html_table(frame: pd.DataFrame) -> str:
    """A ``<table>`` of ``frame`` (index dropped), every value escaped, numbers right-aligned."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    opens = ['<td class="num">' if _numeric(frame[c]) else "<td>" for c in frame.columns]
    body = "".join(
        "<tr>"
        + "".join(f"{o}{html.escape(_text(v))}</td>" for o, v in zip(opens, row, strict=True))
        + "</tr>"
        for row in frame.itertuples(index=False)
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def _md_escape(text: str) -> str:
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (index dropped), numbers right-aligned."""
    head = "| " + " | ".join(_md_escape(str(c)) for c in frame.columns) + " |"
    rule = "|" + "|".join("---:" if _numeric(frame[c]) else "---" for c in frame.columns) + "|"
    rows = [
        "| " + " | ".join(_md_escape(_text(v)) for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([head, rule, *rows])


# ---------------------------------------------------------------------------------- sections


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    items = []
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", str(value)))
    return items


def _table_or_note(frame: pd.DataFrame, note: str) -> Block:
    """The table, without a ``variant`` column that is blank throughout, or the note if empty."""
    if frame.empty:
        return Block("text", note)
    if "variant" in frame.columns and frame["variant"].fillna("").eq("").all():
        frame = frame.drop(columns="variant")
    return Block("table", frame)


def build_sections(
    cells: pd.DataFrame,
    metrics: pd.DataFrame,
    spec_text: str | None = None,
    environment: Mapping[str, Any] | None = None,
    catastrophic_rules: Mapping[str, tuple[str, float]] | None = None,
) -> tuple[list[Section], dict[str, Figure]]:
    """The report's sections and the figures they name; ``write_report`` renders them.

    Per-model tables group by ``(model, variant)`` when any cell has a variant, else by model.
    """
    summary.require_columns(cells, summary.CELL_COLUMNS, "cells")
    summary.require_columns(metrics, summary.METRIC_COLUMNS, "metrics")
    variants = metrics["variant"].fillna("").astype(str).ne("").any()
    by = ("model", "variant") if variants else ("model",)
    tables = summary.summarize(cells, metrics, catastrophic_rules, by=by)
    figures: dict[str, Figure | None] = {
        f"dist_{m}": metric_figure(metrics, m) for m in DISTRIBUTION_METRICS
    }
    figures["convergence"] = convergence_figure(tables["convergence"])
    figures["roas_recovery"] = roas_recovery_figure(metrics)
    figures["runtime"] = runtime_figure(cells)
    shown = {k: f for k, f in figures.items() if f is not None}

    def figure(name: str, missing: str) -> Block:
        return Block("figure", name) if name in shown else Block("text", missing)

    counts = cells["status"].value_counts()
    overview = [
        Block("text", f"{len(cells)} cells" + "".join(f", {n} {s}" for s, n in counts.items())),
        _table_or_note(tables["status"], "No cells recorded."),
    ]
    if environment:
        env = pd.DataFrame(_flatten(environment), columns=["setting", "value"])
        overview += [Block("heading", "Environment"), Block("table", env)]

    described = tables["describe"]
    distributions = [figure(f"dist_{m}", f"No {m} recorded.") for m in DISTRIBUTION_METRICS]
    for metric in summary.KEY_METRICS:
        part = described[described["metric"] == metric].drop(columns="metric")
        if not part.empty:
            distributions += [Block("heading", metric), Block("table", part)]
    if described.empty:
        distributions.append(Block("text", "No cell-level metrics recorded."))

    rules = summary.DEFAULT_CATASTROPHIC_RULES if catastrophic_rules is None else catastrophic_rules
    rule_text = ", ".join(summary.rule_label(m, r) for m, r in rules.items())
    winners = [Block("text", "Wins per model over seed-cells (dataset, variant, seed).")]
    best = []
    for metric, lower, wins, medians in (
        ("elpd_loo", False, "winners_loo", "best_loo"),
        ("test_rmse", True, "winners_rmse", "best_rmse"),
    ):
        note = f"No {metric} recorded."
        winners += [
            Block("heading", f"{metric} ({'lower' if lower else 'higher'} is better)"),
            _table_or_note(tables[wins], note),
        ]
        best += [
            Block("heading", f"by {metric} ({'lowest' if lower else 'highest'} median)"),
            _table_or_note(tables[medians], note),
        ]

    done = cells[(cells["status"] == "done") & cells["seconds"].notna()]
    runtime = done.assign(model=_label(done)).groupby("model")["seconds"]
    runtime_table = runtime.agg(n="count", median="median", max="max", total="sum").reset_index()
    parts = [
        ("Overview", overview),
        ("Convergence", [
            _table_or_note(tables["convergence"], "No done cells recorded."),
            figure("convergence", "No convergence flags recorded."),
        ]),
        ("Metric distributions", distributions),
        ("Catastrophic runs", [
            Block("text", f"Done runs breaking a rule: {rule_text}."),
            _table_or_note(tables["catastrophic"], "No metric named by the rules is recorded."),
        ]),
        ("Winners", winners),
        ("Best model per dataset", best),
        ("Worst runs by R-hat", [_table_or_note(tables["worst_rhat"], "No max_rhat recorded.")]),
        ("ROAS recovery", [figure("roas_recovery", "No roas with roas_true recorded.")]),
        ("Runtime", [
            figure("runtime", "No runtimes recorded."),
            _table_or_note(runtime_table, "No done cells with a runtime."),
        ]),
        ("Failures", [_table_or_note(tables["failures"], "No failed cells.")]),
        ("Spec", [Block("pre", spec_text) if spec_text else Block("text", "No spec snapshot.")]),
    ]  # fmt: skip
    sections = [Section(t, t.lower().replace(" ", "-"), blocks) for t, blocks in parts]
    return sections, shown


# ---------------------------------------------------------------------------------- renderers


def render_html(
    title: str, generated: str, sections: Sequence[Section], images: Mapping[str, bytes]
) -> str:
    """The self-contained HTML page: inline CSS, PNGs as data URIs, every text escaped."""
    esc = html.escape
    nav = "".join(f'<a href="#{s.anchor}">{esc(s.title)}</a>' for s in sections)
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body><main>",
        f'<h1>{esc(title)}</h1><p class="meta">Generated {esc(generated)}</p><nav>{nav}</nav>',
    ]
    for section in sections:
        parts.append(f'<section id="{section.anchor}"><h2>{esc(section.title)}</h2>')
        for kind, content in section.blocks:
            if kind == "table":
                parts.append(html_table(content))
            elif kind == "figure":
                data = base64.b64encode(images[content]).decode("ascii")
                parts.append(
                    f'<figure><img alt="{esc(content)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{esc(CAPTIONS.get(content, content))}</figcaption></figure>"
                )
            elif kind == "pre":
                parts.append(f"<pre>{esc(content)}</pre>")
            elif kind == "heading":
                parts.append(f"<h3>{esc(content)}</h3>")
            else:
                parts.append(f"<p>{esc(content)}</p>")
        parts.append("</section>")
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def render_markdown(title: str, generated: str, sections: Sequence[Section]) -> str:
    """The Markdown twin; figures are ``figures/<name>.png`` beside the file."""
    lines = [f"# {_md_escape(title)}", "", f"Generated {generated}", ""]
    for section in sections:
        lines += [f"## {section.title}", ""]
        for kind, content in section.blocks:
            if kind == "table":
                lines.append(markdown_table(content))
            elif kind == "figure":
                lines += [f"![{content}](figures/{content}.png)", "", CAPTIONS.get(content, "")]
            elif kind == "pre":
                longest = max((len(r) for r in content.split("\n") if set(r) == {"`"}), default=0)
                fence = "`" * max(3, longest + 1)
                lines += [fence, content.rstrip("\n"), fence]
            elif kind == "heading":
                lines.append(f"### {_md_escape(content)}")
            else:
                lines.append(_md_escape(content))
            lines.append("")
    return "\n".join(lines)


def write_report(
    cells: pd.DataFrame,
    metrics: pd.DataFrame,
    out_dir: str | Path,
    title: str,
    spec_text: str | None = None,
    environment: Mapping[str, Any] | None = None,
    catastrophic_rules: Mapping[str, tuple[str, float]] | None = None,
    generated: dt.datetime | None = None,
) -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` and ``figures/*.png`` into ``out_dir``.

    Parameters
    ----------
    cells, metrics : DataFrame
        The store's tables (``summary.CELL_COLUMNS``, ``summary.METRIC_COLUMNS``).
    out_dir : str or Path
        Created if missing; existing report files are replaced.
    title : str
        Page title.
    spec_text : str, optional
        The benchmark spec snapshot, shown verbatim.
    environment : mapping, optional
        Versions, git commit, machine; nested mappings are flattened to dotted keys.
    catastrophic_rules : mapping, optional
        See ``summary.catastrophic``.
    generated : datetime, optional
        Time stamp shown in the header; now (UTC) by default.

    Returns
    -------
    dict of str to Path
        ``html``, ``markdown``, and ``figure:<name>`` for every figure written.
    """
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    sections, figures = build_sections(cells, metrics, spec_text, environment, catastrophic_rules)
    stamp = (generated or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M %Z").strip()
    images = {name: _png(fig) for name, fig in figures.items()}
    paths = {"html": out / "report.html", "markdown": out / "report.md"}
    for name, data in images.items():
        paths[f"figure:{name}"] = out / "figures" / f"{name}.png"
        paths[f"figure:{name}"].write_bytes(data)
    paths["html"].write_text(render_html(title, stamp, sections, images), encoding="utf-8")
    paths["markdown"].write_text(render_markdown(title, stamp, sections), encoding="utf-8")
    return paths
