"""`mmmlab design`: which lift test to run next, from a saved fit's uncertainty."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mmmlab.cli_console import console, error
from mmmlab.cli_decisions import FIT_DIR, _saved_fit


def design(
    fit_dir: Annotated[Path, FIT_DIR],
    out: Annotated[Path, typer.Option(help="Output directory")] = Path("runs/design"),
    channels: Annotated[
        str | None, typer.Option(help="Channels to test, comma-separated (default: all)")
    ] = None,
    spend_changes: Annotated[
        str, typer.Option(help="Relative (-100%,+50%) or absolute (+20000) changes")
    ] = "-100%,-50%,+50%,+100%",
    durations: Annotated[str, typer.Option(help="Test lengths in periods")] = "2,4,6,8",
    alpha: Annotated[float, typer.Option(help="Level of the two-sided test")] = 0.05,
    max_cost: Annotated[
        float | None,
        typer.Option(help="Most a test may cost: spend at risk + expected revenue lost"),
    ] = None,
    measure_after: Annotated[
        int | None,
        typer.Option(help="Periods measured after the test (default: the adstock's l_max - 1)"),
    ] = None,
    noise: Annotated[str, typer.Option(help="max | ar1 | placebo | iid: the noise used")] = "max",
    sceptical: Annotated[
        float, typer.Option(help="Shrink of the lifts toward zero for the sceptical assurance")
    ] = 0.5,
    null_roas: Annotated[float, typer.Option(help="ROAS a null-confirmation test rules out")] = 0.5,
    score: Annotated[
        str, typer.Option(help="assurance | information: ranked against cost (no weights)")
    ] = "assurance",
    draws: Annotated[int, typer.Option(min=1, help="Posterior draws used (evenly spaced)")] = 1000,
    top: Annotated[int, typer.Option(min=1, help="Rows printed")] = 10,
    progress: bool = True,
) -> None:
    """Rank candidate lift tests (channel × spend change × duration, geo designs on panels)
    by assurance and cost; writes recommendations.csv, summary.json and report.html."""
    from mmmlab.data import DatasetError
    from mmmlab.design import design as run_design
    from mmmlab.design import write_recommendations
    from mmmlab.design.inputs import check_numbers, parse_changes
    from mmmlab.files import check_output_dir
    from mmmlab.inference.fit import load_fit

    try:
        check_output_dir(out, [fit_dir])
        check_numbers(alpha, max_cost, sceptical, null_roas)
        parse_changes(spend_changes)  # a bad option stops here, before the fit is read
        fit = load_fit(_saved_fit(fit_dir))
        names = None if channels is None else [c.strip() for c in channels.split(",")]
        rec = run_design(
            fit,
            channels=names,
            spend_changes=spend_changes,
            durations=durations,
            alpha=alpha,
            max_cost=max_cost,
            measure_after=measure_after,
            noise=noise,
            sceptical=sceptical,
            null_roas=null_roas,
            score=score,
            draws=draws,
            progress=progress,
        )
    except (DatasetError, ValueError, FileNotFoundError) as err:
        error(err)
        raise typer.Exit(2) from None
    files = write_recommendations(rec, out)
    _print(rec, top)
    console.print(f"\n[bold green]outputs[/] in {out.resolve()}")
    for name, path in files.items():
        console.print(f"  {name:15s} {path}")


def _print(rec, top: int) -> None:
    t = rec.table
    table = Table(
        title=f"Lift tests from {rec.dates[0].date()} (α {rec.settings['alpha']}): lift = mean "
        "predicted lift; assur. = posterior-expected power; scept. = assurance if the lift is "
        f"{rec.settings['sceptical']:.0%} smaller; ROAS sd− = expected fall of the channel's ROAS "
        "sd; cost = spend at risk + expected revenue lost"
    )
    table.add_column("#", justify="right", no_wrap=True, min_width=3)
    table.add_column("test", no_wrap=True, overflow="fold")
    for col in ("lift", "assur.", "scept.", "ROAS sd−", "cost"):
        table.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    for row in t.head(top).itertuples():
        table.add_row(
            f"{row.rank}{'*' if row.pareto else ''}",
            row.candidate,
            f"{row.lift_mean:,.0f}",
            f"{row.assurance:.0%}",
            f"{row.assurance_sceptical:.0%}",
            f"{row.sd_reduction:.0%}",
            f"{row.cost:,.0f}",
        )
    console.print(table)
    console.print("* on the assurance–cost Pareto front")
    sds = ", ".join(
        f"{kind} {w}p {n.used:,.0f} ({n.rule}: AR(1) {n.ar1:,.0f}, placebo {n.placebo:,.0f}, "
        f"iid {n.iid:,.0f})"
        for (kind, w), n in sorted(rec.noise.items())
    )
    console.print(f"noise sd of the lift estimate, by measured periods: {sds}", highlight=False)
    for row in t.head(3).itertuples():
        console.print(f"[bold]{row.candidate}[/]: {row.rationale}", highlight=False)
    for ch, info in rec.summary()["null_confirmation"].items():
        console.print(
            f"[yellow]null-confirmation[/] {ch}: {info['candidate']} rules out ROAS ≥ "
            f"{rec.settings['null_roas']:g} with probability {info['rule_out']:.0%}"
        )
