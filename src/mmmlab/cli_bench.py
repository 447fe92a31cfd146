"""`mmmlab bench …`: run a benchmark grid, watch it, summarise, export and report it."""

from __future__ import annotations

import time
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from mmmlab import datasets
from mmmlab.cli_console import console
from mmmlab.cli_console import error as _error

bench_app = typer.Typer(
    no_args_is_help=True, help="Benchmark grids: dataset × model × variant × seed."
)
SUITES = ("quick", "hill-mixture", "hill-mixture-real", "hill-mixture-public", "param-recovery")
# Suites that read data files: where `${data}` points without --data (None: --data is needed).
NEEDS_DATA = {"hill-mixture-real": None, "hill-mixture-public": str(datasets.folder())}
DEFAULT_ROOT = Path("runs/bench")


def _spec_source(spec: str | None, data: str | None = None):
    """(BenchSpec, text) from a file path or a built-in suite name (default: quick).

    A suite that reads data files takes their location from `data` (``${data}`` in it)."""
    from mmmlab.bench.grid.spec import load_spec, parse_spec

    name = spec or "quick"
    if name in SUITES:
        import yaml

        text = (resources.files("mmmlab.bench") / "suites" / f"{name}.yaml").read_text()
        if "${data}" in text:
            where = data or NEEDS_DATA.get(name)
            if where is None:
                raise ValueError(f"suite {name} reads your data: give it with --data PATH")
            if not Path(where).exists():
                raise ValueError(f"--data {where}: no such file or folder")
            text = text.replace("${data}", str(Path(where).resolve()))
        return parse_spec(yaml.safe_load(text), f"suite {name}"), text
    if not Path(name).exists():
        raise ValueError(
            f"{name}: no such spec file, and not a built-in suite ({', '.join(SUITES)})"
        )
    return load_spec(name)


def _counts_table(counts: dict[str, int], total: int, eta: float | None) -> Table:
    table = Table(show_header=True, title=None, box=None)
    for col in ("pending", "running", "done", "failed", "skipped", "total", "ETA"):
        table.add_column(col, justify="right")
    left = "–" if eta is None or eta != eta else time.strftime("%H:%M:%S", time.gmtime(eta))
    table.add_row(
        str(counts.get("pending", 0)),
        f"[cyan]{counts.get('running', 0)}[/]",
        f"[green]{counts.get('done', 0)}[/]",
        f"[red]{counts.get('failed', 0)}[/]",
        f"[yellow]{counts.get('skipped', 0)}[/]",
        str(total),
        left,
    )
    return table


