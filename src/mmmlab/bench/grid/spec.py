"""`BenchSpec`: a benchmark as a strict YAML/JSON document. Unknown keys are errors that
name the key, so a misspelled variant can never silently do nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mmmlab.bench.score.groups import METRIC_GROUPS, needing_draws
from mmmlab.inference.settings import SamplerSettings

_STRICT = ConfigDict(extra="forbid", frozen=True)
SOURCES = ("preset", "file", "files", "conjura")  # the keys that name a dataset's kind


class DatasetSpec(BaseModel):
    """One dataset source. Exactly one of `preset`, `file` or `files`.

    preset : a built-in world (`mmmlab synth --list`), simulated per cell seed unless
        `data_seed` fixes it; `params` is a grid over `WorldSpec` fields of business presets
        (each combination is its own dataset, e.g. ``{noise: [0.05, 0.1]}``);
        `frequency: daily` observes a business preset daily (`mmmlab.synth.as_daily`)
    file : one CSV/Parquet file read with `columns` (a column map file or mapping)
    files : a glob of files, one dataset per file (e.g. one per organisation), same columns
    conjura : an e-commerce file in the Conjura schema: one dataset per organisation (the
        `n_organisations` with the most days, or all), spend summed over channels
    sum_channels : sum spend over channels into one channel "spend" (for one-series models)
    lift_tests : lift tests scored by MAPE.LIFT, or ``from_truth`` (`bench.score.lift`):
        Robyn-style entries, or lift experiments (a lift-test file's fields: `spend_change`,
        `lift_se`, ...) that also calibrate the fits of backends declaring `lift_calibration`
    name : the dataset's name in cell names (default: preset name or file stem)
    """

    model_config = _STRICT
    preset: str | None = None
    params: dict[str, list[Any]] = Field(default_factory=dict)
    data_seed: int | None = None
    frequency: Literal["weekly", "daily"] | None = None
    file: str | None = None
    files: str | None = None
    columns: str | dict[str, Any] | None = None
    conjura: str | None = None
    n_organisations: int | None = Field(None, ge=1)
    sum_channels: bool = False
    lift_tests: Literal["from_truth"] | list[dict[str, Any]] | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        given = [k for k in SOURCES if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(SOURCES)} (got {given or 'none'})")
        if self.conjura is not None:
            return self
        if isinstance(self.lift_tests, list):
            from mmmlab.bench.score.lift import lift_test_from_dict

            for i, raw in enumerate(self.lift_tests):
                lift_test_from_dict(raw, f"lift_tests[{i}]")
        if self.preset is None and (self.params or self.frequency):
            raise ValueError("params and frequency apply to presets only")
        if self.preset is None and self.columns is None:
            raise ValueError("a file dataset needs columns: a column map file or mapping")
        return self


class ModelSpec(BaseModel):
    """A model: `name` in cell names, the `backend` that fits it, and its parameters (for
    the mmmlab backend: `ModelConfig` fields)."""

    model_config = _STRICT
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    backend: str = "mmmlab"
    params: dict[str, Any] = Field(default_factory=dict)


class VariantSpec(BaseModel):
    """Named dimensions of configuration, each a list of values.

    A value is a scalar (sets the model parameter named like the dimension) or a mapping of
    overrides with an optional `label`: model parameters by name, and `split` / `inference`
    mappings that update those blocks. `one_at_a_time` varies each dimension alone from the
    first value of every other; `cartesian` takes the product, capped at `max_combinations`.
    """

    model_config = _STRICT
    mode: Literal["cartesian", "one_at_a_time"] = "one_at_a_time"
    max_combinations: int = Field(100, ge=1)
    dimensions: dict[str, list[Any]] = Field(default_factory=dict)

    @field_validator("dimensions")
    @classmethod
    def _non_empty(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for name, values in value.items():
            if not values:
                raise ValueError(f"variant dimension {name!r} has no values")
        return value


class SplitSpec(BaseModel):
    """Contiguous train / validation / test fractions (test = the rest)."""

    model_config = _STRICT
    train: float = Field(0.8, gt=0, le=1)
    validation: float = Field(0.0, ge=0, lt=1)

    @model_validator(mode="after")
    def _fractions(self) -> SplitSpec:
        if self.train + self.validation > 1 + 1e-9:
            raise ValueError("train + validation must be at most 1")
        return self


class InferenceSpec(BaseModel):
    """How each cell is fitted: the method, and the sampler settings a spec may set, each
    with the default, range and meaning `SamplerSettings` declares (`dense_mass` and
    `num_starts` None: the backend's default)."""

    model_config = _STRICT
    method: Literal["nuts", "map", "svi"] = "nuts"
    num_warmup: int = SamplerSettings.model_fields["num_warmup"]
    num_samples: int = SamplerSettings.model_fields["num_samples"]
    num_chains: int = SamplerSettings.model_fields["num_chains"]
    target_accept: float = SamplerSettings.model_fields["target_accept"]
    max_tree_depth: int = SamplerSettings.model_fields["max_tree_depth"]
    dense_mass: bool | None = SamplerSettings.model_fields["dense_mass"]
    num_starts: int | None = SamplerSettings.model_fields["num_starts"]


class ConvergenceSpec(BaseModel):
    """A run is converged when max R-hat < `rhat` and min bulk ESS > `ess_bulk`."""

    model_config = _STRICT
    rhat: float = 1.01
    ess_bulk: float = 400.0


class RunSpec(BaseModel):
    """Execution defaults (command-line flags override them); `save_posterior` keeps each
    cell's fitted posterior (NetCDF, reloadable with `mmmlab.load`) in its artifact folder.

    The resource guard: `timeout_s` is each cell's time budget; `memory_gb` its memory budget
    over the worker's process tree (local executor). A cell whose posterior outputs alone
    would need more is skipped before it fits; one that grows past it is killed and failed,
    with the figures as its reason.
    """

    model_config = _STRICT
    timeout_s: float | None = Field(1800.0, gt=0)
    memory_gb: float | None = Field(None, gt=0)
    workers: int | None = Field(None, ge=1)
    save_posterior: bool = False


class Exclusion(BaseModel):
    """Cells the spec leaves out, and why: every model of `models` on every dataset of
    `datasets` (an empty list means all of them). They are stored as skipped with the reason,
    which the report shows; a cell that already finished keeps its results.

    datasets : dataset names as in cell names; a name also matches its parameter-grid
        datasets (``small_business`` matches ``small_business(noise=0.1)``)
    """

    model_config = _STRICT
    datasets: list[str] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    reason: str = Field(min_length=1)

    @staticmethod
    def names(entry: str, dataset: str) -> bool:
        """Whether the `datasets` entry `entry` names the grid's dataset `dataset`."""
        return dataset == entry or dataset.startswith(f"{entry}(")

    def covers(self, dataset: str, model: str) -> bool:
        """Whether the cell of `dataset` and `model` is excluded."""
        in_data = not self.datasets or any(self.names(d, dataset) for d in self.datasets)
        return in_data and (not self.models or model in self.models)


class BenchSpec(BaseModel):
    """A benchmark: datasets × models × variants × seeds, and how to run and score them."""

    model_config = _STRICT
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    datasets: list[DatasetSpec] = Field(min_length=1)
    models: list[ModelSpec] = Field(min_length=1)
    variants: VariantSpec = Field(default_factory=VariantSpec)
    seeds: list[int] | int = 1
    split: SplitSpec = Field(default_factory=SplitSpec)
    inference: InferenceSpec = Field(default_factory=InferenceSpec)
    convergence: ConvergenceSpec = Field(default_factory=ConvergenceSpec)
    metrics: list[str] = Field(default_factory=lambda: list(METRIC_GROUPS))
    reference_model: str | None = None
    catastrophic: dict[str, tuple[Literal["<", ">"], float]] = Field(
        default_factory=lambda: {"elpd_loo": ("<", -2000.0)}
    )
    run: RunSpec = Field(default_factory=RunSpec)
    exclude: list[Exclusion] = Field(default_factory=list)

    @field_validator("seeds")
    @classmethod
    def _some_seeds(cls, value: list[int] | int) -> list[int] | int:
        if isinstance(value, int):
            if value < 1:
                raise ValueError(f"{value} gives no cells; give a count of at least 1")
            return value
        if not value:
            raise ValueError("an empty list gives no cells; list at least one seed")
        twice = sorted({s for s in value if value.count(s) > 1})
        if twice:
            raise ValueError(f"{twice} given twice (two cells would share one name)")
        negative = sorted(s for s in value if s < 0)
        if negative:
            raise ValueError(f"{negative} are negative; seeds are 0 or more")
        return value

    @field_validator("metrics")
    @classmethod
    def _known_groups(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in METRIC_GROUPS]
        if unknown:
            raise ValueError(
                f"{unknown} are not metric groups; choose from {', '.join(METRIC_GROUPS)}"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> BenchSpec:
        unscored = unscorable(self.inference.method, self.metrics)
        if unscored:
            raise ValueError(unscored)
        names = [m.name for m in self.models]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"models: duplicate names {dup}")
        for i, rule in enumerate(self.exclude):
            unknown = sorted(set(rule.models) - set(names))
            if unknown:
                raise ValueError(
                    f"exclude.{i}.models: {unknown} are not models of the spec: {names}"
                )
            if not rule.datasets and not rule.models:
                raise ValueError(
                    f"exclude.{i}: names no datasets and no models, so it would exclude every "
                    "cell; list the datasets or models it is for"
                )
        if self.reference_model is not None and self.reference_model not in names:
            raise ValueError(
                f"reference_model: {self.reference_model!r} is not one of the models {names}"
            )
        return self

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


def unscorable(method: str, metrics: list[str]) -> str | None:
    """Why the metric groups `metrics` cannot score fits by `method`, or None when they can."""
    need = needing_draws(metrics)
    if method != "map" or not need:
        return None
    names = ", ".join(repr(n) for n in need)
    return (
        f"inference.method: 'map' gives one point estimate, and {names} in metrics "
        f"need{'s' if len(need) == 1 else ''} posterior draws, so every cell would fail; list "
        f"the metrics without {names}, or use method nuts or svi"
    )


def value_label(value: Any) -> str:
    """A spec value as cell names show it (floats as ``%g``)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def canonical(value: Any) -> Any:
    """A spec value in the one plain form every cell's settings take: mappings with sorted
    keys and sequences as lists, all the way down."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [canonical(x) for x in value]
    return value


class SpecError(ValueError):
    """A benchmark spec is not valid; the message names the file and each bad key."""


def parse_spec(raw: Any, source: str = "spec") -> BenchSpec:
    """Validate a spec mapping; every error names its key path."""
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: expected a mapping of keys, got {type(raw).__name__}")
    try:
        return BenchSpec.model_validate(raw)
    except ValidationError as err:
        lines = "\n".join(f"  {line}" for line in schema_problems(err))
        raise SpecError(f"{source}: invalid benchmark spec\n{lines}") from err


def schema_problems(err: ValidationError, prefix: str = "") -> list[str]:
    """One ``key.path: what is wrong`` line per problem of a pydantic error; `prefix` is
    the key path of the validated block (``inference.``)."""
    lines = []
    for e in err.errors():
        where = prefix + ".".join(str(x) for x in e["loc"])
        what = e["msg"].removeprefix("Value error, ")  # our validators' text, said once
        if e["type"] == "extra_forbidden":
            what = f"unknown key {e['loc'][-1]!r} (misspelled? it would be ignored otherwise)"
        lines.append(f"{where}: {what}" if where else what)
    return lines


def load_spec(path: str | Path) -> tuple[BenchSpec, str]:
    """Read a YAML/JSON spec file; returns the spec and its text (snapshotted with the run)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError as err:
        raise SpecError(f"{path}: spec file not found") from err
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise SpecError(f"{path}: not valid YAML/JSON: {err}") from err
    spec = parse_spec(raw, str(path))
    base = path.parent
    # Relative data paths are relative to the spec file.
    datasets = [_rebase(d, base) for d in spec.datasets]
    return spec.model_copy(update={"datasets": datasets}), text


def _rebase(d: DatasetSpec, base: Path) -> DatasetSpec:
    update: dict[str, Any] = {}
    for key in ("file", "files", "conjura"):
        value = getattr(d, key)
        if value is not None and not Path(value).is_absolute():
            update[key] = str(base / value)
    if isinstance(d.columns, str) and not Path(d.columns).is_absolute():
        update["columns"] = str(base / d.columns)
    return d.model_copy(update=update) if update else d


def spec_hash(spec: BenchSpec) -> str:
    """A content hash of the validated spec (what the cells depend on). `exclude` is left
    out: it picks which cells run, not what they compute, so editing it keeps the run."""
    return hashlib.sha256(spec.model_dump_json(exclude={"exclude"}).encode()).hexdigest()[:16]
