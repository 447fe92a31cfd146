"""The README's Python snippet runs as written, and says what it shows."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.xdist_group("fit")
README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_readme_python_snippet_runs(tmp_path, monkeypatch):
    blocks = python_blocks(README.read_text())
    assert blocks, "README.md has no ```python block"
    monkeypatch.chdir(tmp_path)  # it writes runs/... where it runs
    names: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), names)  # noqa: S102
    fit, same, test = names["fit"], names["same"], names["test"]
    assert fit.diagnostics.max_rhat < 1.05
    roas = fit.roas()
    assert list(roas.index) == list(names["dataset"].channels)
    pd.testing.assert_frame_equal(same.roas(), roas)
    assert fit.predict(test).shape[1:] == (test.n_time, test.n_geos)
    assert (tmp_path / "runs" / "example-fit" / "fit.json").is_file()