@bench_app.command("run")
def run(
    spec: Annotated[
        str | None, typer.Argument(help="Spec YAML/JSON, or a built-in suite (default: quick)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default runs/bench/NAME)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the grid, run nothing")] = False,
    executor: Annotated[str, typer.Option(help="local | ray")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster address (host:port)")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: cores)")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds per cell before it fails")] = None,
    force: Annotated[bool, typer.Option("--force", help="Rerun finished cells too")] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Rerun only the failed cells")
    ] = False,
    rerun_stale: Annotated[
        bool,
        typer.Option(
            "--rerun-stale", help="Rerun finished cells that other code or changed data produced"
        ),
    ] = False,
    only: Annotated[
        str | None, typer.Option(help="Run only cells whose name contains this")
    ] = None,
    report: Annotated[bool, typer.Option(help="Write report.html / report.md at the end")] = True,
    data: Annotated[
        str | None, typer.Option(help="Data file or folder of a suite that reads data")
    ] = None,
    batch: Annotated[
        int,
        typer.Option(
            min=1, help="Fit up to N cells that differ only by seed in one program (1: alone)"
        ),
    ] = 1,
) -> None:
    """Run every pending cell of a benchmark; rerunning the same spec resumes.

    Exit status:
    0: no cell failed;
    3: some cells failed (their count is printed): `bench status` shows them,
    --retry-failed reruns them;
    1: every cell that ran failed;
    2: the run could not start: a bad spec, or a run directory that another run
    holds, that is damaged or that holds another spec;
    130: stopped by Ctrl-C (finished cells are kept).
    """
    from mmmlab.bench.grid.cells import excluded_cells, expand

    try:
        bench, text = _spec_source(spec, data)
    except ValueError as err:
        _error(err)
        raise typer.Exit(2) from None
    try:
        cells = expand(bench)
        excluded = excluded_cells(bench, cells)
    except ValueError as err:  # the grid names the key; say which spec
        source = f"suite {spec or 'quick'}" if (spec or "quick") in SUITES else spec
        _error(f"{source}: {err}")
        raise typer.Exit(2) from None
    if dry_run:
        table = Table(title=f"{bench.name}: {len(cells)} cells (dry run)")
        table.add_column("cell", overflow="fold")
        for col in ("variant", "seed", "cell seed", "excluded"):
            table.add_column(col)
        for c in cells:
            table.add_row(
                escape(c.name),
                escape(c.variant) or "–",
                str(c.seed),
                str(c.cell_seed),
                "yes" if c.name in excluded else "–",
            )
        console.print(table)
        for reason, n in Counter(excluded.values()).items():
            console.print(f"{n} cell(s) {escape(reason)}")
        return
    from mmmlab.bench.run.runner import run_benchmark

    out = DEFAULT_ROOT / bench.name if out is None else out
    console.print(f"[bold]{bench.name}[/]: {len(cells)} cells → {out}")
    state = {"counts": {}, "total": len(cells), "eta": None}
    with Live(_counts_table({}, len(cells), None), console=console, refresh_per_second=4) as live:

        def progress(counts: dict[str, int], total: int, eta: float) -> None:
            state.update(counts=counts, total=total, eta=eta)
            live.update(_counts_table(counts, total, eta))

        def on_event(kind: str, text: str) -> None:
            colour = {"failed": "red", "skipped": "yellow", "stale": "yellow"}.get(kind, "cyan")
            live.console.print(f"[{colour}]{kind}:[/] {escape(text)}", soft_wrap=True)

        try:
            result = run_benchmark(
                bench,
                text,
                out,
                executor=executor,
                address=address,
                workers=workers,
                timeout_s=timeout,
                force=force,
                retry_failed=retry_failed,
                rerun_stale=rerun_stale,
                only=only,
                progress=progress,
                on_event=on_event,
                batch=batch,
            )
        except KeyboardInterrupt:
            live.stop()
            console.print(
                f"\n[yellow]stopped.[/] Finished cells are kept in {out}; run the same command "
                "again to resume."
            )
            raise typer.Exit(130) from None
        except (ValueError, ImportError) as err:
            live.stop()
            console.print()
            _error(err)
            raise typer.Exit(2) from None
    counts = result.counts
    console.print()
    console.print(
        f"ran {result.ran} cell(s): {counts.get('done', 0)} done, {counts.get('failed', 0)} "
        f"failed, {counts.get('skipped', 0)} skipped of {len(cells)}"
    )
    if report:
        paths = _write_report(out)
        console.print(f"\n[bold green]report[/] {paths['html'].resolve()}")
        console.print(f"        {paths['markdown'].resolve()}")
    failed = counts.get("failed", 0)
    if failed:
        again = f"mmmlab bench run {spec or 'quick'} --out {out} --retry-failed"
        console.print(
            f"\n[red]{failed} of {len(cells)} cell(s) failed[/]: see why with "
            f"`mmmlab bench status {escape(str(out))}`; rerun only them with `{escape(again)}`",
            soft_wrap=True,
        )
        raise typer.Exit(1 if counts.get("done", 0) == 0 else 3)


