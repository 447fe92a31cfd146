"""The benchmark report: self-contained HTML, Markdown tables, honest gaps, renders headless."""

from __future__ import annotations

import base64
import re
import shutil
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from mmmlab.bench.report import document as report

sys.path.insert(0, str(Path(__file__).parent))
from test_bench_summary import fixed_tables  # noqa: E402

SPEC = "datasets: [A, B]\nmodels: [m1, m2]\nnote: <script>alert(1)</script> & more\n"
ENVIRONMENT = {"python": "3.11.9", "packages": {"jax": "0.6.0"}, "git_commit": "abc123"}
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "headless_shell")
# Headless on a closed network: no GPU, no QUIC, none of the background connections Chromium
# would try (refused here); Playwright adds a fresh empty profile of its own.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


def _chromium() -> str:
    path = next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)
    assert path, (
        f"no Chromium on PATH (looked for {', '.join(CHROMIUM_NAMES)}): `make test` installs it "
        "(apt-get install -y chromium, as root); install it yourself to run this test"
    )
    return path


def test_report_renders_in_headless_chromium(written, tmp_path):
    """Playwright drives the system Chromium (no browser download): the page's title, a table
    and every figure are visible, the console stays clean, and a screenshot shows the page."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    shot = tmp_path / "report.png"
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[:80]}"))
        page.goto(written["html"].resolve().as_uri(), wait_until="load")
        page.screenshot(path=shot, full_page=True)  # first, to look at when a check fails
        title, heading = page.title(), page.locator("h1")
        tables, figures = page.locator("table"), page.locator("figure img")
        assert title == "Bench <A & B>" and heading.inner_text() == title, shot
        assert heading.is_visible() and tables.count() >= 5 and tables.first.is_visible(), shot
        assert figures.count() == 5, shot
        for i in range(5):
            figure = figures.nth(i)
            figure.scroll_into_view_if_needed()
            assert figure.is_visible() and figure.evaluate("i => i.complete && i.naturalWidth > 0")
            assert figure.bounding_box()["width"] > 100, (figure.get_attribute("alt"), shot)
        browser.close()
    assert not problems, (problems, shot)
    image = plt.imread(shot)  # a PNG that decodes, the whole page long, not a blank page
    assert image.shape[0] > 900 and image.shape[1] == 1280, image.shape
    assert image[..., :3].std() > 0.05, shot  # this report: 0.11; a page of one line: 0.01
