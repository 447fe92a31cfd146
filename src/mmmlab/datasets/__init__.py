"""Public sample datasets shipped with mmmlab, by name.

The CSVs are byte-for-byte copies; origins and licences are in SOURCES.md and NOTICE beside them::

    from mmmlab import datasets
    datasets.names()                          # ('robyn_simulated', 'meridian_national', ...)
    dataset = datasets.load("robyn_simulated")
    datasets.path("robyn_simulated")          # the CSV, to read or to pass to `mmmlab fit`
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from mmmlab.data import ColumnMap, Dataset, read_dataset

# name -> the CSV shipped under its upstream name; its column map is NAME_columns.yaml.
FILES = {
    "robyn_simulated": "robyn_dt_simulated_weekly.csv",
    "meridian_national": "meridian_national_all_channels.csv",
    "pymc_example": "pymc_marketing_mmm_example.csv",
}


def names() -> tuple[str, ...]:
    """The shipped datasets' names."""
    return tuple(FILES)


def folder() -> Path:
    """The folder of the shipped files: a data folder for specs that read them by file name
    (the ``${data}`` of suite hill-mixture-public)."""
    return Path(str(resources.files(__name__)))


def _file(name: str) -> Path:
    return folder() / name


def _known(name: str) -> str:
    if name not in FILES:
        raise ValueError(f"unknown dataset {name!r}; the shipped datasets are: {', '.join(FILES)}")
    return name


def path(name: str) -> Path:
    """The CSV file of dataset `name`. Raises ValueError, listing the names, for an unknown one."""
    return _file(FILES[_known(name)])


def columns(name: str) -> ColumnMap:
    """The column map (`ColumnMap`) that reads dataset `name`."""
    return ColumnMap.from_yaml(_file(f"{_known(name)}_columns.yaml"))


def load(name: str) -> Dataset:
    """Dataset `name`, read by `mmmlab.data.read_dataset` with its shipped column map."""
    return read_dataset(path(name), columns(name))
