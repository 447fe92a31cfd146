"""The benchmark report: self-contained HTML, Markdown tables, honest gaps, renders headless."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmmlab.bench import report

sys.path.insert(0, str(Path(__file__).parent))
from test_bench_summary import fixed_tables  # noqa: E402

SPEC = "datasets: [A, B]\nmodels: [m1, m2]\nnote: <script>alert(1)</script> & more\n"
ENVIRONMENT = {"python": "3.11.9", "packages": {"jax": "0.6.0"}, "git_commit": "abc123"}
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "headless_shell")


@pytest.fixture
def written(tmp_path) -> dict[str, Path]:
    cells, metrics = fixed_tables()
    return report.write_report(cells, metrics, tmp_path / "out", "Bench <A & B>", SPEC, ENVIRONMENT)


def test_report_files_exist(written):
    assert written["html"].name == "report.html" and written["html"].is_file()
    assert written["markdown"].name == "report.md" and written["markdown"].is_file()
    figures = {k for k in written if k.startswith("figure:")}
    expected = {"dist_test_rmse", "dist_elpd_loo", "convergence", "roas_recovery", "runtime"}
    assert figures == {f"figure:{name}" for name in expected}
    for key in figures:
        assert written[key].parent.name == "figures"
        assert written[key].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_html_is_self_contained(written):
    page = written["html"].read_text(encoding="utf-8")
    for forbidden in ("http://", "https://", "<script", "<link", "@import", "url("):
        assert forbidden not in page, forbidden
    sources = re.findall(r'<img[^>]*\bsrc="([^"]*)"', page)
    assert len(sources) == len(re.findall(r"<img\b", page)) == 5
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        png = base64.b64decode(source.split(",", 1)[1], validate=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_html_escapes_every_text(written):
    page = written["html"].read_text(encoding="utf-8")
    assert "<title>Bench &lt;A &amp; B&gt;</title>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert "<th>elpd_loo &lt; -2000</th>" in page


def test_html_has_every_section(written):
    page = written["html"].read_text(encoding="utf-8")
    for title in (
        "Overview",
        "Environment",
        "Convergence",
        "Metric distributions",
        "Catastrophic runs",
        "Winners",
        "Best model per dataset",
        "Worst runs by R-hat",
        "ROAS recovery",
        "Runtime",
        "Failures",
        "Spec",
    ):
        assert f">{title}</h" in page, title
    assert "12 cells, 11 done, 1 failed" in page
    assert "<td>ValueError: boom</td>" in page
    assert "<td>packages.jax</td><td>0.6.0</td>" in page


def test_markdown_has_the_tables(written):
    text = written["markdown"].read_text(encoding="utf-8")
    assert text.startswith("# Bench &lt;A &amp; B&gt;\n")
    assert "| model | n_done | n_assessed | n_converged | rate |\n|---|---:|---:|---:|---:|" in text
    assert "| m1 | 6 | 6 | 5 | 0.8333 |" in text
    assert "| model | n_wins | n_wins_not_converged |" in text
    assert "| m1 | 5 | 1 |" in text  # test_rmse wins
    assert "| dataset | model | n_runs | elpd_loo &lt; -2000 | n_any |" in text
    assert "| B/m2/seed=2 | m2 | ValueError: boom |" in text
    assert "```\ndatasets: [A, B]\n" in text
    for name in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (written["markdown"].parent / name).is_file(), name
    # Every table row has as many cells as its header.
    for block in re.findall(r"((?:^\|.*\|\n)+)", text, flags=re.MULTILINE):
        widths = {len(re.split(r"(?<!\\)\|", line)) for line in block.splitlines()}
        assert len(widths) == 1, block


def test_missing_data_sections_say_so(tmp_path):
    cells, metrics = fixed_tables()
    sparse = metrics[metrics["metric"] == "test_rmse"]
    paths = report.write_report(cells, sparse, tmp_path, "Sparse")
    page = paths["html"].read_text(encoding="utf-8")
    for note in (
        "No elpd_loo recorded.",
        "No max_rhat recorded.",
        "No roas with roas_true recorded.",
        "No convergence flags recorded.",
        "No metric named by the rules is recorded.",
        "No spec snapshot.",
    ):
        assert note in page, note
    assert set(paths) == {"html", "markdown", "figure:dist_test_rmse", "figure:runtime"}
    empty = report.write_report(cells.iloc[:0], metrics.iloc[:0], tmp_path / "empty", "Empty")
    assert "No failed cells." in empty["html"].read_text(encoding="utf-8")
    assert set(empty) == {"html", "markdown"}


def test_variants_are_kept_apart(tmp_path):
    cells, metrics = fixed_tables()
    metrics = metrics.assign(variant=np.where(metrics["seed"] == 0, "adstock=weibull", ""))
    cells = cells.assign(variant=np.where(cells["seed"] == 0, "adstock=weibull", ""))
    sections, _ = report.build_sections(cells, metrics)
    convergence = next(s for s in sections if s.title == "Convergence").blocks[0].content
    assert list(convergence.columns[:2]) == ["model", "variant"]
    assert len(convergence) == 4
    text = report.write_report(cells, metrics, tmp_path, "V")["markdown"].read_text()
    assert "| m1 | adstock=weibull | 2 | 2 | 2 | 1 |" in text


@pytest.mark.parametrize(
    ("values", "scale"),
    [([1.0, 5.0, 50.0], "linear"), ([0.5, 5.0, 500.0], "log"), ([-10.0, -50.0, -5000.0], "symlog")],
)
def test_distribution_scale_shows_tails(values, scale):
    n = len(values)
    fig = report.distribution_figure(
        pd.Series(["m"] * n), pd.Series(values), pd.Series([1.0] * n), "x"
    )
    assert fig.axes[0].get_yscale() == scale


def test_value_text():
    assert [report._text(v) for v in (np.nan, None, 3, 0.833333, -12345.6, 2.0)] == [
        "—",
        "—",
        "3",
        "0.8333",
        "-12,346",
        "2",
    ]


def _chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def test_report_renders_in_headless_chromium(written, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip(
            "no Chromium found (looked for chromium, chromium-browser, google-chrome, "
            "headless_shell); install one, e.g. `apt-get install chromium`, to run this test"
        )
    command = [
        browser,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=2000",
        "--dump-dom",
        written["html"].resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    for sign in ("Uncaught", "ERROR:CONSOLE"):
        assert sign not in done.stderr, done.stderr[-2000:]
    assert "<h1>Bench &lt;A &amp; B&gt;</h1>" in done.stdout
    assert done.stdout.count('src="data:image/png;base64,') == 5
