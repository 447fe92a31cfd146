"""The saved-fit format: NetCDF posterior, JSON config and metadata, the training data.

`posterior.nc` is laid out as ArviZ 0.x writes an `InferenceData` (groups posterior and
sample_stats; dims chain, draw and `<site>_dim_<i>`, each with its integer coordinate; zlib;
HDF5 through h5netcdf), so `arviz.from_netcdf` reads it, but it is written and read here with
xarray alone: a fit does not import ArviZ.

`save_fit` writes a `Fit`'s fields and `read_fit` reads them back (`inference.fit.load_fit`
makes the `Fit`), so this module needs no `Fit` of its own.

`fit.json` carries SHA-256 checksums of itself and of the two data files, written at save
time, and is read through a strict schema (the same `ModelConfig` a config file goes
through), so a damaged or edited fit is refused with the path and the field, never loaded.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mmmlab.data import Dataset, DatasetError
from mmmlab.data.lift_tests import LiftExperiment
from mmmlab.files import schema_errors, strict_json
from mmmlab.inference.diagnostics import Diagnostics
from mmmlab.models.config import ModelConfig
from mmmlab.models.scaling import Scaling

FORMAT_VERSION = 2  # 2 added the checksums; version 1 files load without them
_DATA_FILES = ("posterior.nc", "train.npz")
_ARRAYS = (
    "spend",
    "target",
    "exposure",
    "controls",
    "population",
    "time_index",
    "history_spend",
    "history_exposure",
)
_STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
Positive = Annotated[float, Field(gt=0)]


class ScalingInfo(BaseModel):
    """`Scaling` as saved: divisors positive, shapes checked against the dataset."""

    model_config = _STRICT
    y_scale: list[Positive]
    media_scale: list[list[Positive]]
    control_mean: list[list[float]]
    control_std: list[list[Positive]]
    t_origin: int
    t_span: int = Field(ge=1)
    changepoints: list[float]
    spend_share: list[Annotated[float, Field(ge=0)]] | None = None


class DatasetInfo(BaseModel):
    """What `train.npz` cannot say of the training data."""

    model_config = _STRICT
    fingerprint: str
    name: str
    dates: list[str]
    geos: list[str]
    channels: list[str]
    control_names: list[str]
    frequency: Literal["daily", "weekly", "monthly"]
    source: dict[str, Any]


class FitFile(BaseModel):
    """The schema of `fit.json`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format_version: Literal[1, 2]
    method: Literal["nuts", "map", "svi"]
    seed: int
    settings: dict[str, Any]
    config: ModelConfig
    scaling: ScalingInfo
    diagnostics: dict[str, float | int | str | None]
    dataset: DatasetInfo
    checksums: dict[str, str] | None = None
    checksum: str | None = None
    lift_tests: list[dict[str, Any]] = []  # fits saved before lift tests have none

    @model_validator(mode="after")
    def _shapes(self) -> FitFile:
        g, c, k = (
            len(self.dataset.geos),
            len(self.dataset.channels),
            len(self.dataset.control_names),
        )
        want = {"y_scale": (g,), "media_scale": (g, c), "control_mean": (g, k)}
        want |= {"control_std": (g, k), "spend_share": (c,)}
        for name, shape in want.items():
            value = getattr(self.scaling, name)
            if value is not None and _shape(value) != shape:
                raise ValueError(
                    f"scaling.{name} is not {shape} for {g} geos, {c} channels, {k} controls"
                )
        return self


