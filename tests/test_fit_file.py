"""A saved fit is checked when loaded: checksums written at save time, the schema of a
config, the training data's fingerprint; a damaged or edited fit names the path and field."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

import mmmlab
from mmmlab.inference.diagnostics import Diagnostics

pytestmark = pytest.mark.xdist_group("fit")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    dataset, _ = mmmlab.example_dataset()
    fit = mmmlab.fit(dataset, seed=0, method="map")
    path = tmp_path_factory.mktemp("fit") / "fit"
    fit.save(path)
    return fit, path


def _copy(saved, tmp_path):
    target = tmp_path / "fit"
    shutil.copytree(saved[1], target)
    return target, json.loads((target / "fit.json").read_text())


def test_a_saved_fit_loads_back_equal(saved):
    fit, path = saved
    loaded = mmmlab.load(path)
    np.testing.assert_array_equal(loaded.roas().values, fit.roas().values)
    meta = json.loads((path / "fit.json").read_text())
    assert meta["format_version"] == 2
    assert set(meta["checksums"]) == {"posterior.nc", "train.npz"}


def test_an_edited_fit_json_is_refused(saved, tmp_path):
    path, meta = _copy(saved, tmp_path)
    meta["scaling"]["y_scale"][0] *= -1  # once loaded silently: every ROAS became -0
    (path / "fit.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"fit\.json: content does not match its checksum"):
        mmmlab.load(path)


def test_a_damaged_data_file_is_named(saved, tmp_path):
    path, _ = _copy(saved, tmp_path)
    with (path / "posterior.nc").open("r+b") as f:
        f.seek(200)
        f.write(b"\x00" * 16)
    with pytest.raises(ValueError, match=r"posterior\.nc: checksum differs"):
        mmmlab.load(path)
    (path / "fit.json").write_text('{"format_version": 2, "scal')
    with pytest.raises(ValueError, match=r"fit\.json: not valid JSON .* damaged"):
        mmmlab.load(path)


def test_an_older_fit_without_checksums_is_still_read_through_the_schema(saved, tmp_path):
    path, meta = _copy(saved, tmp_path)
    for key in ("checksum", "checksums"):
        del meta[key]
    meta["format_version"] = 1
    (path / "fit.json").write_text(json.dumps(meta))
    assert mmmlab.load(path).scaling.y_scale[0] == pytest.approx(meta["scaling"]["y_scale"][0])
    meta["scaling"]["y_scale"][0] *= -1
    meta["config"]["priors"] = {"effect": {"dist": "half_normal", "scale": 0}}
    meta["dataset"]["channels"] = meta["dataset"]["channels"][:3]
    (path / "fit.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError) as err:
        mmmlab.load(path)
    message = str(err.value)
    assert f"{path / 'fit.json'}: invalid saved fit" in message
    assert "scaling.y_scale.0: Input should be greater than 0" in message
    assert "config.priors.effect.scale: must be > 0 for the half_normal family" in message


def test_scaling_shapes_must_fit_the_dataset(saved, tmp_path):
    path, meta = _copy(saved, tmp_path)
    for key in ("checksum", "checksums"):
        del meta[key]
    meta["format_version"] = 1
    meta["dataset"]["channels"] = meta["dataset"]["channels"][:3]
    (path / "fit.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"scaling\.media_scale is not \(1, 3\)"):
        mmmlab.load(path)


def test_one_chain_reports_no_r_hat_instead_of_nan():
    one = Diagnostics(
        max_rhat=math.nan,
        min_ess_bulk=500.0,
        min_ess_tail=500.0,
        divergences=0,
        min_bfmi=0.9,
        compile_s=1.0,
        sample_s=1.0,
        ess_per_s=250.0,
        num_chains=1,
        num_draws=1000,
        method="nuts",
    )
    text = " ".join(one.warnings())
    assert "one chain: R-hat needs two or more chains" in text
    assert "nan" not in text.lower()
