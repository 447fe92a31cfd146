"""What `mmmlab design` writes: recommendations.csv (every candidate, ranked),
summary.json (settings, noise, identification, null-confirmation, front, top rows) and
report.html (the tables and the figures of `design.plots`, embedded)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib.pyplot as plt

from mmmlab.design.designer import Recommendations
from mmmlab.design.plots import FIGURES
from mmmlab.files import write_json

SHOWN = [
    "rank", "candidate", "lift_mean", "noise_sd", "assurance", "right_sign", "assurance_iid",
    "assurance_sceptical", "assurance_prior", "sd_reduction", "rule_out", "cost", "pareto",
]  # fmt: skip
CAPTIONS = {
    "lift": "Predicted lift per posterior draw of the top candidates.",
    "duration": "Assurance against duration, per channel and spend change.",
    "front": "Assurance against cost; the line is the Pareto front.",
    "ramp": "Adstock ramp-up within the top test and its carry-over after it.",
    "identification": "Identification: spend correlation and prior→posterior contraction.",
}


def write_recommendations(rec: Recommendations, out: str | Path) -> dict[str, Path]:
    """The design's files in `out` (made if missing); returns name -> path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "recommendations": out / "recommendations.csv",
        "summary": out / "summary.json",
        "report": out / "report.html",
    }
    rec.table.to_csv(files["recommendations"], index=False)
    summary = rec.summary() | {"files": {k: str(v) for k, v in files.items()}}
    write_json(files["summary"], summary, indent=2)
    files["report"].write_text(report_html(rec))
    return files


def report_html(rec: Recommendations) -> str:
    """One self-contained HTML page: settings, noise, the ranked table, the figures."""
    table = rec.table.head(25)[SHOWN].to_html(
        index=False, float_format=lambda v: f"{v:,.3g}", na_rep="–", border=0
    )
    noise = "".join(
        f"<tr><td>{k}</td><td>{w}</td><td>{n.sigma:,.4g}</td><td>{n.rho:.2f}</td>"
        f"<td>{n.iid:,.4g}</td><td>{n.ar1:,.4g}</td><td>{n.placebo:,.4g}</td><td>{n.used:,.4g}</td></tr>"
        for (k, w), n in sorted(rec.noise.items())
    )
    why = "".join(
        f"<li><b>{html.escape(r.candidate)}</b>: {html.escape(r.rationale)}</li>"
        for r in rec.table.head(10).itertuples()
    )
    figures = "".join(
        f"<figure><img src='data:image/png;base64,{_png(make(rec))}'>"
        f"<figcaption>{CAPTIONS[name]}</figcaption></figure>"
        for name, make in FIGURES.items()
    )
    settings = html.escape(", ".join(f"{k}={v}" for k, v in rec.settings.items()))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>mmmlab design</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse;font-size:12px}}td,th{{padding:2px 6px;text-align:right}}
img{{max-width:100%}}</style></head><body>
<h1>Which lift test next</h1><p>Tests start {rec.dates[0].date()}; {settings}</p>
<h2>Ranked candidates</h2>{table}<h2>Why</h2><ul>{why}</ul>
<h2>Noise of a lift estimate (sd)</h2><table><tr><th>design</th><th>periods</th><th>σ</th>
<th>ρ</th><th>iid</th><th>AR(1)</th><th>placebo</th><th>used</th></tr>{noise}</table>
<h2>Figures</h2>{figures}</body></html>
"""


def _png(fig: plt.Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()
