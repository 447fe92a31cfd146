"""Configuration dimensions that change the *data* a model sees, not its parameters.

A benchmark spec names them under `variants.dimensions` like any other dimension; these names
are reserved and each value is checked here when the grid is built:

- ``media_variable``: ``spend_to_spend`` (every channel modelled on spend),
  ``spend_to_exposure`` (impressions/clicks where the data have them), or a mapping
  ``{funnel: {channel: upper|lower}}`` — upper-funnel channels use exposure, lower-funnel
  ones spend (a "mixed" mapping);
- ``time_aggregation``: ``daily`` | ``weekly`` | ``monthly`` (daily needs daily data);
- ``seasonality_window``: ``aligned`` (trend and seasonality learnt from the modelling
  window only) or ``extended`` (a seasonality control learnt from the target's earlier
  history too); a mapping may set ``history`` (periods before the modelling window; default
  one year).
- ``split`` (handled by the grid): ``"70/20/10"`` or ``{train: 0.7, validation: 0.2}``.

`apply_data` transforms a loaded dataset; a variant that cannot apply to a dataset (no
exposure columns, weekly data asked to be daily) raises `NotApplicable`, and the cell is
recorded as skipped with that reason. A non-base variant whose data come out identical to the
base's is skipped too: a dimension value can never silently do nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from mmmlab.bench.grid.spec import SpecError
from mmmlab.data import Dataset

DATA_DIMENSIONS = ("media_variable", "time_aggregation", "seasonality_window")
AGGREGATIONS = {"daily": None, "weekly": "W", "monthly": "M"}
YEAR = {"daily": 365, "weekly": 52, "monthly": 12}
FUNNEL = ("upper", "lower")


class NotApplicable(Exception):
    """This data variant cannot apply to this dataset (the cell is skipped with the reason)."""


def data_option(dim: str, value: Any) -> tuple[str, dict[str, Any]]:
    """(label, data overrides) of one value of a data dimension; bad values are SpecErrors
    naming the dimension and the allowed values."""
    where = f"variants.dimensions.{dim}"
    label = None
    if isinstance(value, dict):
        value = dict(value)
        label = value.pop("label", None)
    if dim == "media_variable":
        if isinstance(value, dict):
            funnel = value.pop("funnel", None)
            if value or not isinstance(funnel, dict) or not funnel:
                raise SpecError(
                    f"{where}: a mapping takes 'funnel' (channel: upper|lower) and 'label'"
                )
            bad = {c: f for c, f in funnel.items() if f not in FUNNEL}
            if bad:
                raise SpecError(f"{where}.funnel: {bad}: each channel is 'upper' or 'lower'")
            return str(label or "mixed"), {dim: {"funnel": dict(funnel)}}
        if value not in ("spend_to_spend", "spend_to_exposure"):
            raise SpecError(
                f"{where}: {value!r}; give spend_to_spend, spend_to_exposure or "
                "{funnel: {channel: upper|lower}}"
            )
        return str(label or value), {dim: value}
    if dim == "time_aggregation":
        if value not in AGGREGATIONS:
            raise SpecError(f"{where}: {value!r}; give one of {list(AGGREGATIONS)}")
        return str(label or value), {dim: value}
    if dim == "seasonality_window":
        mode, history = value, None
        if isinstance(value, dict):
            mode, history = value.pop("mode", None), value.pop("history", None)
            if value:
                raise SpecError(f"{where}: unknown key(s) {sorted(value)}; give mode, history")
        if mode not in ("aligned", "extended"):
            raise SpecError(f"{where}: mode {mode!r}; give aligned or extended")
        if history is not None and (not isinstance(history, int) or history < 1):
            raise SpecError(f"{where}: history must be a positive number of periods")
        default = mode if history is None else f"{mode}(history={history})"
        return str(label or default), {dim: {"mode": mode, "history": history}}
    raise SpecError(f"{where}: not a data dimension")


def split_option(value: Any) -> tuple[str, dict[str, float]]:
    """(label, split overrides) of a ``split`` dimension value: ``"70/20/10"`` (percent,
    summing to 100) or a mapping with train and validation fractions."""
    where = "variants.dimensions.split"
    if isinstance(value, str):
        try:
            parts = [float(p) for p in value.split("/")]
        except ValueError:
            parts = []
        if len(parts) not in (2, 3) or abs(sum(parts) - 100) > 1e-6 or min(parts) < 0:
            raise SpecError(
                f"{where}: {value!r}; give train/validation/test percent, e.g. 70/20/10"
            )
        validation = parts[1] / 100 if len(parts) == 3 else 0.0
        return value, {"train": parts[0] / 100, "validation": validation}
    if isinstance(value, dict):
        value = dict(value)
        label = value.pop("label", None)
        unknown = set(value) - {"train", "validation"}
        if unknown or "train" not in value:
            raise SpecError(f"{where}: give train (and validation) fractions; got {sorted(value)}")
        train, validation = float(value["train"]), float(value.get("validation", 0.0))
        if not 0 < train <= 1 or not 0 <= validation < 1 or train + validation > 1 + 1e-9:
            raise SpecError(f"{where}: train {train}, validation {validation} do not fit in 1")
        default = f"{train * 100:g}/{validation * 100:g}/{(1 - train - validation) * 100:g}"
        return str(label or default), {"train": train, "validation": validation}
    raise SpecError(f"{where}: {value!r}; give '70/20/10' or {{train: 0.7, validation: 0.2}}")


def apply_data(dataset: Dataset, data: dict[str, Any], split: dict[str, float]) -> Dataset:
    """`dataset` as the data overrides ask, in a fixed order: time aggregation, media
    variable, seasonality window. `split` (train/validation fractions) keeps the seasonality
    fit of ``extended`` to the periods before the test window."""
    out = dataset
    if "time_aggregation" in data:
        out = aggregated(out, data["time_aggregation"])
    if "media_variable" in data:
        out = media_variable(out, data["media_variable"])
    if "seasonality_window" in data:
        window = data["seasonality_window"]
        out = seasonality_window(out, window["mode"], window["history"], split)
    return out


def aggregated(dataset: Dataset, level: str) -> Dataset:
    """The data at `level` ('daily' | 'weekly' | 'monthly')."""
    if level == dataset.frequency:
        return dataset
    order = list(AGGREGATIONS)
    if order.index(level) < order.index(dataset.frequency):
        raise NotApplicable(
            f"time_aggregation={level} needs {level} or finer data; {dataset.name!r} is "
            f"{dataset.frequency}"
        )
    return dataset.aggregate(AGGREGATIONS[level])


def exposure_channels(dataset: Dataset) -> list[str]:
    """Channels whose exposure differs from their spend (readers fill the rest with spend)."""
    if dataset.exposure is None:
        return []
    same = np.all(np.isclose(dataset.exposure, dataset.spend), axis=(0, 1))
    return [c for c, s in zip(dataset.channels, same, strict=True) if not s]


def media_variable(dataset: Dataset, choice: str | dict) -> Dataset:
    """Spend, exposure, or exposure for upper-funnel channels only, as the media variable."""
    if choice == "spend_to_spend":
        return replace(dataset, exposure=None, history_exposure=None)
    have = exposure_channels(dataset)
    if not have:
        raise NotApplicable(
            f"media_variable={choice if isinstance(choice, str) else 'mixed'}: dataset "
            f"{dataset.name!r} has no exposure (impressions/clicks) columns"
        )
    if choice == "spend_to_exposure":
        return dataset
    funnel = choice["funnel"]
    unknown = sorted(set(funnel) - set(dataset.channels))
    if unknown:
        raise NotApplicable(
            f"media_variable funnel names channel(s) {unknown} that dataset {dataset.name!r} "
            f"does not have ({', '.join(dataset.channels)})"
        )
    upper = np.array([funnel.get(c) == "upper" for c in dataset.channels])
    exposure = np.where(upper, dataset.exposure, dataset.spend)
    history = np.where(upper, dataset.history_exposure, dataset.history_spend)
    return replace(dataset, exposure=exposure, history_exposure=history)


def seasonality_window(
    dataset: Dataset, mode: str, history: int | None, split: dict[str, float]
) -> Dataset:
    """The modelling window (all but the first `history` periods; default one year).

    ``extended`` adds a control ``seasonality``: a linear trend plus two yearly Fourier
    modes least-squares fitted to the target of the training window and the earlier history
    (per geo; never the validation or test periods), evaluated over the modelling window.
    """
    n_hist = YEAR[dataset.frequency] if history is None else history
    if n_hist >= dataset.n_time - 10:
        raise NotApplicable(
            f"seasonality_window: {n_hist} history periods leave too few of "
            f"{dataset.n_time} to model"
        )
    window = dataset.select(start=dataset.dates[n_hist])
    if mode == "aligned":
        return window
    train_end = n_hist + int(round(split["train"] * window.n_time))
    days = (dataset.dates - dataset.dates[0]).days.to_numpy(float)
    angle = 2 * np.pi * days / 365.25
    basis = np.column_stack(
        [np.ones_like(days), days / days[-1]]
        + [f(k * angle) for k in (1, 2) for f in (np.sin, np.cos)]
    )  # (T, 6)
    coef, *_ = np.linalg.lstsq(basis[:train_end], dataset.target[:train_end], rcond=None)
    fitted = (basis @ coef)[n_hist:]  # (T_window, G)
    controls = np.concatenate([window.controls, fitted[:, :, None]], axis=2)
    return replace(window, controls=controls, control_names=window.control_names + ("seasonality",))
