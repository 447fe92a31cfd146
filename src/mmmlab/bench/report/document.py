"""The benchmark report: one self-contained ``report.html`` and a ``report.md`` twin.

The report reads the store's ``cells`` and long ``metrics`` frames (see `summary`) and never
recomputes a metric. Both files render one list of sections, so they say the same
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
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mmmlab.bench.report import accuracy, summary
from mmmlab.bench.report.figures import (  # noqa: F401  (distribution_figure is part of the API)
    _label,
    convergence_figure,
    distribution_figure,
    metric_figure,
    roas_recovery_figure,
    runtime_figure,
)
from mmmlab.bench.report.sections import Block, Section, table_or_note
from mmmlab.bench.report.tables import CELL_COLUMNS, METRIC_COLUMNS, require_columns

DISTRIBUTION_METRICS = ["test_rmse", "elpd_loo"]
MAX_PARETO = 6  # Pareto-front figures shown (the first cells by name)
_SPREAD = (
    "of every done run by model: box of the quartiles, one point per run (red x: not "
    "converged); log scale when values span more than two decades."
)
CAPTIONS = {
    **{f"dist_{m}": f"{m} {_SPREAD}" for m in DISTRIBUTION_METRICS},
    "convergence": "Share of done runs that converged, by model (converged / assessed).",
    "roas_recovery": "Estimated against true ROAS, one point per cell and channel; dashed: y = x.",
    "runtime": "Wall-clock seconds per done cell, by model.",
    "tradeoff": "NRMSE against DECOMP.RSSD per done cell: colour = variant, marker = model.",
    "engine_speed": "Min bulk ESS per second of fit time (compile included), median over seeds.",
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


def build_sections(
    cells: pd.DataFrame,
    metrics: pd.DataFrame,
    spec_text: str | None = None,
    environment: Mapping[str, Any] | None = None,
    catastrophic_rules: Mapping[str, tuple[str, float]] | None = None,
    pareto: Mapping[str, pd.DataFrame] | None = None,
    reference_model: str | None = None,
) -> tuple[list[Section], dict[str, Figure]]:
    """The report's sections and the figures they name; ``write_report`` renders them.

    Per-model tables group by ``(model, variant)`` when any cell has a variant, else by model.
    A run with variants or Robyn metrics gets a "Configurations" section
    (`configurations`); `pareto` maps ridge cells to their evaluated candidates.
    `reference_model` (default: the spec's) is the model the "Accuracy and reliability"
    section compares the others with (`accuracy`).
    """
    require_columns(cells, CELL_COLUMNS, "cells")
    require_columns(metrics, METRIC_COLUMNS, "metrics")
    variants = metrics["variant"].fillna("").astype(str).ne("").any()
    by = ("model", "variant") if variants else ("model",)
    tables = summary.summarize(cells, metrics, catastrophic_rules, by=by)
    figures: dict[str, Figure | None] = {
        f"dist_{m}": metric_figure(metrics, m) for m in DISTRIBUTION_METRICS
    }
    figures["convergence"] = convergence_figure(tables["convergence"])
    figures["roas_recovery"] = roas_recovery_figure(metrics)
    figures["runtime"] = runtime_figure(cells)
    config_blocks = configuration_blocks(cells, metrics, pareto or {}, figures)
    engine_blocks = comparison_blocks(cells, metrics, figures)
    reference = reference_model or accuracy.reference_in_spec(spec_text)
    accuracy_blocks = accuracy.blocks(metrics, by, reference)
    shown = {k: f for k, f in figures.items() if f is not None}

    def figure(name: str, missing: str) -> Block:
        return Block("figure", name) if name in shown else Block("text", missing)

    counts = cells["status"].value_counts()
    overview = [
        Block("text", f"{len(cells)} cells" + "".join(f", {n} {s}" for s, n in counts.items())),
        table_or_note(tables["status"], "No cells recorded."),
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
            table_or_note(tables[wins], note),
        ]
        best += [
            Block("heading", f"by {metric} ({'lowest' if lower else 'highest'} median)"),
            table_or_note(tables[medians], note),
        ]

    done = cells[(cells["status"] == "done") & cells["seconds"].notna()]
    runtime = done.assign(model=_label(done)).groupby("model")["seconds"]
    runtime_table = runtime.agg(n="count", median="median", max="max", total="sum").reset_index()
    parts = [
        ("Overview", overview),
        ("Engine comparison", engine_blocks),
        ("Convergence", [
            table_or_note(tables["convergence"], "No done cells recorded."),
            figure("convergence", "No convergence flags recorded."),
        ]),
        ("Metric distributions", distributions),
        ("Catastrophic runs", [
            Block("text", f"Done runs breaking a rule: {rule_text}."),
            table_or_note(tables["catastrophic"], "No metric named by the rules is recorded."),
        ]),
        ("Accuracy and reliability", accuracy_blocks),
        ("Winners", winners),
        ("Best model per dataset", best),
        ("Worst runs by R-hat", [table_or_note(tables["worst_rhat"], "No max_rhat recorded.")]),
        ("Configurations", config_blocks),
        ("ROAS recovery", [figure("roas_recovery", "No roas with roas_true recorded.")]),
        ("Runtime", [
            figure("runtime", "No runtimes recorded."),
            table_or_note(runtime_table, "No done cells with a runtime."),
        ]),
        ("Failures", [table_or_note(tables["failures"], "No failed cells.")]),
        ("Spec", [Block("pre", spec_text) if spec_text else Block("text", "No spec snapshot.")]),
    ]  # fmt: skip
    sections = [Section(t, t.lower().replace(" ", "-"), b) for t, b in parts if b]
    return sections, shown


def comparison_blocks(
    cells: pd.DataFrame, metrics: pd.DataFrame, figures: dict[str, Figure | None]
) -> list[Block]:
    """Engines side by side per dataset (`comparison`; adds its figure to `figures`);
    empty unless two or more models recorded fit times."""
    from mmmlab.bench.report import comparison as cmp

    timed = metrics.loc[metrics["metric"] == "fit_s", "model"].nunique()
    if timed < 2:
        return []
    table = cmp.engine_table(cells, metrics)
    ref = cmp.reference_engine(cells)
    figures["engine_speed"] = cmp.speed_figure(table)
    blocks = [
        Block("text", f"Medians over seeds; coverage pooled over channel × seed. "
              f"'{ref} ESS/s ÷' is {ref}'s min ESS/s over each engine's (> 1: {ref} is faster). "
              "ESS is bulk ESS over free parameters; fit s = compile s + sample s. A process "
              "compiles a model shape once: 'first compile s' (the slowest over seeds) is a "
              "first fit's, and 'first-fit ESS/s' charges it to every fit."),
        Block("heading", "Targets"),
        table_or_note(cmp.targets(table, ref), f"No finished {ref} cell to compare."),
        Block("heading", "Every engine"),
        table_or_note(table, "No finished cells."),
    ]  # fmt: skip
    if figures["engine_speed"] is not None:
        blocks.append(Block("figure", "engine_speed"))
    missing = cmp.not_finished(cells)
    if not missing.empty:
        blocks += [Block("heading", "Not finished"), Block("table", missing)]
    return blocks


def configuration_blocks(
    cells: pd.DataFrame,
    metrics: pd.DataFrame,
    pareto: Mapping[str, pd.DataFrame],
    figures: dict[str, Figure | None],
) -> list[Block]:
    """The configuration analysis (adds its figures to `figures`); empty for runs without
    variants, Robyn metrics or ridge cells."""
    from mmmlab.bench.report import configurations as cf

    has_variants = metrics["variant"].fillna("").astype(str).ne("").any()
    robyn = metrics["metric"].isin(["decomp_rssd", "nrmse_train"]).any()
    if not (has_variants or robyn or pareto):
        return []
    base = cf.base_variant(cells) or "(none)"
    figures["tradeoff"] = cf.tradeoff_figure(metrics)
    blocks = [
        Block("text", f"Base configuration: {base}. Medians over seeds; Robyn's metrics."),
        Block("heading", "Best variant per goal"),
        Block("text", "Gain is against the base (positive = better); it beats seed-to-seed "
              "noise when the mean paired gain (same dataset and seed) exceeds twice its SE."),
        table_or_note(cf.best_variant(cells, metrics), "No goal metric recorded."),
        Block("heading", "R² by split"),
        table_or_note(cf.r2_by_split(metrics), "No R² recorded (metric group robyn)."),
        Block("heading", "Train → validation → test"),
        table_or_note(cf.split_gap(metrics), "Fewer than two splits with NRMSE."),
        Block("heading", "NRMSE vs DECOMP.RSSD"),
        Block("figure", "tradeoff") if figures["tradeoff"] is not None
        else Block("text", "No NRMSE with DECOMP.RSSD recorded."),
        Block("heading", "Correlation between metrics (Spearman, over done cells)"),
        table_or_note(cf.metric_correlation(metrics), "Too few cells to correlate."),
    ]  # fmt: skip
    for i, (cell, table) in enumerate(sorted(pareto.items())[:MAX_PARETO]):
        name = f"pareto_{i}"
        figures[name] = cf.pareto_figure(table, cell)
        CAPTIONS.setdefault(name, f"Ridge Pareto fronts and the chosen model of {cell}.")
        if figures[name] is not None:
            blocks += [Block("heading", f"Pareto front: {cell}"), Block("figure", name)]
    return blocks


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
    pareto: Mapping[str, pd.DataFrame] | None = None,
    reference_model: str | None = None,
) -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` and ``figures/*.png`` into ``out_dir``.

    Parameters
    ----------
    cells, metrics : DataFrame
        The store's tables (``tables.CELL_COLUMNS``, ``tables.METRIC_COLUMNS``).
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
    pareto : mapping, optional
        Ridge cell name -> its evaluated candidates (`RidgeFit.pareto`).
    reference_model : str, optional
        The model others are compared with; by default the spec's ``reference_model``.

    Returns
    -------
    dict of str to Path
        ``html``, ``markdown``, and ``figure:<name>`` for every figure written.
    """
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    sections, figures = build_sections(
        cells, metrics, spec_text, environment, catastrophic_rules, pareto, reference_model
    )
    stamp = (generated or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M %Z").strip()
    images = {name: _png(fig) for name, fig in figures.items()}
    paths = {"html": out / "report.html", "markdown": out / "report.md"}
    for name, data in images.items():
        paths[f"figure:{name}"] = out / "figures" / f"{name}.png"
        paths[f"figure:{name}"].write_bytes(data)
    paths["html"].write_text(render_html(title, stamp, sections, images), encoding="utf-8")
    paths["markdown"].write_text(render_markdown(title, stamp, sections), encoding="utf-8")
    return paths
