"""The `mmmlab` command line."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Bayesian marketing mix models: fit, simulate, benchmark.",
)
console = Console()


def _add_bench() -> None:
    from mmmlab.cli_bench import bench_app

    app.add_typer(bench_app, name="bench")


_add_bench()


@app.callback()
def main() -> None:
    """mmmlab: Bayesian marketing mix modeling."""


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _load_data(
    data: Path | None,
    example: bool,
    columns: Path | None,
    mff: Path | None,
    date: str | None,
    target: str | None,
    spend: str | None,
    exposure: str | None,
    controls: str | None,
    categorical: str | None,
    geo: str | None,
    fill_missing_spend: str,
):
    from mmmlab import datasets
    from mmmlab.data import ColumnMap, MffMap, read_dataset, read_mff

    if example:
        from mmmlab.synth import example_dataset

        dataset, truth = example_dataset()
        answer = ", ".join(
            f"{c} {r:.2f}" for c, r in zip(dataset.channels, truth.roas, strict=True)
        )
        console.print(f"[bold]answer key[/] (simulated data) true ROAS: {answer}")
        return dataset
    if data is None:
        raise typer.BadParameter("give a DATA file, or --example for the built-in dataset")
    if not data.exists() and str(data) in datasets.names():  # a shipped dataset by name
        name, data = str(data), datasets.path(str(data))
        if mff is None and columns is None and not (date or target or spend):
            return read_dataset(data, datasets.columns(name), fill_missing_spend=fill_missing_spend)
    elif not data.exists():
        raise typer.BadParameter(
            f"DATA {data}: no such file, nor a shipped dataset ({', '.join(datasets.names())})"
        )
    if mff is not None:
        return read_mff(data, MffMap.from_yaml(mff), fill_missing_spend=fill_missing_spend)
    if columns is not None:
        column_map = ColumnMap.from_yaml(columns)
    else:
        missing = [
            f for f, v in (("--date", date), ("--target", target), ("--spend", spend)) if not v
        ]
        if missing:
            raise typer.BadParameter(
                f"say which columns play which role: --columns map.yaml, or {', '.join(missing)}"
            )
        pairs = [p.split("=", 1) for p in _split(exposure)]
        bad = [p[0] for p in pairs if len(p) != 2 or not all(x.strip() for x in p)]
        if bad:
            raise typer.BadParameter(
                f"--exposure {bad[0]!r}: give channel=column pairs, e.g. "
                "--exposure tv_spend=tv_impressions,radio_spend=radio_grps"
            )
        column_map = ColumnMap(
            date=date,
            target=target,
            spend=_split(spend),
            exposure={k: v for k, v in pairs},
            controls=_split(controls),
            categorical_controls=_split(categorical),
            geo=geo,
        )
    return read_dataset(data, column_map, fill_missing_spend=fill_missing_spend)


def _open_unit(value: float) -> float:
    if not 0 < value < 1:
        raise typer.BadParameter(f"{value} is not in the range 0 < x < 1.")
    return value


@app.command()
def fit(
    data: Annotated[
        Path | None,
        typer.Argument(
            help="CSV or Parquet file (wide format), or a shipped sample dataset by name: "
            "robyn_simulated, meridian_national, pymc_example (read with its own column map "
            "unless --columns or column flags are given)",
            show_default=False,
        ),
    ] = None,
    example: Annotated[bool, typer.Option("--example", help="Fit the built-in example")] = False,
    preset: Annotated[
        str | None,
        typer.Option(help="Simulate this built-in world (see `mmmlab synth --list`) and fit it"),
    ] = None,
    data_seed: Annotated[int, typer.Option(min=0, help="Seed of the --preset simulation")] = 0,
    truth: Annotated[
        Path | None, typer.Option(help="truth.json of simulated DATA: score the fit against it")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="Model config YAML")] = None,
    out: Annotated[Path, typer.Option(help="Output directory")] = Path("runs/fit"),
    columns: Annotated[Path | None, typer.Option(help="Column map YAML")] = None,
    mff: Annotated[
        Path | None, typer.Option(help="DATA is MFF long format; this YAML maps its variables")
    ] = None,
    date: Annotated[str | None, typer.Option(help="Date column")] = None,
    target: Annotated[str | None, typer.Option(help="Target column")] = None,
    spend: Annotated[str | None, typer.Option(help="Spend columns, comma-separated")] = None,
    exposure: Annotated[
        str | None, typer.Option(help="channel=column pairs of exposure, comma-separated")
    ] = None,
    controls: Annotated[str | None, typer.Option(help="Control columns, comma-separated")] = None,
    categorical: Annotated[
        str | None, typer.Option(help="Categorical control columns (one-hot)")
    ] = None,
    geo: Annotated[str | None, typer.Option(help="Geo column (panel data)")] = None,
    fill_missing_spend: Annotated[
        str, typer.Option(help="'error' or 'zero': what a blank spend cell means")
    ] = "error",
    method: Annotated[
        str, typer.Option(help="nuts (full posterior) | map (posterior mode) | svi (approximate)")
    ] = "nuts",
    seed: Annotated[int, typer.Option(min=0, help="Random seed (0 or more)")] = 0,
    warmup: Annotated[int, typer.Option(min=1, help="Warmup iterations per chain")] = 1000,
    samples: Annotated[int, typer.Option(min=1, help="Draws kept per chain")] = 1000,
    chains: Annotated[int, typer.Option(min=1, help="NUTS chains (2 or more for R-hat)")] = 2,
    target_accept: Annotated[
        float, typer.Option(callback=_open_unit, help="NUTS target acceptance, in (0, 1)")
    ] = 0.85,
    progress: bool = True,
) -> None:
    """Fit the Bayesian MMM and write summary, tables and plots to OUT."""
    from mmmlab.analysis.report import write_outputs
    from mmmlab.data import DatasetError
    from mmmlab.files import check_output_dir
    from mmmlab.inference import fit as run_fit
    from mmmlab.inference.fit import Method
    from mmmlab.models import ModelConfig

    if fill_missing_spend not in ("error", "zero"):
        raise typer.BadParameter("--fill-missing-spend must be 'error' or 'zero'")
    if method not in ("nuts", "map", "svi"):
        raise typer.BadParameter("--method must be nuts, map or svi")
    answer_key = None
    try:
        check_output_dir(out, [data, columns, mff, config, truth])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            if preset is not None:
                dataset, answer_key = _simulate(preset, data_seed)
            else:
                dataset = _load_data(
                    data,
                    example,
                    columns,
                    mff,
                    date,
                    target,
                    spend,
                    exposure,
                    controls,
                    categorical,
                    geo,
                    fill_missing_spend,
                )
        for w in caught:
            console.print(f"[yellow]warning:[/] {w.message}")
        model_config = ModelConfig.from_yaml(config) if config else ModelConfig()
        if truth is not None:
            from mmmlab.synth import Truth

            answer_key = Truth.load(truth)
            answer_key.check_data(dataset)
    except (DatasetError, ValueError, FileNotFoundError) as err:
        _error(err)
        raise typer.Exit(2) from None
    console.print(f"[bold]data[/] {dataset!r}")
    try:
        result = run_fit(
            dataset,
            model_config,
            seed=seed,
            method=cast(Method, method),
            num_warmup=warmup,
            num_samples=samples,
            num_chains=chains,
            target_accept=target_accept,
            progress=progress,
        )
    except (DatasetError, ValueError) as err:
        _error(err)
        raise typer.Exit(2) from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        summary = write_outputs(result, out)
    _print_summary(summary)
    for w in caught:
        console.print(f"[yellow]warning:[/] {w.message}")
    if answer_key is not None:
        _print_recovery(result, answer_key, out, summary)
    console.print(f"\n[bold green]outputs[/] in {out.resolve()}")
    for name, path in summary["files"].items():
        console.print(f"  {name:22s} {path}")


def _simulate(name: str, seed: int):
    from mmmlab.synth import simulate

    dataset, truth = simulate(name, seed)
    console.print(f"[bold]simulated[/] {name} (seed {seed}): {truth.description}")
    return dataset, truth


def _print_recovery(result, truth, out: Path, summary: dict) -> None:
    from mmmlab.analysis.recovery import fit_recovery, recovery_summary, write_recovery

    try:
        tables = fit_recovery(result, truth)
    except ValueError as err:
        _error(err)
        return
    for name, path in write_recovery(tables, out).items():
        summary["files"][f"recovery_{name}"] = str(path)
    table = Table(title=f"Against the truth ({truth.name}, seed {truth.seed})")
    for col in ("channel", "true ROAS", "estimate", "90% interval", "covered"):
        table.add_column(col, justify="right")
    for row in tables["roas"].itertuples():
        table.add_row(
            row.channel,
            _fmt(row.truth, 2),
            _fmt(row.mean, 2),
            f"[{_fmt(row.lo90, 2)}, {_fmt(row.hi90, 2)}]",
            "yes" if row.cover90 else "[red]no[/]",
        )
    console.print(table)
    head = recovery_summary(tables)
    console.print(
        f"ROAS inside the 90% interval for {head['roas_covered_90']} of "
        f"{head['roas_channels']} channels; parameters {head['params_covered_90']} of "
        f"{head['params']}; median contribution SRMSE {head['contribution_srmse_median']:.2f}"
    )


def _error(err: Exception) -> None:
    """Print a user error whole: no wrapping (paths stay intact), no markup parsing."""
    console.print("[red]error:[/] ", end="")
    console.print(str(err), soft_wrap=True, markup=False, highlight=False)


def _fmt(value: float | None, digits: int = 3, kind: str = "f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}{kind}}"


ROAS_TITLES = {  # method -> (ROAS table title, interval column)
    "nuts": ("ROAS per channel (posterior mean, 90% interval)", "90% interval"),
    "map": ("ROAS per channel (posterior mode: a point fit has no interval)", "interval"),
    "svi": ("ROAS per channel (variational mean, approximate 90% interval)", "approx. 90%"),
}


def _print_summary(summary: dict) -> None:
    d = summary["diagnostics"]
    diag = Table(title="Diagnostics", show_header=False)
    for label, value in (
        ("method", d["method"]),
        ("max R-hat", _fmt(d["max_rhat"])),
        ("min bulk ESS", _fmt(d["min_ess_bulk"], 0)),
        ("min tail ESS", _fmt(d["min_ess_tail"], 0)),
        ("divergences", str(d["divergences"])),
        ("min BFMI", _fmt(d["min_bfmi"], 2)),
        ("compile s", _fmt(d["compile_s"], 2)),
        ("sampling s", _fmt(d["sample_s"], 2)),
        ("min ESS per s", _fmt(d["ess_per_s"], 1)),
        ("R²", _fmt(summary["metrics"]["r2"])),
        ("MAPE", _fmt(summary["metrics"]["mape"])),
        ("NRMSE", _fmt(summary["metrics"]["nrmse"])),
    ):
        diag.add_row(label, value)
    console.print(diag)
    title, interval = ROAS_TITLES.get(d["method"], ROAS_TITLES["nuts"])
    roas = Table(title=title)
    for col in ("channel", "spend", "ROAS", interval, "mROAS", "effect share"):
        roas.add_column(col, justify="right")
    for row in summary["roas"]:
        lo, hi = row["roas_lo"], row["roas_hi"]
        roas.add_row(
            row["channel"],
            f"{row['spend']:,.0f}",
            _fmt(row["roas_mean"], 2),
            "–" if lo is None or hi is None else f"[{_fmt(lo, 2)}, {_fmt(hi, 2)}]",
            _fmt(row["mroas_mean"], 2),
            _fmt(row["share_of_effect"], 1, "%"),
        )
    console.print(roas)
    for w in summary["warnings"]:
        console.print(f"[bold yellow]warning:[/] {w}")
    if not summary["warnings"]:
        console.print("[green]converged:[/] R-hat < 1.01 and no divergences")


@app.command()
def synth(
    preset: Annotated[
        str | None, typer.Argument(help="Built-in world name, or a world spec YAML/JSON file")
    ] = None,
    seed: Annotated[
        int, typer.Option(min=0, help="Random seed; equal seeds give identical files")
    ] = 0,
    out: Annotated[Path | None, typer.Option(help="Output directory")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the built-in worlds")] = False,
) -> None:
    """Simulate a dataset with its answer key: data.csv, columns.yaml, truth.json, a PNG."""
    from mmmlab.files import check_output_dir
    from mmmlab.synth import list_simulators, write_simulation

    if list_ or preset is None:
        table = Table(title="Built-in worlds (mmmlab synth NAME --seed N --out DIR)")
        for col in ("name", "kind", "T × G × C", "description / assumption broken"):
            table.add_column(col)
        for row in list_simulators().itertuples():
            what = row.description + (f" [yellow]Breaks: {row.breaks}.[/]" if row.breaks else "")
            table.add_row(row.name, row.kind, f"{row.periods}×{row.geos}×{row.channels}", what)
        console.print(table)
        return
    spec_file = Path(preset) if Path(preset).suffix.lower() in (".yaml", ".yml", ".json") else None
    try:
        if out is not None:
            check_output_dir(out, [spec_file])
        dataset, truth = _simulate(preset, seed)
        if out is None:
            out = Path("runs/synth") / f"{truth.name}_seed{seed}"
            check_output_dir(out, [spec_file])
    except ValueError as err:
        _error(err)
        raise typer.Exit(2) from None
    paths = write_simulation(dataset, truth, out)
    console.print(f"[bold]data[/] {dataset!r}")
    roas = ", ".join(f"{c} {r:.2f}" for c, r in zip(truth.channels, truth.roas, strict=True))
    console.print(f"[bold]true ROAS[/] {roas}")
    if truth.breaks:
        console.print(f"[bold]breaks[/] {truth.breaks}")
    console.print(f"\n[bold green]outputs[/] in {out.resolve()}")
    for name, path in paths.items():
        console.print(f"  {name:8s} {path}")
    console.print(f"fit it: mmmlab fit --preset {preset} --data-seed {seed}")


@app.command()
def sbc(
    model: Annotated[
        str, typer.Option(help="'core' (the default additive MMM) or a model config YAML")
    ] = "core",
    data: Annotated[
        str, typer.Option(help="Design the simulations share: 'example' or a built-in world")
    ] = "example",
    n: Annotated[int, typer.Option("--n", min=1, help="Number of simulations")] = 100,
    seed: Annotated[int, typer.Option(min=0)] = 0,
    warmup: Annotated[int, typer.Option(min=1)] = 500,
    samples: Annotated[int, typer.Option(min=1)] = 500,
    chains: Annotated[int, typer.Option(min=1)] = 2,
    draws: Annotated[int, typer.Option(min=1, help="Posterior draws ranked against (L)")] = 99,
    bins: Annotated[int, typer.Option(min=1, help="Rank histogram bins; must divide L + 1")] = 20,
    out: Annotated[Path, typer.Option(help="Output directory")] = Path("runs/sbc"),
    progress: bool = True,
) -> None:
    """Simulation-based calibration: draw parameters from the prior, simulate, refit, and
    test whether each parameter's rank among its posterior draws is uniform."""
    from mmmlab.files import check_output_dir
    from mmmlab.inference.calibration import run_sbc, write_sbc
    from mmmlab.models import ModelConfig

    try:
        check_output_dir(out, [None if model == "core" else model])
        config = ModelConfig() if model == "core" else ModelConfig.from_yaml(model)
        if data == "example":
            from mmmlab.synth import example_dataset

            dataset, _ = example_dataset()
        else:
            dataset, _ = _simulate(data, 0)
        result = run_sbc(
            dataset,
            config,
            num_simulations=n,
            seed=seed,
            num_warmup=warmup,
            num_samples=samples,
            num_chains=chains,
            num_draws=draws,
            num_bins=bins,
            progress=progress,
        )
    except ValueError as err:
        _error(err)
        raise typer.Exit(2) from None
    paths = write_sbc(result, out)
    table = Table(title=f"SBC: {n} simulations, ranks among {draws} draws, {bins} bins")
    for col in ("parameter", "chi²", "p-value", "mean rank", "uniform at 1%"):
        table.add_column(col, justify="right")
    for row in result.summary.itertuples():
        table.add_row(
            row.parameter,
            f"{row.chi2:.1f}",
            f"{row.p_value:.3f}",
            f"{row.mean_rank_fraction:.2f}",
            "[red]rejected[/]" if row.rejected_1pct else "yes",
        )
    console.print(table)
    bad = int(result.summary["rejected_1pct"].sum())
    family = int(result.summary["rejected_bonferroni_1pct"].sum())
    diag = result.diagnostics
    console.print(
        f"{bad} of {len(result.summary)} rank histograms rejected at the 1% level each, "
        f"{family} at 1% over all of them (Bonferroni); "
        f"max R-hat {diag['max_rhat'].max():.3f}, divergences {int(diag['divergences'].sum())}, "
        f"{result.seconds:.0f} s"
    )
    console.print(f"\n[bold green]outputs[/] in {out.resolve()}")
    for name, path in paths.items():
        console.print(f"  {name:12s} {path}")


if __name__ == "__main__":
    app()
