"""`Truth`: the answer key that comes with every simulated dataset, saved as JSON beside it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmmlab.data import Dataset
from mmmlab.files import write_json


@dataclass(frozen=True, eq=False)
class Truth:
    """Every true quantity of a simulated dataset, in the data's own units.

    name, seed : the simulator and the seed that produced the data
    description : what the world is; breaks : the modelling assumption it breaks (scenarios)
    channels, geos : labels of the channel and geo axes below
    params : parameter name -> true value; `dims` names each value's axes, e.g.
        ``dims["geometric_alpha"] == ("channel",)``, ``dims["effect"] == ("geo", "channel")``
    contributions : (T, G, C) each channel's contribution to the target
    roas : (C,) total contribution / total spend over the whole window
    mroas : (C,) marginal ROAS: extra contribution per extra unit of spend when every
        period's spend of the channel rises by 1%
    counterfactual : (T, G, C) the target had channel c been switched off for the whole window
    baseline : component -> (T, G) the non-media parts of the target (level, trend, ...)
    noise : (T, G) the noise draw
    labels : (T,) mixture component of each period (Hill-mixture worlds), else None
    facts : scalar checks of the world, e.g. the confounder's correlation with spend
    """

    name: str
    seed: int
    channels: tuple[str, ...]
    geos: tuple[str, ...]
    params: dict[str, np.ndarray]
    dims: dict[str, tuple[str, ...]]
    contributions: np.ndarray
    roas: np.ndarray
    mroas: np.ndarray
    counterfactual: np.ndarray
    baseline: dict[str, np.ndarray]
    noise: np.ndarray
    description: str = ""
    breaks: str | None = None
    labels: np.ndarray | None = None
    facts: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = self.contributions.shape
        if len(shape) != 3 or shape[1:] != (len(self.geos), len(self.channels)):
            raise ValueError(
                f"truth {self.name!r}: contributions {self.contributions.shape} do not match "
                f"{len(self.geos)} geos and {len(self.channels)} channels"
            )
        for key in ("roas", "mroas"):
            if getattr(self, key).shape != (len(self.channels),):
                raise ValueError(f"truth {self.name!r}: {key} must be ({len(self.channels)},)")
        unknown = set(self.params) ^ set(self.dims)
        if unknown:
            raise ValueError(f"truth {self.name!r}: params and dims differ on {sorted(unknown)}")

    def named(self) -> dict[str, float]:
        """Flat ``{"geometric_alpha[tv]": 0.4, "effect[geo_a,tv]": ...}`` of every parameter."""
        axes = {"channel": self.channels, "geo": self.geos}
        out: dict[str, float] = {}
        for name, value in self.params.items():
            value = np.asarray(value)
            labels = [
                axes.get(d, [str(i) for i in range(n)])
                for d, n in zip(self.dims[name], value.shape, strict=True)
            ]
            for index in np.ndindex(value.shape):
                if np.isnan(value[index]):
                    continue  # a channel that uses another family has no such parameter
                key = ",".join(labels[a][i] for a, i in enumerate(index))
                out[f"{name}[{key}]" if key else name] = float(value[index])
        return out

    def check_data(self, dataset: Dataset) -> None:
        """Refuse `dataset` unless it is this world's data: the same channels, geos and
        periods, and a target equal (to 1e-6 of its mean) to the one the truth implies,
        any channel's counterfactual plus its contribution."""
        where = f"truth {self.name!r} (seed {self.seed})"
        periods = self.contributions.shape[0]
        if (dataset.geos, dataset.channels, dataset.n_time) != (self.geos, self.channels, periods):
            raise ValueError(
                f"{where} has geos {self.geos}, channels {self.channels} and "
                f"{periods} periods; the data '{dataset.name}' has {dataset.geos}, "
                f"{dataset.channels} and {dataset.n_time}: they are not the same world. "
                "Give the truth.json written beside this data."
            )
        implied = self.counterfactual[..., 0] + self.contributions[..., 0]
        gap = np.abs(implied - dataset.target).max() / max(np.abs(implied).mean(), 1e-300)
        if gap > 1e-6:
            raise ValueError(
                f"{where}: the data '{dataset.name}' has another target than this truth "
                f"implies (largest gap {gap:.1e} of the mean): it is another world or seed. "
                "Give the truth.json written beside this data."
            )

    @property
    def total_contribution(self) -> np.ndarray:
        """(C,) contribution of each channel summed over time and geos."""
        return self.contributions.sum(axis=(0, 1))

    # ------------------------------------------------------------------ JSON round trip
    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; arrays become nested lists (full float precision)."""

        def arr(x: np.ndarray) -> Any:
            x = np.asarray(x)
            if x.dtype.kind == "f" and np.isnan(x).any():  # JSON has no NaN: write null
                return np.where(np.isnan(x), None, x).tolist()
            return x.tolist()

        return {
            "name": self.name,
            "seed": self.seed,
            "description": self.description,
            "breaks": self.breaks,
            "channels": list(self.channels),
            "geos": list(self.geos),
            "params": {k: arr(v) for k, v in sorted(self.params.items())},
            "dims": {k: list(v) for k, v in sorted(self.dims.items())},
            "roas": arr(self.roas),
            "mroas": arr(self.mroas),
            "contributions": arr(self.contributions),
            "counterfactual": arr(self.counterfactual),
            "baseline": {k: arr(v) for k, v in sorted(self.baseline.items())},
            "noise": arr(self.noise),
            "labels": None if self.labels is None else arr(self.labels),
            "facts": {k: float(v) for k, v in sorted(self.facts.items())},
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Truth:
        def arr(x: Any) -> np.ndarray:
            return np.asarray(x, dtype=float)

        return cls(
            name=raw["name"],
            seed=int(raw["seed"]),
            description=raw.get("description", ""),
            breaks=raw.get("breaks"),
            channels=tuple(raw["channels"]),
            geos=tuple(raw["geos"]),
            params={k: arr(v) for k, v in raw["params"].items()},
            dims={k: tuple(v) for k, v in raw["dims"].items()},
            roas=arr(raw["roas"]),
            mroas=arr(raw["mroas"]),
            contributions=arr(raw["contributions"]),
            counterfactual=arr(raw["counterfactual"]),
            baseline={k: arr(v) for k, v in raw["baseline"].items()},
            noise=arr(raw["noise"]),
            labels=None if raw.get("labels") is None else np.asarray(raw["labels"], dtype=int),
            facts=dict(raw.get("facts", {})),
        )

    def save(self, path: str | Path) -> Path:
        """Write ``truth.json`` (deterministic bytes: sorted keys, fixed float format)."""
        path = Path(path)
        return write_json(path, self.to_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def load(cls, path: str | Path) -> Truth:
        path = Path(path)
        try:
            return cls.from_json(json.loads(path.read_text()))
        except FileNotFoundError as err:
            raise FileNotFoundError(f"{path}: no truth file here") from err
        except (KeyError, ValueError, TypeError) as err:
            raise ValueError(f"{path}: not a truth file written by mmmlab ({err})") from err


def marginal_roas(contributions: np.ndarray, bumped: np.ndarray, spend: np.ndarray) -> np.ndarray:
    """(C,) extra contribution per extra unit of spend, from contributions (T, G, C) under the
    actual spend and under spend raised by 1% (`bumped`); `spend` is (T, G, C)."""
    extra_spend = 0.01 * spend.sum(axis=(0, 1))
    gain = (bumped - contributions).sum(axis=(0, 1))
    return np.where(extra_spend > 0, gain / np.where(extra_spend > 0, extra_spend, 1.0), 0.0)


def total_roas(contributions: np.ndarray, spend: np.ndarray) -> np.ndarray:
    """(C,) total contribution over total spend (0 for a channel without spend)."""
    total = spend.sum(axis=(0, 1))
    return np.where(total > 0, contributions.sum(axis=(0, 1)) / np.where(total > 0, total, 1), 0.0)
