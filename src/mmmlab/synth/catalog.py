"""Every built-in simulator by name, `simulate(preset_or_config, seed)`, and writing a
simulation to disk (data.csv, columns.yaml, truth.json, a PNG of spend and target)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from mmmlab.data import Dataset
from mmmlab.synth.calendar import as_daily
from mmmlab.synth.hill_mixture import HILL_MIXTURE_DGPS, simulate_hill_mixture
from mmmlab.synth.presets import PRESETS
from mmmlab.synth.scenarios import SCENARIOS
from mmmlab.synth.truth import Truth
from mmmlab.synth.world import WorldSpec, simulate_world, world_from_file


@dataclass(frozen=True)
class Simulator:
    """A named world. kind : 'preset' | 'hill_mixture' | 'scenario'; shape : (T, G, C);
    breaks : the modelling assumption a scenario breaks ('' otherwise). A preset's world file
    is read on first use of its description, shape or simulation, not when listed by name."""

    name: str
    kind: str
    about: Callable[[], tuple[str, tuple[int, int, int], str]]  # description, shape, breaks
    simulate: Callable[[int], tuple[Dataset, Truth]]

    @property
    def description(self) -> str:
        return self.about()[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.about()[1]

    @property
    def breaks(self) -> str:
        return self.about()[2]


def _preset(name: str, make: Callable[[], WorldSpec]) -> Simulator:
    spec = cache(make)

    def about() -> tuple[str, tuple[int, int, int], str]:
        s = spec()
        return s.description, (s.n_periods, len(s.geos), len(s.channels)), ""

    return Simulator(name, "preset", about, lambda seed: simulate_world(spec(), seed))


def _catalog() -> dict[str, Simulator]:
    out = {name: _preset(name, make) for name, make in PRESETS.items()}
    for name, dgp in HILL_MIXTURE_DGPS.items():
        breaks = "" if dgp.n_components == 1 else "one saturation curve per channel"
        out[name] = Simulator(
            name,
            "hill_mixture",
            lambda dgp=dgp, breaks=breaks: (dgp.description, (200, 1, 1), breaks),
            lambda seed, name=name: simulate_hill_mixture(name, seed),
        )
    for name, sc in SCENARIOS.items():
        out[name] = Simulator(
            name, "scenario", lambda sc=sc: (sc.description, (156, 1, 4), sc.breaks), sc.simulate
        )
    return out


SIMULATORS: dict[str, Simulator] = _catalog()


def list_simulators() -> pd.DataFrame:
    """One row per built-in simulator: name, kind, periods, geos, channels, description,
    breaks."""
    return pd.DataFrame(
        [
            {
                "name": s.name,
                "kind": s.kind,
                "periods": s.shape[0],
                "geos": s.shape[1],
                "channels": s.shape[2],
                "description": s.description,
                "breaks": s.breaks,
            }
            for s in SIMULATORS.values()
        ]
    )


def simulate(
    preset_or_config: str | Path | WorldSpec | dict[str, Any],
    seed: int = 0,
    frequency: Literal["weekly", "daily"] | None = None,
) -> tuple[Dataset, Truth]:
    """Simulate a dataset and its answer key.

    preset_or_config : a built-in name (see `list_simulators`), a `WorldSpec`, its dict, or
        a YAML/JSON file holding one. seed : every random draw comes from it.
    frequency : observe a business preset or world spec weekly (as defined) or daily (the
        same business through `as_daily`); None keeps the world's own frequency. Hill-mixture
        and scenario worlds have no other frequency.
    """
    if isinstance(preset_or_config, WorldSpec):
        world = preset_or_config
    elif isinstance(preset_or_config, dict):
        world = WorldSpec.model_validate(preset_or_config)
    elif isinstance(preset_or_config, str) and preset_or_config in PRESETS:
        world = PRESETS[preset_or_config]()
    elif isinstance(preset_or_config, str) and preset_or_config in SIMULATORS:
        if frequency is not None:
            raise ValueError(
                f"frequency applies to the business presets ({', '.join(PRESETS)}) and world "
                f"specs, not to {preset_or_config!r}; leave frequency out"
            )
        return SIMULATORS[preset_or_config].simulate(seed)
    else:
        path = Path(preset_or_config)
        if path.suffix.lower() not in (".yaml", ".yml", ".json") and not path.exists():
            raise ValueError(
                f"unknown simulator {str(preset_or_config)!r}; built-in ones: "
                f"{', '.join(SIMULATORS)} (or give a world spec file, see docs/synth.md)"
            )
        world = world_from_file(path)
    return simulate_world(at_frequency(world, frequency), seed)


def at_frequency(world: WorldSpec, frequency: str | None) -> WorldSpec:
    """`world` observed at `frequency` ('weekly', 'daily', or None for its own)."""
    if frequency is None or frequency == world.frequency:
        return world
    if frequency == "daily":
        return as_daily(world)
    if frequency == "weekly":
        raise ValueError(
            f"world {world.name!r} is daily and has no weekly definition; simulate it daily "
            "and sum to weeks with Dataset.aggregate('W')"
        )
    raise ValueError(f"frequency must be 'weekly', 'daily' or None, got {frequency!r}")


def column_map(dataset: Dataset) -> dict[str, Any]:
    """The column map that reads back a `Dataset.to_frame()` table."""
    out: dict[str, Any] = {
        "date": "date",
        "target": "target",
        "spend": {ch: f"{ch}_spend" for ch in dataset.channels},
        "controls": list(dataset.control_names),
    }
    if dataset.exposure is not None:
        out["exposure"] = {ch: f"{ch}_exposure" for ch in dataset.channels}
    if dataset.n_geos > 1:
        out["geo"] = "geo"
    if dataset.population is not None:
        out["population"] = "population"
    return out


def write_simulation(dataset: Dataset, truth: Truth, out: str | Path) -> dict[str, Path]:
    """Write data.csv, columns.yaml, truth.json and spend_target.png into `out`.

    The same dataset and truth give byte-identical files. Returns the paths by role.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frame = dataset.to_frame()
    if dataset.n_geos == 1:
        frame = frame.drop(columns="geo")
    paths = {
        "data": out / "data.csv",
        "columns": out / "columns.yaml",
        "truth": out / "truth.json",
        "plot": out / "spend_target.png",
    }
    frame.to_csv(paths["data"], index=False, date_format="%Y-%m-%d", float_format="%.10g")
    paths["columns"].write_text(
        "# Reads data.csv (from this folder): mmmlab fit data.csv --columns columns.yaml\n"
        + yaml.safe_dump(column_map(dataset), sort_keys=False)
    )
    truth.save(paths["truth"])
    plot_simulation(dataset, truth, paths["plot"])
    return paths


