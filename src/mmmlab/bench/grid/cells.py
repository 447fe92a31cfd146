"""The grid: every (dataset, model, variant, seed) cell of a spec, with a canonical name and a
seed hashed from that name."""

from __future__ import annotations

import glob
import hashlib
import itertools
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from mmmlab.bench.grid.sources import check_sources
from mmmlab.bench.grid.spec import BenchSpec, DatasetSpec, SpecError, schema_problems, unscorable
from mmmlab.bench.grid.variants import DATA_DIMENSIONS, data_option, split_option


class DatasetRef(NamedTuple):
    """One concrete dataset of the grid: a preset (with world overrides) or a file."""

    name: str
    preset: str | None = None
    world: tuple[tuple[str, Any], ...] = ()
    data_seed: int | None = None
    file: str | None = None
    columns: str | tuple[tuple[str, Any], ...] | None = None
    organisation: str | None = None
    sum_channels: bool = False
    frequency: str | None = None
    lift_tests: Any = None  # "from_truth" or a tuple of frozen test mappings


class Variant(NamedTuple):
    """One configuration: its label in cell names ('' for the base) and its overrides."""

    label: str
    model: tuple[tuple[str, Any], ...] = ()
    split: tuple[tuple[str, Any], ...] = ()
    inference: tuple[tuple[str, Any], ...] = ()
    data: tuple[tuple[str, Any], ...] = ()  # data dimensions (`bench.variants`)


class Cell(NamedTuple):
    """One unit of work. `name` is the CLI filter, store key and row id; `cell_seed` is a
    hash of the name (never the clock)."""

    name: str
    dataset: DatasetRef
    model: str
    variant: Variant
    seed: int
    cell_seed: int


def cell_name(dataset: str, model: str, variant: str, seed: int) -> str:
    """``dataset/model[variant]/seed=N`` (no brackets for the base configuration)."""
    label = f"[{variant}]" if variant else ""
    return f"{dataset}/{model}{label}/seed={seed}"


def seed_of(name: str) -> int:
    """A 31-bit seed from the cell name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") & 0x7FFFFFFF


MAPPING = "\x00mapping"  # tags a frozen nested mapping (so {} and [] stay apart)


def _frozen(mapping: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    def freeze(v: Any) -> Any:
        if isinstance(v, dict):
            return (MAPPING,) + tuple(sorted((k, freeze(x)) for k, x in v.items()))
        if isinstance(v, list):
            return tuple(freeze(x) for x in v)
        return v

    return tuple(sorted((k, freeze(v)) for k, v in mapping.items()))


def thaw(pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """Back from the hashable form to plain dicts and lists."""

    def back(v: Any) -> Any:
        if isinstance(v, tuple) and v[:1] == (MAPPING,):
            return {k: back(x) for k, x in v[1:]}
        if isinstance(v, tuple):
            return [back(x) for x in v]
        return v

    return {k: back(v) for k, v in pairs}


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def expand_datasets(d: DatasetSpec) -> list[DatasetRef]:
    """The concrete datasets of one dataset entry (preset grid or file group)."""
    tests = d.lift_tests
    if isinstance(tests, list):
        tests = tuple(_frozen(t) for t in tests)
    return [ref._replace(lift_tests=tests) for ref in _expand_datasets(d)]


def _expand_datasets(d: DatasetSpec) -> list[DatasetRef]:
    columns = _frozen(d.columns) if isinstance(d.columns, dict) else d.columns
    if d.conjura is not None:
        from mmmlab.data.conjura import organisations

        ids = organisations(d.conjura)["organisation_id"].astype(str).tolist()
        ids = ids[: d.n_organisations] if d.n_organisations else ids
        prefix = f"{d.name}:" if d.name else ""
        return [
            DatasetRef(f"{prefix}org_{i}", file=d.conjura, organisation=i, sum_channels=True)
            for i in ids
        ]
    if d.preset is not None:
        keys = sorted(d.params)
        out = []
        for combo in itertools.product(*(d.params[k] for k in keys)):
            label = ",".join(f"{k}={_fmt(v)}" for k, v in zip(keys, combo, strict=True))
            base = d.name or d.preset + ("_daily" if d.frequency == "daily" else "")
            name = f"{base}({label})" if label else base
            world = tuple(zip(keys, combo, strict=True))
            out.append(
                DatasetRef(
                    name,
                    preset=d.preset,
                    world=world,
                    data_seed=d.data_seed,
                    sum_channels=d.sum_channels,
                    frequency=d.frequency,
                )
            )
        return out
    if d.file is not None:
        return [
            DatasetRef(
                d.name or Path(d.file).stem,
                file=d.file,
                columns=columns,
                sum_channels=d.sum_channels,
            )
        ]
    paths = sorted(glob.glob(d.files or ""))
    prefix = f"{d.name}:" if d.name else ""
    return [
        DatasetRef(prefix + Path(p).stem, file=p, columns=columns, sum_channels=d.sum_channels)
        for p in paths
    ]


def expand_variants(spec: BenchSpec) -> list[Variant]:
    """The configurations: base plus each dimension alone, or their product (capped)."""
    dims = spec.variants.dimensions
    if not dims:
        return [Variant("")]
    options = {name: [_option(name, v) for v in values] for name, values in dims.items()}
    for name, opts in options.items():
        _check_options(spec, name, opts)
    if spec.variants.mode == "cartesian":
        combos = list(itertools.product(*options.values()))
        if len(combos) > spec.variants.max_combinations:
            raise SpecError(
                f"variants: the cartesian product has {len(combos)} combinations, more than "
                f"max_combinations={spec.variants.max_combinations}; raise the cap or use "
                "mode: one_at_a_time"
            )
    else:
        base = [opts[0] for opts in options.values()]
        combos = [tuple(base)]
        for i, opts in enumerate(options.values()):
            for opt in opts[1:]:
                combos.append(tuple(base[:i]) + (opt,) + tuple(base[i + 1 :]))
    names = list(options)
    out = []
    for combo in combos:
        label = ",".join(f"{n}={opt[0]}" for n, opt in zip(names, combo, strict=True))
        model: dict[str, Any] = {}
        split: dict[str, Any] = {}
        inference: dict[str, Any] = {}
        data: dict[str, Any] = {}
        for _, m, sp, inf, d in combo:
            model |= m
            split |= sp
            inference |= inf
            data |= d
        parts = (_frozen(model), _frozen(split), _frozen(inference), _frozen(data))
        out.append(Variant(label, *parts))
    return out


def _option(dim: str, value: Any) -> tuple[str, dict, dict, dict, dict]:
    """(label, model, split, inference and data overrides) of one value. The data
    dimensions and `split` are reserved names (`bench.variants`); any other dimension sets
    the model parameter it names."""
    if dim in DATA_DIMENSIONS:
        label, data = data_option(dim, value)
        return label, {}, {}, {}, data
    if dim == "split":
        label, split = split_option(value)
        return label, {}, split, {}, {}
    if not isinstance(value, dict):
        return _fmt(value), {dim: value}, {}, {}, {}
    value = dict(value)
    label = (
        str(value.pop("label", ""))
        or ",".join(f"{k}={_fmt(v)}" for k, v in sorted(value.items()) if not isinstance(v, dict))
        or dim
    )
    split = value.pop("split", {}) or {}
    inference = value.pop("inference", {}) or {}
    if not isinstance(split, dict) or not isinstance(inference, dict):
        raise SpecError(f"variants.dimensions.{dim}: split and inference must be mappings")
    return label, value, split, inference, {}


def _check_options(spec: BenchSpec, dim: str, options: list[tuple]) -> None:
    """Each value of dimension `dim` has its own label, and its split and inference overrides
    are valid on top of the spec's and scorable by its metrics."""
    labels = [opt[0] for opt in options]
    for j, label in enumerate(labels):
        if label in labels[:j]:
            raise SpecError(
                f"variants.dimensions.{dim}: values {labels.index(label)} and {j} are both "
                f"labelled {label!r}, so two cells would share one name; drop the repeat or "
                "give each a distinct label"
            )
    for label, _, split, inference, _ in options:
        where = f"variants.dimensions.{dim} [{label}]"
        for block, base, override in (
            ("split", spec.split, split),
            ("inference", spec.inference, inference),
        ):
            try:
                merged = type(base).model_validate(base.model_dump() | override)
            except ValidationError as err:
                problems = "; ".join(schema_problems(err, f"{block}."))
                raise SpecError(f"{where}: {problems}") from None
            if block == "inference" and unscorable(merged.method, spec.metrics):
                raise SpecError(f"{where}: {unscorable(merged.method, spec.metrics)}")