def _shape(nested: list) -> tuple[int, ...] | None:
    try:
        return np.asarray(nested, dtype=float).shape
    except ValueError:  # ragged
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _self_checksum(meta: dict[str, Any]) -> str:
    body = {k: v for k, v in meta.items() if k != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def save_fit(fit: Any, directory: str | Path) -> Path:
    """Write `fit` (a `Fit`) to `directory` (created if missing); returns the directory.

    Files: posterior.nc (ArviZ NetCDF: posterior + sample_stats), fit.json (config, scaling,
    diagnostics, settings, dataset fingerprint, lift tests), train.npz (the training
    Dataset's arrays).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    groups = {"posterior": fit.posterior, "sample_stats": fit.sample_stats}
    _write_netcdf(out / "posterior.nc", {k: v for k, v in groups.items() if v})
    train = fit.train
    np.savez(
        out / "train.npz",
        **{k: getattr(train, k) for k in _ARRAYS if getattr(train, k) is not None},
    )
    meta = {
        "format_version": FORMAT_VERSION,
        "method": fit.method,
        "seed": fit.seed,
        "settings": fit.settings,
        "config": fit.config.model_dump(mode="json"),
        "scaling": fit.scaling.to_json(),
        "diagnostics": fit.diagnostics.to_json(),
        "dataset": {
            "fingerprint": train.fingerprint,
            "name": train.name,
            "dates": [d.isoformat() for d in train.dates],
            "geos": list(train.geos),
            "channels": list(train.channels),
            "control_names": list(train.control_names),
            "frequency": train.frequency,
            "source": train.source,
        },
    }
    if fit.lift_tests:
        meta["lift_tests"] = [test.to_json() for test in fit.lift_tests]
    meta = json.loads(strict_json(meta))  # JSON types: the checksum reads what load reads
    meta["checksums"] = {name: _sha256(out / name) for name in _DATA_FILES}
    meta["checksum"] = _self_checksum(meta)
    (out / "fit.json").write_text(json.dumps(meta, indent=2, allow_nan=False) + "\n")
    return out


def read_fit(directory: str | Path) -> dict[str, Any]:
    """The fields of the `Fit` written by `save_fit`, refusing one that was damaged or
    edited since: the checksums, the schema of `fit.json` and the training data's
    fingerprint are checked."""
    src = Path(directory)
    for name in ("fit.json", *_DATA_FILES):
        if not (src / name).exists():
            raise FileNotFoundError(f"{src}: missing {name}; is this a directory from fit.save()?")
    meta = _read_fit_json(src / "fit.json")
    if meta.checksums is not None:
        for name in _DATA_FILES:
            if meta.checksums.get(name) != _sha256(src / name):
                raise ValueError(
                    f"{src / name}: checksum differs from the one saved in fit.json; the file "
                    "was damaged or replaced since the fit was saved. Save the fit again."
                )
    groups = _read_netcdf(src / "posterior.nc")
    posterior, stats = groups["posterior"], groups.get("sample_stats", {})
    with np.load(src / "train.npz") as arrays:
        loaded = {k: arrays[k] for k in arrays.files}
    info = meta.dataset
    train = Dataset(
        dates=pd.DatetimeIndex(info.dates),
        geos=tuple(info.geos),
        channels=tuple(info.channels),
        control_names=tuple(info.control_names),
        frequency=info.frequency,
        name=info.name,
        source=info.source,
        **loaded,
    )
    if train.fingerprint != info.fingerprint:
        raise ValueError(f"{src}/train.npz: content does not match the saved fingerprint")
    try:
        lift_tests = tuple(
            LiftExperiment.from_dict(raw, f"{src}/fit.json, lift_tests[{i}]")
            for i, raw in enumerate(meta.lift_tests)
        )
    except DatasetError as err:
        raise ValueError(f"invalid saved fit: {err}") from None
    return dict(
        config=meta.config,
        train=train,
        scaling=Scaling.from_json(meta.scaling.model_dump()),
        posterior=posterior,
        sample_stats=stats,
        diagnostics=Diagnostics.from_json(meta.diagnostics),
        method=meta.method,
        seed=meta.seed,
        settings=meta.settings,
        lift_tests=lift_tests,
    )


def _write_netcdf(path: Path, groups: dict[str, dict[str, Any]]) -> None:
    """Each group's arrays (chain, draw, *shape) as ArviZ 0.x's `InferenceData.to_netcdf`
    lays them out."""
    import xarray as xr

    attrs = {
        "created_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "arviz_version": importlib.metadata.version("arviz"),
    }
    mode: Literal["w", "a"] = "w"
    for group, arrays in groups.items():
        variables, coords = {}, {}
        for name, value in arrays.items():
            value = np.asarray(value)
            value = value.reshape((1,) * max(0, 2 - value.ndim) + value.shape)
            dims = ["chain", "draw", *(f"{name}_dim_{i}" for i in range(value.ndim - 2))]
            variables[name] = (dims, value)
            coords |= {dim: np.arange(size) for dim, size in zip(dims, value.shape, strict=True)}
        data = xr.Dataset(variables, coords=coords, attrs=attrs)
        encoding = {
            k: {"zlib": True} for k, v in data.variables.items() if v.dtype.kind in "biufcS"
        }
        data.to_netcdf(path, mode=mode, group=group, engine="h5netcdf", encoding=encoding)
        mode = "a"


def _read_netcdf(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Each group's arrays of `posterior.nc` (by `_write_netcdf` or ArviZ), by group."""
    import h5netcdf
    import xarray as xr

    with h5netcdf.File(path, "r") as f:
        names = [g for g in ("posterior", "sample_stats") if g in f.groups]
    out = {}
    for group in names:
        with xr.open_dataset(path, group=group, engine="h5netcdf") as data:
            out[group] = {k: data[k].values for k in data.data_vars}
    return out


def _read_fit_json(path: Path) -> FitFile:
    """`fit.json` checked against its own checksum (version 2 on) and read by the schema."""
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err}); the file is damaged") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(raw).__name__}")
    if raw.get("format_version") not in (1, FORMAT_VERSION):
        raise ValueError(f"{path}: format_version {raw.get('format_version')!r} unknown")
    if raw["format_version"] >= 2 and raw.get("checksum") != _self_checksum(raw):
        raise ValueError(
            f"{path}: content does not match its checksum; the file was edited or damaged after "
            "the fit was saved. Save the fit again."
        )
    try:
        return FitFile.model_validate(raw)
    except ValidationError as err:
        raise ValueError(f"{path}: invalid saved fit\n" + schema_errors(err)) from None
