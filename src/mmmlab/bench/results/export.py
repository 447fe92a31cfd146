"""A run's results written for use outside mmmlab: the cells and long metrics tables as CSV
or Parquet files."""

from __future__ import annotations

from pathlib import Path

from mmmlab.bench.results.store import Store

EXPORT_FORMATS = ("csv", "parquet")


def export(store: Store, path: str | Path, fmt: str = "parquet") -> list[Path]:
    """Write the cells table and the long metrics table; returns [cells file, metrics file].

    `path` is an existing directory (``cells.<fmt>`` and ``metrics.<fmt>`` inside it) or a
    stem: ``out/run`` or ``out/run.csv`` give ``out/run_cells.csv`` and ``out/run_metrics.csv``.
    `fmt` is ``"csv"`` (where NaN and the empty key are both empty fields) or ``"parquet"``.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {list(EXPORT_FORMATS)}")
    path = Path(path)
    if path.is_dir():
        targets = [path / f"cells.{fmt}", path / f"metrics.{fmt}"]
    else:
        stem = path.with_suffix("") if path.suffix.lstrip(".") in EXPORT_FORMATS else path
        targets = [stem.parent / f"{stem.name}_{part}.{fmt}" for part in ("cells", "metrics")]
        stem.parent.mkdir(parents=True, exist_ok=True)
    for frame, target in zip((store.cells_frame(), store.metrics_frame()), targets, strict=True):
        if fmt == "csv":
            frame.to_csv(target, index=False)
        else:
            frame.to_parquet(target, index=False, engine="pyarrow")
    return targets