def expand(spec: BenchSpec) -> list[Cell]:
    """Every cell, in grid order: dataset, then model, then variant, then seed. Sources and
    variants are checked first: a spec that would fail or misname cells raises `SpecError`."""
    check_sources(spec)
    datasets = [ref for d in spec.datasets for ref in expand_datasets(d)]
    names = [d.name for d in datasets]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SpecError(f"datasets: two datasets are named {dup}; give them distinct names")
    variants = expand_variants(spec)
    _check_models(spec, variants)
    cells = []
    for ref in datasets:
        for model in spec.models:
            for variant in variants:
                for seed in spec.seed_list:
                    name = cell_name(ref.name, model.name, variant.label, seed)
                    cells.append(Cell(name, ref, model.name, variant, seed, seed_of(name)))
    return cells


EXCLUDED = "excluded by the spec: "


def excluded_cells(spec: BenchSpec, cells: list[Cell]) -> dict[str, str]:
    """``{cell name: skip reason}`` for the cells of `spec.exclude`; a dataset name that
    matches no dataset of the grid is an error (a misspelling would exclude nothing)."""
    out: dict[str, str] = {}
    datasets = sorted({c.dataset.name for c in cells})
    for i, rule in enumerate(spec.exclude):
        for d in rule.datasets:
            if not any(rule.names(d, n) for n in datasets):
                raise SpecError(f"exclude.{i}.datasets: {d!r} is not in the grid: {datasets}")
        for c in cells:
            if c.name not in out and rule.covers(c.dataset.name, c.model):
                out[c.name] = EXCLUDED + rule.reason.strip()
    return out


def _check_models(spec: BenchSpec, variants: list[Variant]) -> None:
    """Every model × variant must be a valid configuration of its backend: a misspelled
    parameter or variant dimension is an error here, never a silent no-op."""
    from mmmlab.backends import check_params

    for model in spec.models:
        for variant in variants:
            try:
                check_params(model.backend, model.params | thaw(variant.model))
            except ValueError as err:
                where = f"models.{model.name}" + (
                    f" with variant [{variant.label}]" if variant.label else ""
                )
                raise SpecError(f"{where}: {err}") from None
