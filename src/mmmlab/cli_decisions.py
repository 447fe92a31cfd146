"""`mmmlab optimize` and `mmmlab scenario`: decisions from a saved fit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mmmlab.cli_console import console, error, fmt

FIT_DIR = typer.Argument(
    help="A saved fit: the --out folder of `mmmlab fit` (its fit/ inside) or a fit.save() folder",
    show_default=False,
)


def _saved_fit(path: Path) -> Path:
    """The folder holding fit.json: `path` itself or its fit/ (what `mmmlab fit` writes)."""
    for folder in (path, path / "fit"):
        if (folder / "fit.json").is_file():
            return folder
    raise ValueError(
        f"FIT_DIR {path}: no saved fit here (fit.json) nor in {path / 'fit'}; give the --out "
        "folder of `mmmlab fit` or a folder written by fit.save()"
    )


def _interval(mean: float, lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None or lo != lo or hi != hi:  # a point fit has no interval
        return f"{mean:,.0f}"
    return f"{mean:,.0f} [{lo:,.0f}, {hi:,.0f}]"


def optimize(
    fit_dir: Annotated[Path, FIT_DIR],
    budget: Annotated[float, typer.Option(help="Total spend over the horizon", show_default=False)],
    horizon: Annotated[int, typer.Option(help="Periods to plan", show_default=False)],
    out: Annotated[Path, typer.Option(help="Output directory")] = Path("runs/optimize"),
    start: Annotated[
        str | None, typer.Option(help="First planned period (default: after the data)")
    ] = None,
    bounds: Annotated[
        Path | None, typer.Option(help="Bounds YAML: channel -> {lower, upper, fixed}")
    ] = None,
    objective: Annotated[
        str, typer.Option(help="mean | quantile:Q | cvar:Q (e.g. cvar:0.1)")
    ] = "mean",
    geo_level: Annotated[
        bool, typer.Option("--geo-level", help="Choose spend per geo and channel")
    ] = False,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the random starts")] = 0,
    draws: Annotated[
        int | None,
        typer.Option(min=1, help="Plan over this many posterior draws (default: all)"),
    ] = None,
    progress: bool = True,
) -> None:
    """Choose spend per channel for the next N periods: budget exact to the cent, bounds
    held, every posterior draw; writes plan.csv, summary.json and optimize.png."""
    from mmmlab.data import DatasetError
    from mmmlab.decisions import optimize as run_optimize
    from mmmlab.decisions import write_plan
    from mmmlab.decisions.bounds import read_bounds
    from mmmlab.decisions.objective import parse_objective
    from mmmlab.decisions.optimizer import check_budget
    from mmmlab.files import check_output_dir
    from mmmlab.inference.fit import load_fit

    try:
        check_output_dir(out, [fit_dir, bounds])
        check_budget(budget)
        goal = parse_objective(objective)
        if bounds is not None:
            read_bounds(bounds)  # a bad file stops here, before the fit is read
        fit = load_fit(_saved_fit(fit_dir))
        plan = run_optimize(
            fit, budget, horizon, start, bounds, goal, geo_level, seed, progress, draws
        )
    except (DatasetError, ValueError, FileNotFoundError) as err:
        error(err)
        raise typer.Exit(2) from None
    files = write_plan(plan, out)
    _print_plan(plan)
    console.print(f"\n[bold green]outputs[/] in {out.resolve()}")
    for name, path in files.items():
        console.print(f"  {name:9s} {path}")


def _print_plan(plan) -> None:
    from mmmlab.decisions.tables import plan_summary, plan_table

    hz = plan.horizon
    table = Table(
        title=f"Plan: {plan.budget:,.2f} over {hz.periods} periods from {hz.dates[0].date()} "
        f"({plan.objective.label}; response incl. {hz.length - hz.periods} carry-over periods)"
    )
    for col in ("channel", "current", "recommended", "response (90%)", "mROAS", "bound"):
        table.add_column(col, justify="right")
    for row in plan_table(plan).itertuples():
        table.add_row(
            row.Index,
            f"{row.current_spend:,.2f}",
            f"{row.recommended_spend:,.2f}",
            _interval(row.response_mean, row.response_lo, row.response_hi),
            fmt(row.mroas_mean, 2),
            row.bound,
        )
    console.print(table)
    up = plan_summary(plan)["uplift"]
    console.print(
        f"uplift over the current mix: {_interval(up['mean'], up['lo'], up['hi'])}; "
        f"P(better) {up['prob_better']:.2f}; marginal return spread across interior channels "
        f"{fmt(plan.marginal_spread, 1, 'e')} ({plan.iterations} iterations, {plan.stop}, "
        f"{plan.seconds:.1f} s)"
    )


def scenario(
    fit_dir: Annotated[Path, FIT_DIR],
    plans: Annotated[
        Path, typer.Argument(help="Plans YAML: named plans of spend or scale factors")
    ],
    out: Annotated[Path, typer.Option(help="Output directory")] = Path("runs/scenario"),
) -> None:
    """Predict the target of named spend plans, per period and in total, against a baseline;
    writes scenarios.csv, totals.csv, summary.json and scenario.png."""
    from mmmlab.data import DatasetError
    from mmmlab.decisions import scenario as run_scenario
    from mmmlab.decisions import write_scenarios
    from mmmlab.decisions.plans import read_plans
    from mmmlab.files import check_output_dir
    from mmmlab.inference.fit import load_fit

    try:
        check_output_dir(out, [fit_dir, plans])
        spec = read_plans(plans)
        fit = load_fit(_saved_fit(fit_dir))
        result = run_scenario(fit, spec, where=str(plans))
    except (DatasetError, ValueError, FileNotFoundError) as err:
        error(err)
        raise typer.Exit(2) from None
    files = write_scenarios(result, out)
    totals = result.totals_table()
    table = Table(title=f"Scenarios over {len(result.dates)} periods (vs {result.baseline})")
    for col in ("plan", "spend", "target (90%)", "difference (90%)", "P(better)"):
        table.add_column(col, justify="right")
    for row in totals.itertuples():
        table.add_row(
            row.Index,
            f"{row.spend:,.0f}",
            _interval(row.target_mean, row.target_lo, row.target_hi),
            _interval(row.difference_mean, row.difference_lo, row.difference_hi),
            "–" if row.Index == result.baseline else f"{row.prob_better:.2f}",
        )
    console.print(table)
    console.print(f"\n[bold green]outputs[/] in {out.resolve()}")
    for name, path in files.items():
        console.print(f"  {name:8s} {path}")
