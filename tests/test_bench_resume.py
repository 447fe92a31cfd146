"""A resumed run and the code and data its finished cells came from: each cell is stored
with its code version and data fingerprint, and a resume names the finished cells that other
code produced or whose data files have changed since, and reruns them on request."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
import yaml

from mmmlab import datasets
from mmmlab.bench.grid.spec import parse_spec
from mmmlab.bench.results.environment import code_version
from mmmlab.bench.results.store import Store
from mmmlab.bench.run.runner import run_benchmark

pytestmark = pytest.mark.xdist_group("bench")
RIDGE = {"name": "r", "backend": "ridge", "params": {"iterations": 10, "trials": 1, "bootstrap": 5}}


def _spec(csv) -> dict:
    columns = {"date": "DATE", "target": "revenue", "spend": ["tv_S", "ooh_S", "search_S"]}
    return {
        "name": "resume",
        "datasets": [
            {"file": str(csv), "columns": columns, "name": "shop"},
            {"preset": "small_business"},
        ],
        "models": [RIDGE],
        "seeds": 1,
        "metrics": ["predictive", "channels"],
    }


def _run(spec: dict, out, **flags):
    events: list[tuple[str, str]] = []
    result = run_benchmark(
        parse_spec(spec),
        yaml.safe_dump(spec),
        out,
        workers=1,
        on_event=lambda kind, text: events.append((kind, text)),
        **flags,
    )
    return result, [text for kind, text in events if kind == "stale"]


def _keys(out) -> dict[str, tuple[str, str]]:
    with Store.open(out, readonly=True) as store:
        cells = store.cells_frame()
    return {r.name: (r.code_version, r.data_fingerprint) for r in cells.itertuples()}


def test_a_resume_names_cells_of_other_code_or_changed_data_and_reruns_them(tmp_path):
    csv = tmp_path / "shop.csv"
    shutil.copy(datasets.folder() / "robyn_dt_simulated_weekly.csv", csv)
    spec, out = _spec(csv), tmp_path / "run"
    first, stale = _run(spec, out)
    assert first.ran == 2 and first.counts["done"] == 2 and stale == []
    keys = _keys(out)
    assert {version for version, _ in keys.values()} == {code_version()}
    assert all(len(fingerprint) == 16 for _, fingerprint in keys.values())

    shop, world = "shop/r/seed=0", "small_business/r/seed=0"
    with sqlite3.connect(out / "results.sqlite") as conn:  # as if an older mmmlab ran it
        conn.execute("UPDATE cells SET code_version = '0.0.9+src.old' WHERE name = ?", (world,))
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([lines[0], *lines[2:]]) + "\n")  # the file loses its first week

    again, stale = _run(spec, out)
    assert again.ran == 0 and len(stale) == 1
    message = " ".join(stale[0].split())
    assert "1 finished cell(s) came from other code than this run's" in message
    assert "1 from 0.0.9+src.old" in message
    assert "1 finished cell(s) were fitted to data that have changed since (shop)" in message
    assert "--rerun-stale" in message

    rerun, stale = _run(spec, out, rerun_stale=True)
    assert rerun.ran == 2 and rerun.counts["done"] == 2
    after = _keys(out)
    assert after[world][0] == code_version() and after[world][1] == keys[world][1]
    assert after[shop][1] != keys[shop][1]  # the data it now saw
    assert _run(spec, out)[1] == []  # nothing left from elsewhere

    with sqlite3.connect(out / "results.sqlite") as conn:  # as a store of schema 1 leaves them
        conn.execute("UPDATE cells SET code_version = NULL, data_fingerprint = NULL")
    stale = _run(spec, out)[1]
    assert "2 finished cell(s) came from other code" in stale[0]
    assert "2 from before cells recorded their code" in stale[0]
