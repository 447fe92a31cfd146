"""The ``preset`` dataset kind: a built-in simulated world (or a world spec file), drawn anew
for each grid seed unless `data_seed` fixes it; `params` is a grid over the settings of a
business preset, and `frequency: daily` observes one daily."""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mmmlab.bench.grid.sources.source import DataSource
from mmmlab.bench.grid.spec import value_label


@dataclass(frozen=True, kw_only=True)
class PresetSource(DataSource):
    """A simulated world: `preset` with the `world` settings of one point of its grid."""

    preset: str
    world: tuple[tuple[str, Any], ...] = ()
    data_seed: int | None = None
    frequency: str | None = None


class PresetKind:
    key = "preset"
    reads_files = False

    def check(self, entry: Any, where: str) -> None:
        from mmmlab.synth.catalog import SIMULATORS
        from mmmlab.synth.presets import PRESETS

        name = entry.preset or ""
        if name not in SIMULATORS and not Path(name).is_file():
            close = difflib.get_close_matches(name, SIMULATORS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"{where}.preset: {name!r} is not a built-in simulator nor a world spec file."
                f"{hint} Built-in ones (`mmmlab synth --list`): {', '.join(SIMULATORS)}"
            )
        if not entry.params and entry.frequency != "daily":
            return
        if name not in PRESETS:
            raise ValueError(
                f"{where}: params and frequency apply to the business presets "
                f"({', '.join(PRESETS)}), not {name!r}; leave them out"
            )
        world = PRESETS[name]()
        fields = type(world).model_fields
        for key, values in entry.params.items():
            if key not in fields:
                raise ValueError(
                    f"{where}.params: {key!r} is not a setting of {name}; settings: "
                    f"{', '.join(fields)}"
                )
            for value in values:
                try:
                    type(world).model_validate(world.model_dump() | {key: value})
                except ValidationError as err:
                    first = err.errors()[0]["msg"]
                    raise ValueError(f"{where}.params.{key}: {value!r}: {first}") from None

    def expand(self, entry: Any) -> list[DataSource]:
        keys = sorted(entry.params)
        out: list[DataSource] = []
        for combo in itertools.product(*(entry.params[k] for k in keys)):
            label = ",".join(f"{k}={value_label(v)}" for k, v in zip(keys, combo, strict=True))
            base = entry.name or entry.preset + ("_daily" if entry.frequency == "daily" else "")
            out.append(
                PresetSource(
                    kind=self.key,
                    name=f"{base}({label})" if label else base,
                    preset=entry.preset,
                    world=tuple(zip(keys, combo, strict=True)),
                    data_seed=entry.data_seed,
                    sum_channels=entry.sum_channels,
                    frequency=entry.frequency,
                )
            )
        return out

    def load(self, source: PresetSource, seed: int):
        """Simulated with the grid seed (not the cell seed), so every model of a seed-cell
        sees the same data."""
        from mmmlab.synth import simulate
        from mmmlab.synth.presets import PRESETS
        from mmmlab.synth.world import simulate_world

        data_seed = seed if source.data_seed is None else source.data_seed
        daily = source.frequency == "daily"
        if not (source.world or daily):
            return simulate(source.preset, data_seed)
        if source.preset not in PRESETS:
            raise ValueError(
                f"dataset {source.name!r}: params and frequency apply to business presets "
                f"only ({', '.join(PRESETS)}), not {source.preset!r}"
            )
        world = PRESETS[source.preset]().model_copy(update=dict(source.world))
        world = type(world).model_validate(world.model_dump())
        if daily:
            from mmmlab.synth import as_daily

            world = as_daily(world)
        return simulate_world(world, data_seed)