def plot_simulation(dataset: Dataset, truth: Truth, path: Path) -> Path:
    """Two panels: spend per channel (summed over geos) and the target with its true
    non-media baseline and media contribution."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 6))
    top, bottom = fig.subplots(2, 1, sharex=True)
    dates = dataset.dates
    spend = dataset.spend.sum(axis=1)
    for c, ch in enumerate(dataset.channels[:12]):
        top.plot(dates, spend[:, c], lw=1.0, label=ch)
    top.set_ylabel("spend")
    top.set_title(f"{truth.name} (seed {truth.seed})")
    if dataset.n_channels <= 12:
        top.legend(loc="upper left", fontsize=7, ncol=4, frameon=False)
    base = sum(v for v in truth.baseline.values()).sum(axis=1)
    bottom.plot(dates, dataset.target.sum(axis=1), color="black", lw=1.0, label="target")
    bottom.plot(dates, base, color="tab:gray", lw=1.0, label="true baseline")
    bottom.plot(
        dates,
        base + truth.contributions.sum(axis=(1, 2)),
        color="tab:blue",
        lw=1.0,
        label="baseline + true media",
    )
    bottom.set_ylabel("target")
    bottom.legend(loc="upper left", fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    return path


def roas_frame(truth: Truth) -> pd.DataFrame:
    """True ROAS, marginal ROAS and contribution per channel."""
    return pd.DataFrame(
        {
            "channel": truth.channels,
            "roas": truth.roas,
            "mroas": truth.mroas,
            "contribution": truth.total_contribution,
            "share": truth.total_contribution / max(float(np.sum(truth.total_contribution)), 1e-12),
        }
    )


def world_markdown(spec: WorldSpec) -> str:
    """A Markdown description of a world's true values (used for docs/synth.md)."""
    lines = [
        f"### `{spec.name}`",
        "",
        spec.description,
        "",
        f"{spec.n_periods} {spec.frequency} periods from {spec.start}; {len(spec.geos)} geo(s); "
        f"baseline level {spec.base_sales:g} per geo and period, growth {spec.growth:g} over the "
        f"window, yearly seasonality amplitude {spec.seasonal_amplitude:g}, noise sd "
        f"{spec.noise:g} of the level ({spec.likelihood}); geo size log-sd {spec.geo_size_sd:g}, "
        f"baseline log-sd {spec.baseline_sd:g}, effect log-sd {spec.effect_geo_sd:g}; adstock "
        f"window {spec.l_max}"
        + (
            f"; day-of-week amplitude {spec.weekday_amplitude:g} peaking on day "
            f"{spec.weekday_peak} (0 = Monday)"
            if spec.weekday_amplitude
            else ""
        )
        + ".",
        "",
        "| channel | pattern | base spend | ROAS | adstock | saturation | CPM |",
        "|---|---|---:|---:|---|---|---:|",
    ]
    for c in spec.channels:
        pattern = c.pattern
        if c.pattern == "delayed_start":
            end = "end" if c.end_period is None else c.end_period
            pattern += f" {c.start_period}→{end}, ramp {c.ramp_up_periods}"
        elif c.pattern == "on_off":
            pattern += (
                f" p={c.activation_probability:.2f}, "
                f"{c.min_active_periods}-{c.max_active_periods} periods"
            )
        elif c.pattern == "linear_trend" and c.trend:
            pattern += f" {c.trend:+.4f}/period"
        elif c.pattern == "seasonal":
            pattern += f" amp {c.seasonal_amplitude:.2f}, phase {c.seasonal_phase:.2f}"

        def fmt(params: dict[str, float]) -> str:
            return ", ".join(f"{k} {v:.3g}" for k, v in params.items())

        cpm = "—"
        if c.cpm is not None:
            cpm = f"{c.cpm:,.0f}" if c.cpm >= 100 else f"{c.cpm:.3g}"
            cpm += f" ± {c.cpm_cv:.0%}"
        lines.append(
            f"| {c.name} | {pattern} | {c.base:,.0f} | {c.roas:.2f} | {c.adstock} "
            f"({fmt(c.adstock_params)}) | {c.saturation} ({fmt(c.saturation_params)}) | {cpm} |"
        )
    if spec.controls:
        lines += ["", "| control | pattern | lift |", "|---|---|---:|"]
        for k in spec.controls:
            lines.append(f"| {k.name} | {k.pattern} | {k.lift:+.3f} |")
    return "\n".join(lines) + "\n"


def presets_markdown() -> str:
    """Every business preset's true values, as in docs/synth.md."""
    return "\n".join(world_markdown(make()) for make in PRESETS.values())
