"""The dataset kinds by spec key, and what every kind shares: the checks before a run, the
expansion of a spec entry into the grid's datasets, and loading one in the worker.

Add a kind: a `source.DatasetKind` whose `key` is a source key of `grid.spec.DatasetSpec`
(`SOURCES`), given to `register_dataset_kind`.
"""

from __future__ import annotations

from dataclasses import replace

from mmmlab.bench.grid.sources.conjura import ConjuraKind
from mmmlab.bench.grid.sources.files import FileGroupKind, FileKind, check_columns
from mmmlab.bench.grid.sources.preset import PresetKind
from mmmlab.bench.grid.sources.source import DatasetKind, DataSource
from mmmlab.bench.grid.spec import SOURCES, BenchSpec, DatasetSpec, SpecError
from mmmlab.data import Dataset

DATASET_KINDS: dict[str, DatasetKind] = {}


def register_dataset_kind(kind: DatasetKind) -> None:
    """Make `kind` the loader of spec entries with its `key`."""
    if kind.key not in SOURCES:
        raise ValueError(
            f"dataset kind {kind.key!r} is no source key of the spec's datasets ({SOURCES})"
        )
    DATASET_KINDS[kind.key] = kind


for _kind in (PresetKind(), FileKind(), FileGroupKind(), ConjuraKind()):
    register_dataset_kind(_kind)


def kind_of(entry: DatasetSpec) -> DatasetKind:
    """The kind of a spec's dataset entry (the one source key it gives)."""
    return DATASET_KINDS[next(k for k in SOURCES if getattr(entry, k) is not None)]


def check_sources(spec: BenchSpec) -> None:
    """Raise `SpecError` naming the key (``datasets.1.preset``) of the first dataset source of
    `spec` that cannot load: a source that fails here would fail every one of its cells."""
    for i, entry in enumerate(spec.datasets):
        where = f"datasets.{i}"
        try:
            kind_of(entry).check(entry, where)
            if entry.columns is not None:
                check_columns(entry.columns, f"{where}.columns")
        except ValueError as err:
            raise SpecError(str(err)) from None


def expand_datasets(entry: DatasetSpec) -> list[DataSource]:
    """The concrete datasets of one spec entry, each with the entry's lift tests."""
    from mmmlab.bench.score.lift import lift_test_from_dict

    tests = entry.lift_tests
    if isinstance(tests, list):
        tests = tuple(
            lift_test_from_dict(raw, f"datasets.lift_tests[{i}]") for i, raw in enumerate(tests)
        )
    return [replace(source, lift_tests=tests) for source in kind_of(entry).expand(entry)]


def load_source(source: DataSource, seed: int) -> tuple[Dataset, object]:
    """(Dataset, Truth or None) of `source` for the grid seed `seed`; channels summed into
    one "spend" channel when the source asks (a per-channel truth then no longer applies)."""
    dataset, truth = DATASET_KINDS[source.kind].load(source, seed)
    if source.sum_channels and dataset.n_channels > 1:
        dataset, truth = summed(dataset), None
    return dataset, truth


def summed(dataset: Dataset) -> Dataset:
    """One channel "spend": the sum of every channel's spend (exposure dropped)."""
    return replace(
        dataset,
        channels=("spend",),
        spend=dataset.spend.sum(axis=2, keepdims=True),
        exposure=None,
        history_spend=dataset.history_spend.sum(axis=2, keepdims=True),
        history_exposure=None,
    )
