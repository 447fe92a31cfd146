"""Without a peer library installed, a spec naming its backend still parses, and the
benchmark records each of its cells as skipped with the install hint (never failed)."""

from __future__ import annotations

import importlib.util

import pytest
import yaml

from mmmlab.bench.grid.cells import expand
from mmmlab.bench.grid.spec import SpecError, parse_spec
from mmmlab.bench.results.store import Store
from mmmlab.bench.run.runner import run_benchmark

pytestmark = pytest.mark.xdist_group("bench")
PEERS = [  # (backend, module its extra installs, params, install hint)
    ("pymc-marketing", "pymc_marketing", {"sampler": "nutpie"}, "pip install 'mmmlab[pymc]'"),
    ("meridian", "meridian", {"max_lag": 8}, "pip install 'mmmlab[meridian]'"),
]


@pytest.mark.parametrize(("backend", "module", "params", "hint"), PEERS)
def test_a_missing_peer_library_skips_its_cells_with_the_install_hint(
    tmp_path, monkeypatch, backend, module, params, hint
):
    assert importlib.util.find_spec(module) is None, (
        f"{module} is installed in this environment: run this test where the peer extras are "
        "not (`make test`'s .venv; they live in .venv-pymc and .venv-meridian)"
    )
    extra = "PYMC" if backend == "pymc-marketing" else "MERIDIAN"
    monkeypatch.setenv(f"MMMLAB_PYTHON_{extra}", "none")  # not its .venv-EXTRA either
    spec = {
        "name": "missing-peer",
        "datasets": [{"preset": "small_business"}],
        "models": [{"name": "peer", "backend": backend, "params": params}],
        "seeds": 1,
        "inference": {"num_warmup": 10, "num_samples": 10},
    }
    result = run_benchmark(parse_spec(spec), yaml.safe_dump(spec), tmp_path / "run", workers=1)
    assert result.counts["skipped"] == 1, result.counts
    with Store.open(tmp_path / "run", readonly=True) as store:
        cell = store.cells_frame().iloc[0]
    assert cell["status"] == "skipped" and hint in cell["skip_reason"]


def test_a_misspelled_peer_parameter_is_a_spec_error():
    spec = {
        "name": "bad-peer",
        "datasets": [{"preset": "small_business"}],
        "models": [{"name": "peer", "backend": "pymc-marketing", "params": {"samplr": "pymc"}}],
    }
    with pytest.raises(SpecError, match="samplr"):
        expand(parse_spec(spec))
