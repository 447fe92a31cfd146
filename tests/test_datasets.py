"""The shipped sample datasets: exact bytes, licences beside them, loaded by name, packaged."""

from __future__ import annotations

import fnmatch
import hashlib
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import mmmlab
from mmmlab import datasets
from mmmlab.bench.grid.cells import expand
from mmmlab.bench.grid.spec import parse_spec
from mmmlab.data import ColumnMap

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "src" / "mmmlab" / "datasets"
SHA256 = {  # as published in SOURCES.md (and shared/data/SOURCES.md where they were fetched)
    "robyn_simulated": "d541cfa92ca68fbda03ce6c987733e996b3abf44a95f2a32ce6836b9f8258cf1",
    "meridian_national": "d001b91e494a90d9c88923df6cbd15fd73af132c3609c424daaea3c57c69803a",
    "pymc_example": "320d299569b989c37facac5bda6a4ee2d661cb12e158ac5d80689c8cc3d37955",
}
# name: (periods, channels, first date, last date, target column)
SHAPES = {
    "robyn_simulated": (208, 5, "2015-11-23", "2019-11-11", "revenue"),
    "meridian_national": (156, 5, "2021-01-25", "2024-01-15", "conversions"),
    "pymc_example": (179, 2, "2018-04-02", "2021-08-30", "y"),
}


def test_the_registry_names_three_datasets():
    assert datasets.names() == ("robyn_simulated", "meridian_national", "pymc_example")
    assert mmmlab.datasets is datasets and "datasets" in mmmlab.__all__


@pytest.mark.parametrize("name", list(SHA256))
def test_each_file_is_the_published_bytes(name):
    path = datasets.path(name)
    assert path.parent == FOLDER, path  # the package's copy, not one beside the repository
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA256[name]
    assert f"{SHA256[name]}  {path.name}" in (FOLDER / "SOURCES.md").read_text()


@pytest.mark.parametrize("name", list(SHAPES))
def test_each_dataset_loads_by_name_with_its_column_map(name):
    periods, n_channels, first, last, target = SHAPES[name]
    dataset = datasets.load(name)
    raw = pd.read_csv(datasets.path(name))
    assert (dataset.n_time, dataset.n_channels, dataset.frequency) == (
        periods,
        n_channels,
        "weekly",
    )
    assert dataset.dates[0] == pd.Timestamp(first) and dataset.dates[-1] == pd.Timestamp(last)
    np.testing.assert_allclose(dataset.target[:, 0], raw[target])
    columns = datasets.columns(name)
    assert isinstance(columns, ColumnMap) and columns.target == target
    spend = list(columns.channel_columns.values())
    np.testing.assert_allclose(dataset.spend[:, 0, :], raw[spend].to_numpy())


@pytest.mark.parametrize(
    ("name", "example"), [("robyn_simulated", "robyn"), ("meridian_national", "meridian")]
)
def test_shipped_column_maps_equal_the_examples(name, example):
    assert datasets.columns(name) == ColumnMap.from_yaml(
        ROOT / "examples" / f"{example}_columns.yaml"
    )


@pytest.mark.parametrize("call", [datasets.path, datasets.columns, datasets.load])
def test_an_unknown_name_lists_the_known_ones(call):
    with pytest.raises(ValueError, match="unknown dataset 'robyn'") as caught:
        call("robyn")
    for name in datasets.names():
        assert name in str(caught.value)


def test_licence_notices_ship_beside_the_files():
    notice = (FOLDER / "NOTICE").read_text()
    for name in datasets.names():
        assert datasets.path(name).name in notice
    mit = (FOLDER / "LICENSE-MIT-Robyn.txt").read_text()
    assert "Copyright (c) Meta Platforms, Inc. and its affiliates." in mit
    assert "The above copyright notice and this permission notice shall be included" in mit
    apache = (FOLDER / "LICENSE-Apache-2.0.txt").read_text()
    assert "Apache License" in apache and "Version 2.0, January 2004" in apache
    assert "END OF TERMS AND CONDITIONS" in apache  # the whole text, not a pointer to it
    for holder in ("Meta Platforms", "The Meridian Authors", "The PyMC Labs Developers"):
        assert holder in notice


def test_the_public_suite_reads_the_shipped_files():
    text = (ROOT / "src" / "mmmlab" / "bench" / "suites" / "hill-mixture-public.yaml").read_text()
    spec = parse_spec(yaml.safe_load(text.replace("${data}", str(datasets.folder()))))
    assert datasets.folder() == FOLDER
    assert sorted(Path(d.file).name for d in spec.datasets) == sorted(
        datasets.path(name).name for name in datasets.names()
    )
    assert len(expand(spec)) == 3 * 4 * 3  # datasets x models x seeds


def test_every_file_of_the_folder_is_package_data():
    """A non-editable install carries the CSVs, maps and licences (pyproject's package-data)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["mmmlab"]
    files = [p for p in FOLDER.iterdir() if p.is_file() and p.suffix not in (".py", ".pyc")]
    assert len(files) >= 9, files  # 3 CSVs, 3 maps, SOURCES.md, NOTICE, 2 licences
    for file in files:
        relative = f"datasets/{file.name}"
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative
