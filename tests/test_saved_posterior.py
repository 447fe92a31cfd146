"""`posterior.nc` is written and read without ArviZ, in ArviZ's own layout: ArviZ reads a file
mmmlab wrote as the one it writes itself, and a fit saved with ArviZ's writer (every fit saved
before) loads with the same draws."""

from __future__ import annotations

import json
import warnings

import arviz as az
import numpy as np
import pytest

import mmmlab
from mmmlab.inference import serialize

pytestmark = pytest.mark.xdist_group("fit")


def _groups() -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    return {
        "posterior": {
            "intercept": rng.normal(size=(2, 50, 1)),
            "trend_slope": rng.normal(size=(2, 50)),
            "effect": rng.normal(size=(2, 50, 3, 2)),
        },
        "sample_stats": {
            "diverging": rng.random((2, 50)) < 0.1,
            "num_steps": rng.integers(1, 64, size=(2, 50)),
            "energy": rng.normal(size=(2, 50)),
        },
    }


def _arviz_write(path, groups) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        az.from_dict(**groups).to_netcdf(str(path))


def test_arviz_reads_mmmlab_file_as_its_own(tmp_path) -> None:
    groups = _groups()
    serialize._write_netcdf(tmp_path / "ours.nc", groups)
    _arviz_write(tmp_path / "theirs.nc", groups)
    ours, theirs = az.from_netcdf(tmp_path / "ours.nc"), az.from_netcdf(tmp_path / "theirs.nc")
    assert ours.groups() == theirs.groups()
    for group in ours.groups():
        a, b = getattr(ours, group), getattr(theirs, group)
        a.attrs.pop("created_at")
        b.attrs.pop("created_at")
        assert a.identical(b), group


def test_mmmlab_reads_arviz_file(tmp_path) -> None:
    groups = _groups()
    _arviz_write(tmp_path / "theirs.nc", groups)
    read = serialize._read_netcdf(tmp_path / "theirs.nc")
    assert read.keys() == groups.keys()
    for group, arrays in groups.items():
        assert read[group].keys() == arrays.keys()
        for name, value in arrays.items():
            np.testing.assert_array_equal(read[group][name], value)
            assert read[group][name].dtype == value.dtype


def test_a_fit_saved_with_arviz_still_loads(tmp_path) -> None:
    dataset, _ = mmmlab.example_dataset()
    fit = mmmlab.fit(dataset, seed=0, method="map")
    path = tmp_path / "fit"
    fit.save(path)
    _arviz_write(path / "posterior.nc", {"posterior": fit.posterior})  # as saved before
    meta = json.loads((path / "fit.json").read_text())
    meta["checksums"]["posterior.nc"] = serialize._sha256(path / "posterior.nc")
    meta["checksum"] = serialize._self_checksum(meta)
    (path / "fit.json").write_text(json.dumps(meta))
    loaded = mmmlab.load(path)
    for name, value in fit.posterior.items():
        np.testing.assert_array_equal(loaded.posterior[name], value)
    assert loaded.sample_stats == {}
