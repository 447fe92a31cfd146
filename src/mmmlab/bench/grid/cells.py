"""The grid: every (dataset, model, variant, seed) cell of a spec as a typed, frozen `Cell`
that carries everything its worker needs, with a canonical name and a seed hashed from it."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from mmmlab.bench.grid.sources.registry import check_sources, expand_datasets
from mmmlab.bench.grid.sources.source import DataSource
from mmmlab.bench.grid.spec import (
    BenchSpec,
    SpecError,
    canonical,
    schema_problems,
    unscorable,
    value_label,
)
from mmmlab.bench.grid.variants import DATA_DIMENSIONS, data_option, split_option


@dataclass(frozen=True)
class Variant:
    """One configuration: its label in cell names ('' for the base) and its overrides of the
    model's parameters, the split, the inference settings and the data (`grid.variants`)."""

    label: str
    model: dict[str, Any] = field(default_factory=dict)
    split: dict[str, Any] = field(default_factory=dict)
    inference: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Cell:
    """One unit of work, with everything its worker needs (it pickles for local processes,
    Ray and peer interpreters alike). Never changed once made.

    name : ``dataset/model[variant]/seed=N``: the CLI filter, store key and row id
    dataset : the concrete dataset (`grid.sources`)
    model, variant : the model's name in the spec; the variant's label ('' for the base)
    seed : the grid seed (simulated worlds are drawn with it); cell_seed : a hash of the name
    backend, params : the engine and its parameters (the model's, the variant's over them)
    split : train and validation fractions; inference : how the backend fits
    data, data_base : this variant's data dimensions and the base configuration's, so a
        variant that leaves the data as the base has them is caught
    metrics : the metric groups to score; convergence : the ``rhat`` / ``ess_bulk`` thresholds
    save_posterior, memory_gb : keep the posterior; the cell's memory budget (GiB)
    """

    name: str
    dataset: DataSource
    model: str
    variant: str
    seed: int
    cell_seed: int
    backend: str
    params: dict[str, Any]
    split: dict[str, float]
    inference: dict[str, Any]
    data: dict[str, Any]
    data_base: dict[str, Any]
    metrics: tuple[str, ...]
    convergence: dict[str, float]
    save_posterior: bool = False
    memory_gb: float | None = None


def cell_name(dataset: str, model: str, variant: str, seed: int) -> str:
    """``dataset/model[variant]/seed=N`` (no brackets for the base configuration)."""
    label = f"[{variant}]" if variant else ""
    return f"{dataset}/{model}{label}/seed={seed}"


def seed_of(name: str) -> int:
    """A 31-bit seed from the cell name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") & 0x7FFFFFFF


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
        parts = (canonical(model), canonical(split), canonical(inference), canonical(data))
        out.append(Variant(label, *parts))
    return out


def _option(dim: str, value: Any) -> tuple[str, dict, dict, dict, dict]:
    """(label, model, split, inference and data overrides) of one value. The data
    dimensions and `split` are reserved names (`grid.variants`); any other dimension sets
    the model parameter it names."""
    if dim in DATA_DIMENSIONS:
        label, data = data_option(dim, value)
        return label, {}, {}, {}, data
    if dim == "split":
        label, split = split_option(value)
        return label, {}, split, {}, {}
    if not isinstance(value, dict):
        return value_label(value), {dim: value}, {}, {}, {}
    value = dict(value)
    label = (
        str(value.pop("label", ""))
        or ",".join(
            f"{k}={value_label(v)}" for k, v in sorted(value.items()) if not isinstance(v, dict)
        )
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
    datasets = [source for entry in spec.datasets for source in expand_datasets(entry)]
    names = [d.name for d in datasets]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SpecError(f"datasets: two datasets are named {dup}; give them distinct names")
    variants = expand_variants(spec)
    _check_models(spec, variants)
    cells = []
    for source in datasets:
        for model in spec.models:
            for variant in variants:
                for seed in spec.seed_list:
                    name = cell_name(source.name, model.name, variant.label, seed)
                    cells.append(_cell(spec, name, source, model, variant, variants[0], seed))
    return cells


def _cell(spec, name, source, model, variant: Variant, base: Variant, seed: int) -> Cell:
    return Cell(
        name=name,
        dataset=source,
        model=model.name,
        variant=variant.label,
        seed=seed,
        cell_seed=seed_of(name),
        backend=model.backend,
        params=model.params | canonical(variant.model),
        split=spec.split.model_dump() | canonical(variant.split),
        inference=spec.inference.model_dump() | canonical(variant.inference),
        data=canonical(variant.data),
        data_base=canonical(base.data),
        metrics=tuple(spec.metrics),
        convergence=spec.convergence.model_dump(),
        save_posterior=spec.run.save_posterior,
        memory_gb=spec.run.memory_gb,
    )


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
    """Every model × variant must be a valid configuration of its backend, and the backend
    must give what the spec's metric groups read: a misspelled parameter or variant dimension
    is an error here, never a silent no-op."""
    from mmmlab.backends import capabilities, check_params
    from mmmlab.bench.score.groups import missing_capabilities

    for model in spec.models:
        for variant in variants:
            try:
                check_params(model.backend, model.params | canonical(variant.model))
            except ValueError as err:
                where = f"models.{model.name}" + (
                    f" with variant [{variant.label}]" if variant.label else ""
                )
                raise SpecError(f"{where}: {err}") from None
        missing = missing_capabilities(spec.metrics, capabilities(model.backend))
        if missing:
            lacking = sorted({c for needs in missing.values() for c in needs})
            raise SpecError(
                f"models.{model.name}: backend {model.backend!r} gives no {', '.join(lacking)}, "
                f"which metric group(s) {', '.join(missing)} read; leave them out of metrics"
            )