def _write_report(run_dir: Path) -> dict[str, Path]:
    import json

    import pandas as pd

    from mmmlab.bench.report.document import write_report
    from mmmlab.bench.results.store import Store

    with Store.open(run_dir, readonly=True) as store:
        cells, metrics = store.cells_frame(), store.metrics_frame()
        pareto = {}
        for name in cells.loc[cells["status"] == "done", "name"]:
            path = store.artifact_dir(name) / "pareto.csv"
            if path.exists():
                pareto[name] = pd.read_csv(path)
        title = store.meta().get("name", run_dir.name)
    env_path, spec_path = run_dir / "environment.json", run_dir / "spec.yaml"
    environment = json.loads(env_path.read_text()) if env_path.exists() else None
    spec_text = spec_path.read_text() if spec_path.exists() else None
    catastrophic = _catastrophic_rules(spec_text)
    return write_report(
        cells,
        metrics,
        run_dir,
        f"Benchmark {title}",
        spec_text=spec_text,
        environment=environment,
        catastrophic_rules=catastrophic,
        pareto=pareto,
    )


def _catastrophic_rules(spec_text: str | None) -> dict | None:
    if not spec_text:
        return None
    import yaml

    from mmmlab.bench.grid.spec import parse_spec

    try:
        return {k: tuple(v) for k, v in parse_spec(yaml.safe_load(spec_text)).catastrophic.items()}
    except ValueError:
        return None


@bench_app.command("report")
def report_cmd(run_dir: Annotated[Path, typer.Argument(help="Run directory")]) -> None:
    """(Re)write report.html and report.md of a run."""
    try:
        paths = _write_report(run_dir)
    except ValueError as err:
        _error(err)
        raise typer.Exit(2) from None
    console.print(f"[bold green]report[/] {paths['html'].resolve()}")


@bench_app.command("summary")
def summary(
    run_dir: Annotated[Path, typer.Argument(help="Run directory")],
    metric: Annotated[str, typer.Option(help="Metric to describe by model")] = "test_rmse",
) -> None:
    """Robust summaries: convergence rates, means (all / converged), medians, trimmed means,
    tails, catastrophic runs, winners, best model per dataset, worst R-hat."""
    from mmmlab.bench.report.summary import summarize
    from mmmlab.bench.results.store import Store

    try:
        with Store.open(run_dir, readonly=True) as store:
            cells, metrics = store.cells_frame(), store.metrics_frame()
            spec_path = run_dir / "spec.yaml"
            rules = _catastrophic_rules(spec_path.read_text() if spec_path.exists() else None)
    except ValueError as err:
        _error(err)
        raise typer.Exit(2) from None
    tables = summarize(cells, metrics, catastrophic_rules=rules)
    for name, frame in tables.items():
        if name == "describe" and not frame.empty and "metric" in frame:
            frame = frame[frame["metric"] == metric]
        _print_frame(f"{name}" + (f" ({metric})" if name == "describe" else ""), frame)


def _print_frame(title: str, frame) -> None:
    if frame is None or frame.empty:
        console.print(f"[dim]{title}: no data[/]")
        return
    table = Table(title=title)
    for col in frame.columns:
        table.add_column(str(col), justify="right")
    for row in frame.head(40).itertuples(index=False):
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else escape(str(v)) for v in row])
    console.print(table)


@bench_app.command("export")
def export(
    run_dir: Annotated[Path, typer.Argument(help="Run directory")],
    format: Annotated[str, typer.Option("--format", help="csv | parquet")] = "csv",
    out: Annotated[Path | None, typer.Option(help="Folder to write into (default: RUN)")] = None,
) -> None:
    """Write the cells and the long metrics table as CSV or Parquet."""
    from mmmlab.bench.results.export import export as export_tables
    from mmmlab.bench.results.store import Store

    try:
        with Store.open(run_dir, readonly=True) as store:
            paths = export_tables(store, out or run_dir, format)
    except ValueError as err:
        _error(err)
        raise typer.Exit(2) from None
    for path in paths:
        console.print(str(path))


