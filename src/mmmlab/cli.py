"""The `mmmlab` command line."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.table import Table

from mmmlab.cli_console import console, error, fmt
from mmmlab.cli_decisions import optimize, scenario
from mmmlab.cli_design import design
from mmmlab.cli_options import setting_option
from mmmlab.cli_synth import sbc, simulate_world, synth
from mmmlab.inference.settings import SEED, SamplerSettings

SETTING = SamplerSettings.model_fields
DEFAULT = SamplerSettings()

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Bayesian marketing mix models: fit, simulate, benchmark.",
)


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
    lift_tests: Annotated[
        Path | None,
        typer.Option(
            help="Lift-test file (CSV/Parquet: channel, start, end, spend_change, lift, "
            "lift_se; optional geo, measure_end, spread): calibrate the fit on these experiments"
        ),
    ] = None,
    method: Annotated[
        str, typer.Option(help="nuts (full posterior) | map (posterior mode) | svi (approximate)")
    ] = "nuts",
    seed: Annotated[int, setting_option(SEED)] = SEED.default,
    warmup: Annotated[int, setting_option(SETTING["num_warmup"])] = DEFAULT.num_warmup,
    samples: Annotated[int, setting_option(SETTING["num_samples"])] = DEFAULT.num_samples,
    chains: Annotated[int, setting_option(SETTING["num_chains"])] = DEFAULT.num_chains,
    target_accept: Annotated[
        float, setting_option(SETTING["target_accept"])
    ] = DEFAULT.target_accept,
    extra_samples: Annotated[int, setting_option(SETTING["extra_samples"])] = DEFAULT.extra_samples,
    progress: bool = True,
) -> None:
    """Fit the Bayesian MMM and write summary, tables and plots to OUT."""
    from mmmlab.analysis.draws import report_draws  # registers the report's warm-ups
    from mmmlab.data import DatasetError
    from mmmlab.data.lift_tests import check_lift_tests, read_lift_tests
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
        check_output_dir(out, [data, columns, mff, config, truth, lift_tests])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            if preset is not None:
                dataset, answer_key = simulate_world(preset, data_seed)
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
        tests = read_lift_tests(lift_tests) if lift_tests is not None else ()
        check_lift_tests(tests, dataset, model_config.l_max)
        if truth is not None:
            from mmmlab.synth import Truth

            answer_key = Truth.load(truth)
            answer_key.check_data(dataset)
    except (DatasetError, ValueError, FileNotFoundError) as err:
        error(err)
        raise typer.Exit(2) from None
    console.print(f"[bold]data[/] {dataset!r}")
    # The report's plotting and the fit file's NetCDF libraries (~0.7 s of a warm process)
    # are imported while the sampler compiles and samples, outside the GIL.
    _import_meanwhile("mmmlab.analysis.outputs", "xarray", "h5netcdf")
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
            extra_samples=extra_samples,
            progress=progress,
            lift_tests=tests,
        )
    except (DatasetError, ValueError) as err:
        error(err)
        raise typer.Exit(2) from None
    from mmmlab.analysis.outputs import write_outputs  # imported meanwhile (above)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        draws = report_draws(result)  # the report's and the recovery's: evaluated once
        summary = write_outputs(result, out, draws)
    _print_summary(summary)
    for w in caught:
        console.print(f"[yellow]warning:[/] {w.message}")
    if answer_key is not None:
        _print_recovery(result, answer_key, out, summary, draws)
    console.print(f"\n[bold green]outputs[/] in {out.resolve()}")
    for name, path in summary["files"].items():
        console.print(f"  {name:22s} {path}")


def _import_meanwhile(*modules: str) -> None:
    """Import `modules` in a daemon thread; a later import waits for it (the import lock)."""
    import contextlib
    import importlib
    import threading

    def run() -> None:
        for name in modules:
            with contextlib.suppress(Exception):  # the real import reports it
                importlib.import_module(name)

    threading.Thread(target=run, name="imports", daemon=True).start()


def _print_recovery(result, truth, out: Path, summary: dict, draws=None) -> None:
    from mmmlab.analysis.recovery import fit_recovery, recovery_summary, write_recovery

    try:
        tables = fit_recovery(result, truth, draws)
    except ValueError as err:
        error(err)
        return
    for name, path in write_recovery(tables, out).items():
        summary["files"][f"recovery_{name}"] = str(path)
    table = Table(title=f"Against the truth ({truth.name}, seed {truth.seed})")
    for col in ("channel", "true ROAS", "estimate", "90% interval", "covered"):
        table.add_column(col, justify="right")
    for row in tables["roas"].itertuples():
        table.add_row(
            row.channel,
            fmt(row.truth, 2),
            fmt(row.mean, 2),
            f"[{fmt(row.lo90, 2)}, {fmt(row.hi90, 2)}]",
            "yes" if row.cover90 else "[red]no[/]",
        )
    console.print(table)
    head = recovery_summary(tables)
    console.print(
        f"ROAS inside the 90% interval for {head['roas_covered_90']} of "
        f"{head['roas_channels']} channels; parameters {head['params_covered_90']} of "
        f"{head['params']}; median contribution SRMSE {head['contribution_srmse_median']:.2f}"
    )


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
        ("max R-hat", fmt(d["max_rhat"])),
        ("min bulk ESS", fmt(d["min_ess_bulk"], 0)),
        ("min tail ESS", fmt(d["min_ess_tail"], 0)),
        ("divergences", str(d["divergences"])),
        ("min BFMI", fmt(d["min_bfmi"], 2)),
        ("compile s", fmt(d["compile_s"], 2)),
        ("sampling s", fmt(d["sample_s"], 2)),
        ("min ESS per s", fmt(d["ess_per_s"], 1)),
        ("R²", fmt(summary["metrics"]["r2"])),
        ("MAPE", fmt(summary["metrics"]["mape"])),
        ("NRMSE", fmt(summary["metrics"]["nrmse"])),
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
            fmt(row["roas_mean"], 2),
            "–" if lo is None or hi is None else f"[{fmt(lo, 2)}, {fmt(hi, 2)}]",
            fmt(row["mroas_mean"], 2),
            fmt(row["share_of_effect"], 1, "%"),
        )
    console.print(roas)
    if summary.get("lift_tests"):
        _print_lift_tests(summary["lift_tests"], interval)
    for w in summary["warnings"]:
        console.print(f"[bold yellow]warning:[/] {w}")
    if not summary["warnings"]:
        console.print("[green]converged:[/] R-hat < 1.01 and no divergences")


def _print_lift_tests(rows: list[dict], interval: str) -> None:
    source = rows[0]["test"].rsplit(", ", 1)[0] if ", " in rows[0]["test"] else "lift tests"
    table = Table(title=f"Lift tests ({source}): measured vs the calibrated fit, target units")
    for col in ("test", "channel", "window", "measured ± se", "predicted", interval, "z"):
        table.add_column(col, justify="right")
    for row in rows:
        lo, hi = row["predicted_lo"], row["predicted_hi"]
        table.add_row(
            row["test"].rsplit(", ", 1)[-1],  # "line 2" of the file named in the title
            row["channel"] if row["geo"] == "all" else f"{row['channel']} ({row['geo']})",
            f"{row['start']}..{row['measure_end']}",
            f"{row['lift']:,.0f} ± {row['lift_se']:,.0f}",
            f"{row['predicted_mean']:,.0f}",
            "–" if lo is None or hi is None else f"[{lo:,.0f}, {hi:,.0f}]",
            fmt(row["z"], 1) + (" [red]disagree[/]" if row["disagree"] else ""),
        )
    console.print(table)


app.command()(synth)
app.command()(sbc)
app.command()(optimize)
app.command()(scenario)
app.command()(design)


def _add_bench() -> None:
    from mmmlab.cli_bench import bench_app

    app.add_typer(bench_app, name="bench")


_add_bench()

if __name__ == "__main__":
    app()
