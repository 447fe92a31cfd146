"""NUTS programs kept on disk (`inference.exported`): a process that reads them traces none
of the model for its sampler and draws the same posterior, bit for bit, as one that traced
it; without a cache directory nothing is kept and the sampler traces as before."""

from __future__ import annotations

import numpy as np
import pytest

import mmmlab
from mmmlab.inference import exported
from mmmlab.inference.programs import PROGRAMS

pytestmark = pytest.mark.xdist_group("fit")

SETTINGS = {"num_warmup": 100, "num_samples": 100, "num_chains": 2}


def _fit(dataset) -> mmmlab.Fit:
    PROGRAMS.clear()  # as a new process: nothing compiled in memory
    return mmmlab.fit(dataset, seed=3, **SETTINGS)


def test_programs_read_from_disk_draw_the_same_posterior(tmp_path, monkeypatch) -> None:
    if exported.directory() is None:
        pytest.skip("JAX cannot serialize here (flatbuffers missing) or the cache is off")
    dataset, _ = mmmlab.example_dataset(n_weeks=80, seed_value=1)
    monkeypatch.setenv("MMMLAB_CACHE_DIR", "off")
    traced = _fit(dataset)
    monkeypatch.setenv("MMMLAB_CACHE_DIR", str(tmp_path))
    first = _fit(dataset)  # traces, exports, and samples with the exported programs
    stored = sorted(p.name.split("-")[0] for p in (tmp_path / "exported").iterdir())
    assert stored == ["nuts.advance", "nuts.constrain", "nuts.init"]
    read = _fit(dataset)  # reads them
    for fit in (first, read):
        assert fit.posterior.keys() == traced.posterior.keys()
        for name, value in traced.posterior.items():
            np.testing.assert_array_equal(fit.posterior[name], value)
        for name, value in traced.sample_stats.items():
            np.testing.assert_array_equal(fit.sample_stats[name], value)


def test_the_key_covers_the_source_and_the_versions() -> None:
    env = exported.environment()
    assert "jax=" in env and "numpyro=" in env and "x64=True" in env
    assert len(env.split("|")[0]) == 64  # the digest of mmmlab's source files
