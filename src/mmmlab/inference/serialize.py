"""Save and load a `Fit`: NetCDF posterior, JSON config and metadata, the training data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd

from mmmlab.data import Dataset
from mmmlab.inference.diagnostics import Diagnostics
from mmmlab.inference.fit import Fit
from mmmlab.models.config import ModelConfig
from mmmlab.models.mmm import Scaling

FORMAT_VERSION = 1
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


def save_fit(fit: Fit, directory: str | Path) -> Path:
    """Write `fit` to `directory` (created if missing); returns the directory.

    Files: posterior.nc (ArviZ NetCDF: posterior + sample_stats), fit.json (config, scaling,
    diagnostics, settings, dataset fingerprint), train.npz (the training Dataset's arrays).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    idata = az.from_dict(
        posterior={k: np.asarray(v) for k, v in fit.posterior.items()},
        sample_stats={k: np.asarray(v) for k, v in fit.sample_stats.items()} or None,
    )
    idata.to_netcdf(str(out / "posterior.nc"))
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
    (out / "fit.json").write_text(json.dumps(meta, indent=2, default=str))
    return out


def load_fit(directory: str | Path) -> Fit:
    """Read a fit written by `save_fit`; checks the training data against its fingerprint."""
    src = Path(directory)
    for name in ("fit.json", "posterior.nc", "train.npz"):
        if not (src / name).exists():
            raise FileNotFoundError(f"{src}: missing {name}; is this a directory from fit.save()?")
    meta: dict[str, Any] = json.loads((src / "fit.json").read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{src}/fit.json: format_version {meta.get('format_version')} unknown")
    idata = az.from_netcdf(str(src / "posterior.nc"))
    posterior = {k: idata.posterior[k].values for k in idata.posterior.data_vars}
    stats = (
        {k: idata.sample_stats[k].values for k in idata.sample_stats.data_vars}
        if "sample_stats" in idata.groups()
        else {}
    )
    with np.load(src / "train.npz") as arrays:
        loaded = {k: arrays[k] for k in arrays.files}
    info = meta["dataset"]
    train = Dataset(
        dates=pd.DatetimeIndex(info["dates"]),
        geos=tuple(info["geos"]),
        channels=tuple(info["channels"]),
        control_names=tuple(info["control_names"]),
        frequency=info["frequency"],
        name=info["name"],
        source=info["source"],
        **loaded,
    )
    if train.fingerprint != info["fingerprint"]:
        raise ValueError(f"{src}/train.npz: content does not match the saved fingerprint")
    return Fit(
        config=ModelConfig.model_validate(meta["config"]),
        train=train,
        scaling=Scaling.from_json(meta["scaling"]),
        posterior=posterior,
        sample_stats=stats,
        diagnostics=Diagnostics.from_json(meta["diagnostics"]),
        method=meta["method"],
        seed=meta["seed"],
        settings=meta["settings"],
    )
