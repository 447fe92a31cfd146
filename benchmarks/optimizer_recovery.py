"""Does the budget optimizer find the true optimum? Checked against simulated worlds' answer keys.

    .venv/bin/python benchmarks/optimizer_recovery.py                  # 2, 6 and 30 channels
    .venv/bin/python benchmarks/optimizer_recovery.py --cases 2 --seeds 3 --out runs/opt.json

For each world and seed: simulate it, fit it by NUTS under the world's own model config, and
plan the budget the world spent in its last 13 weeks over the next 13 weeks:
- the plan from the posterior (`mmmlab.optimize`, mean objective) and the true optimum (the
  same optimizer on the world's true parameters, `Response.from_truth` + `allocate`), both
  scored under the true response (the model's response with the true parameters, carry-over
  included): the posterior plan's share of the true optimum's incremental response (target
  >= 97%), and of the uplift the true optimum gains over the current mix;
- the same with every channel bounded to 0.5x-1.5x of its current spend, and with twice the
  budget; for each, the budget in whole cents, bound violations, and the spread of marginal
  returns across the channels off their bounds ((max - min) / mean; 0 at the optimum);
- for two channels, a brute-force grid of 2001 splits under the posterior and under the truth:
  the optimizer's split against the grid's best, in grid steps;
- for geo worlds, a geo-level plan too.

Worlds: 2 channels `examples/world.yaml` (national, 104 weeks); 6 channels `growing_business`
(2 geos, 131 weeks); 30 channels `large_business` (50 geos, 208 weeks; its fit takes ~10 min
on 2 cores: `--fits DIR` keeps fits to reuse). The true optimum is searched from
16 random starts besides the current mix and an even split (the posterior plan from 2): Hill
curves with slope > 1 are S-shaped, so the problem can have more than one local optimum.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import mmmlab  # noqa: F401  (JAX settings first)
from mmmlab.decisions import allocate, optimize
from mmmlab.decisions.response import Response
from mmmlab.synth import WorldSpec
from mmmlab.synth.presets import shipped_world
from mmmlab.synth.world import simulate_world, world_from_file

ROOT = Path(__file__).resolve().parents[1]
HORIZON = 13
BOUNDS = {"*": {"lower": "0.5x", "upper": "1.5x"}}
PLANS = (("free", 1.0, None), ("bounded", 1.0, BOUNDS), ("budget x2", 2.0, None))
CASES = {"2": "examples/world.yaml", "6": "growing_business", "30": "large_business"}
TRUE_STARTS = 16  # random starts of the true optimum, beside the current mix and an even split


def world(name: str) -> WorldSpec:
    return world_from_file(ROOT / name) if name.endswith(".yaml") else shipped_world(name)


def under_truth(truth_response: Response, plan) -> float:
    """The true incremental response of a plan's recommended cells."""
    cells = plan.recommended if plan.geo_level else plan.recommended[0]
    return float(truth_response.by_channel(plan.horizon.spread(cells)).sum())


def grid_best(response: Response, budget: float, steps: int = 2000) -> tuple[np.ndarray, float]:
    """The best split of a two-channel budget on a grid of `steps` + 1 splits (mean over
    draws)."""
    best, value = None, -np.inf
    for i in range(steps + 1):
        totals = np.array([i, steps - i]) * budget / steps
        v = float(response.by_channel(response.horizon.spread(totals)).sum(axis=1).mean())
        if v > value:
            best, value = totals, v
    return best, value


def fitted(data, config, seed: int, settings: dict, keep: Path | None):
    """The NUTS fit and its seconds; read from `keep` when it was fitted before."""
    if keep is not None and (keep / "fit.json").exists():
        return mmmlab.load(keep), float(json.loads((keep / "seconds.json").read_text()))
    t0 = time.perf_counter()
    fit = mmmlab.fit(data, config, seed=seed, **settings)
    seconds = time.perf_counter() - t0
    if keep is not None:
        fit.save(keep)
        (keep / "seconds.json").write_text(json.dumps(seconds))
    return fit, seconds


