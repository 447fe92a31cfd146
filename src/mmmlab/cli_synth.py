"""`mmmlab synth` and `mmmlab sbc`: simulated worlds with their answer key, and calibration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mmmlab.cli_console import console, error
from mmmlab.cli_options import setting_option
from mmmlab.inference.settings import SBC_SETTINGS, SEED, SamplerSettings

SETTING = SamplerSettings.model_fields


def simulate_world(name: str, seed: int):
    from mmmlab.synth import simulate

    dataset, truth = simulate(name, seed)
    console.print(f"[bold]simulated[/] {name} (seed {seed}): {truth.description}")
    return dataset, truth


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
        dataset, truth = simulate_world(preset, seed)
        if out is None:
            out = Path("runs/synth") / f"{truth.name}_seed{seed}"
            check_output_dir(out, [spec_file])
    except ValueError as err:
        error(err)
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


def sbc(
    model: Annotated[
        str, typer.Option(help="'core' (the default additive MMM) or a model config YAML")
    ] = "core",
    data: Annotated[
        str, typer.Option(help="Design the simulations share: 'example' or a built-in world")
    ] = "example",
    n: Annotated[int, typer.Option("--n", min=1, help="Number of simulations")] = 100,
    seed: Annotated[int, setting_option(SEED)] = SEED.default,
    warmup: Annotated[int, setting_option(SETTING["num_warmup"])] = SBC_SETTINGS.num_warmup,
    samples: Annotated[int, setting_option(SETTING["num_samples"])] = SBC_SETTINGS.num_samples,
    chains: Annotated[int, setting_option(SETTING["num_chains"])] = SBC_SETTINGS.num_chains,
    draws: Annotated[int, typer.Option(min=1, help="Posterior draws ranked against (L)")] = 99,
    bins: Annotated[int, typer.Option(min=1, help="Rank histogram bins; must divide L + 1")] = 20,
    out: Annotated[Path, typer.Option(help="Output directory")] = Path("runs/sbc"),
    lift_tests: Annotated[
        Path | None,
        typer.Option(
            help="Lift-test file on the data (as `mmmlab fit` takes it): each simulation also "
            "draws the tests' readouts and refits on them"
        ),
    ] = None,
    progress: bool = True,
) -> None:
    """Simulation-based calibration: is each parameter's rank among its posterior draws uniform?

    Draws parameters from the prior, simulates, refits, and tests the ranks per parameter."""
    from mmmlab.files import check_output_dir
    from mmmlab.inference.calibration import run_sbc, write_sbc
    from mmmlab.models import ModelConfig

    try:
        check_output_dir(out, [None if model == "core" else model, lift_tests])
        config = ModelConfig() if model == "core" else ModelConfig.from_yaml(model)
        if data == "example":
            from mmmlab.synth import example_dataset

            dataset, _ = example_dataset()
        else:
            dataset, _ = simulate_world(data, 0)
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
            lift_tests=lift_tests,
        )
    except ValueError as err:
        error(err)
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