@bench_app.command("list")
def list_runs(root: Annotated[Path, typer.Option(help="Where runs live")] = DEFAULT_ROOT) -> None:
    """Every run directory under ROOT with its counts by status; a run whose store cannot
    be read is named below the table with the reason."""
    import warnings

    from mmmlab.bench.results.runs import list_runs as runs

    with warnings.catch_warnings(record=True) as skipped:
        warnings.simplefilter("always")
        frame = runs(root)
    _print_frame(f"runs under {root}", frame)
    for warning in skipped:
        console.print(f"[yellow]{escape(str(warning.message))}[/]", soft_wrap=True)


@bench_app.command("status")
def status(
    run_dir: Annotated[Path, typer.Argument(help="Run directory")],
    watch: Annotated[bool, typer.Option("--watch", help="Refresh every 2 s until done")] = False,
) -> None:
    """Queue monitor: counts by status, running cells, failures, ETA."""
    from mmmlab.bench.results.store import Store

    def snapshot() -> Table:
        with Store.open(run_dir, readonly=True) as store:
            cells = store.cells_frame()
            counts = store.counts()
        done = cells[cells["status"].isin(["done", "failed"])]
        eta = None
        if len(done) and counts.get("pending", 0) + counts.get("running", 0):
            per_cell = float(done["seconds"].dropna().mean() or 0.0)
            eta = per_cell * (counts.get("pending", 0) + counts.get("running", 0))
        grid = Table.grid()
        grid.add_row(_counts_table(counts, len(cells), eta))
        running = cells[cells["status"] == "running"]["name"].tolist()
        if running:
            grid.add_row("running: " + escape(", ".join(running[:8])))
        failed = cells[cells["status"] == "failed"]
        for row in failed.head(8).itertuples():
            last = (row.error or "").strip().splitlines()[-1:] or [""]
            grid.add_row(f"[red]failed[/] {escape(row.name)}: {escape(last[0])}")
        return grid

    try:
        if not watch:
            console.print(snapshot())
            return
        with Live(snapshot(), console=console, refresh_per_second=1) as live:
            while True:
                time.sleep(2)
                live.update(snapshot())
                with Store.open(run_dir, readonly=True) as store:
                    counts = store.counts()
                if counts.get("pending", 0) + counts.get("running", 0) == 0:
                    break
    except ValueError as err:
        _error(err)
        raise typer.Exit(2) from None


@bench_app.command("doctor")
def doctor(run_dir: Annotated[Path, typer.Argument(help="Run directory")]) -> None:
    """Check a run's results.sqlite; when it is damaged, or empty or missing beside the cells'
    artifacts, move it aside (results.sqlite.damaged-TIME) and rebuild the store from the
    cells' records, saying cell by cell what was recovered and what was not."""
    from mmmlab.bench.results.doctor import repair

    try:
        done = repair(run_dir)
    except ValueError as err:
        _error(err)
        raise typer.Exit(2) from None
    if done.problem is None:
        console.print(f"[green]{run_dir / 'results.sqlite'} is healthy[/]: nothing to do")
        return
    console.print(f"[red]found:[/] {escape(done.problem)}", soft_wrap=True)
    for path in done.moved:
        console.print(f"moved aside: {escape(str(path))}", soft_wrap=True)
    lost = len(done.cells) - done.recovered
    console.print(f"\n[bold]rebuilt[/]: {done.recovered} cell(s) recovered, {lost} not")
    for cell in done.cells:
        if cell.name is not None:
            line = f"  [green]recovered[/] {escape(cell.name)}: {cell.status}, {cell.note}"
        else:
            line = f"  [yellow]not recovered[/] {escape(cell.folder)}: {escape(cell.note)}"
        console.print(line, soft_wrap=True)
    if done.compared:
        console.print(f"delta_loo recomputed for {done.compared} cell(s)")
    if done.spec_note:
        console.print(escape(done.spec_note), soft_wrap=True)
    console.print(
        "Run the same spec into this directory again to run the cells not recovered and add "
        "back the pending and excluded ones.",
        soft_wrap=True,
    )