def run_case(label: str, seed: int, settings: dict, draws, fits: Path | None) -> dict:
    spec = world(CASES[label])
    config = spec.model_config_of()
    data, truth = simulate_world(spec, seed)
    keep = None if fits is None else fits / f"{spec.name}_seed{seed}"
    fit, fit_s = fitted(data, config, seed, settings, keep)
    budget = round(float(data.spend[-HORIZON:].sum()), 2)
    truth_response = Response.from_truth(truth, data, config, HORIZON)
    row = {
        "world": spec.name,
        "channels": data.n_channels,
        "geos": data.n_geos,
        "seed": seed,
        "draws": fit.num_draws if draws is None else min(draws, fit.num_draws),
        "fit_s": fit_s,
        "max_rhat": fit.diagnostics.max_rhat,
        "budget": budget,
    }
    for tag, scale, bounds in PLANS:
        plan = optimize(fit, budget * scale, HORIZON, bounds=bounds, draws=draws)
        best = allocate(truth_response, budget * scale, bounds, random_starts=TRUE_STARTS)
        achieved, optimum = under_truth(truth_response, plan), best.value_recommended
        current = best.value_current
        row[tag] = {
            "share_of_true_optimum": achieved / optimum,
            "share_of_true_uplift": (achieved - current) / (optimum - current),
            "current_share_of_true_optimum": current / optimum,
            "budget_cents_off": _cents_off(plan),
            "bound_violations": _violations(plan),
            "marginal_spread": plan.marginal_spread,
            "interior_channels": int(plan.interior.any(axis=0).sum()),
            "prob_better": plan.prob_better,
            "optimize_s": plan.seconds,
            "stop": plan.stop,
        }
    if data.n_geos > 1:
        plan = optimize(fit, budget, HORIZON, geo_level=True, draws=draws)
        best = allocate(truth_response, budget, geo_level=True, random_starts=TRUE_STARTS)
        row["geo_level"] = {
            "share_of_true_optimum": under_truth(truth_response, plan) / best.value_recommended,
            "budget_cents_off": _cents_off(plan),
            "marginal_spread": plan.marginal_spread,
            "optimize_s": plan.seconds,
        }
    if data.n_channels == 2:
        row["grid"] = _grid(fit, truth_response, budget)
    return row


def _cents_off(plan) -> int:
    """Whole cents the plan spends beyond (or short of) its budget."""
    return int(np.rint(plan.recommended * 100).sum()) - int(round(plan.budget * 100))


def _violations(plan) -> int:
    total = plan.recommended.sum(axis=0)
    lim = plan.limits
    return int(((total < lim.lower - 0.005) | (total > lim.upper + 0.005)).sum())


def _grid(fit, truth_response: Response, budget: float) -> dict:
    steps = 2000
    out = {"steps": steps, "step": budget / steps}
    posterior = Response.from_fit(fit, truth_response.horizon)
    for tag, response, plan in (
        ("posterior", posterior, optimize(fit, budget, HORIZON)),
        ("truth", truth_response, allocate(truth_response, budget, random_starts=TRUE_STARTS)),
    ):
        best, value = grid_best(response, budget, steps)
        found = plan.recommended[0]
        out[tag] = {
            "optimizer": found.tolist(),
            "grid": best.tolist(),
            "distance_in_steps": float(np.abs(found - best).max() / (budget / steps)),
            "objective_gap": (plan.value_recommended - value) / abs(value),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="2,6,30", help="channel counts: 2, 6, 30")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--draws", type=int, default=None, help="plan over this many draws")
    parser.add_argument("--fits", type=Path, default=None, help="keep and reuse fits here")
    parser.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    args = parser.parse_args()
    settings = {"num_warmup": args.warmup, "num_samples": args.samples, "num_chains": 2}
    print(
        f"NUTS 2 chains x ({args.warmup} + {args.samples}); horizon {HORIZON} weeks; budget "
        "= the last 13 weeks' spend; shares are of the true optimum's incremental response"
    )
    rows = []
    for label in args.cases.split(","):
        for seed in range(args.seeds):
            row = run_case(label.strip(), seed, settings, args.draws, args.fits)
            rows.append(row)
            _print(row)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2) + "\n")
        print(f"rows written to {args.out}")


def _print(row: dict) -> None:
    print(
        f"\n{row['world']}: {row['channels']} channels x {row['geos']} geo(s), seed "
        f"{row['seed']}, fit {row['fit_s']:.0f} s (R-hat {row['max_rhat']:.3f}); planned over "
        f"{row['draws']} draws"
    )
    print(
        "  plan      share of true optimum  of true uplift  current  cents off  violations"
        "  mROAS spread  P(better)  optimize s"
    )
    for tag, _, _ in PLANS:
        r = row[tag]
        print(
            f"  {tag:8s}  {r['share_of_true_optimum']:21.4f}  {r['share_of_true_uplift']:14.3f}"
            f"  {r['current_share_of_true_optimum']:7.4f}  {r['budget_cents_off']:9d}"
            f"  {r['bound_violations']:10d}  {_spread(r['marginal_spread']):>12s}"
            f"  {r['prob_better']:9.2f}"
            f"  {r['optimize_s']:10.2f}"
        )
    if "geo_level" in row:
        r = row["geo_level"]
        print(
            f"  geo-level {r['share_of_true_optimum']:21.4f}  cents off {r['budget_cents_off']},"
            f" mROAS spread {r['marginal_spread']:.1e}, {r['optimize_s']:.2f} s"
        )
    if "grid" in row:
        for tag in ("posterior", "truth"):
            g = row["grid"][tag]
            print(
                f"  grid of {row['grid']['steps']} splits ({tag}): optimizer "
                f"{np.round(g['optimizer'], 2).tolist()} vs grid {np.round(g['grid'], 2).tolist()}"
                f": {g['distance_in_steps']:.2f} steps apart, objective gap "
                f"{g['objective_gap']:+.1e}"
            )


def _spread(value: float) -> str:
    """The marginal-return spread, or a dash where no channel is off its bounds."""
    return "-" if np.isnan(value) else f"{value:.1e}"


if __name__ == "__main__":
    main()
