"""Speed of the budget optimizer and of scenarios, against the issue's targets and a reference.

    .venv/bin/python benchmarks/optimizer_speed.py [--repeats 5] [--draws 1000]

A 10-channel national world (the first 10 channels of `large_business`, 156 weeks) fitted by
NUTS (2 chains x (500 + 500) = 1000 draws), saved and loaded again; then, in this process:
- `mmmlab.optimize` of the last 13 weeks' budget over 13 weeks, every draw: the first call
  (tracing and compiling, with an empty compile cache) and the median of later calls, for
  the mean, quantile and CVaR objectives (target: <= 10 s);
- the reference: SciPy's SLSQP on the same problem with the same JAX objective and gradient
  (the budget as an equality constraint, 0..budget bounds), from the same start;
- `mmmlab.scenario` of three plans on the loaded fit: first call and later calls (target:
  <= 1 s after the fit is loaded);
- both again in a new process, as `mmmlab optimize` / `mmmlab scenario` run: load the fit,
  then the first call, with the compiled programs on disk from this run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# An empty compilation cache: the first call below pays the full compile.
os.environ.setdefault("MMMLAB_CACHE_DIR", tempfile.mkdtemp(prefix="mmmlab-bench-cache-"))
import mmmlab  # noqa: E402  (JAX settings first)

# isort: split
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

from mmmlab.decisions.optimizer import plan_of  # noqa: E402
from mmmlab.decisions.response import Response, cell_response  # noqa: E402
from mmmlab.decisions.window import plan_horizon  # noqa: E402
from mmmlab.synth.presets import shipped_world  # noqa: E402
from mmmlab.synth.world import simulate_world  # noqa: E402

HORIZON = 13


def timed(fn, repeats: int) -> tuple[float, float, object]:
    """Seconds of the first call, median seconds of `repeats` later calls, the last result."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    later = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        later.append(time.perf_counter() - t0)
    return first, statistics.median(later), out


def slsqp(fit, budget: float, start: np.ndarray):
    """SciPy SLSQP on the mean incremental response, same JAX value and gradient, same
    scaling (spend in budget fractions, objective over its value at the start)."""
    hz = plan_horizon(fit.train, fit.config.l_max, HORIZON)
    response = Response.from_fit(fit, hz)
    s, share, curves = response.structure, jnp.asarray(hz.geo_share), response.curves

    def value(u):
        plan = plan_of(u[None] * budget, share, HORIZON)
        return cell_response(plan, curves, s).sum(axis=(1, 2)).mean()

    vg = jax.jit(jax.value_and_grad(value))
    scale = float(vg(jnp.asarray(start / budget))[0])

    def negative(u):
        v, g = vg(jnp.asarray(u))
        return -float(v) / scale, -np.asarray(g) / scale

    def run():
        return minimize(
            negative,
            start / budget,
            jac=True,
            method="SLSQP",
            bounds=[(0.0, 1.0)] * len(start),
            constraints=[{"type": "eq", "fun": lambda u: u.sum() - 1.0, "jac": np.ones_like}],
            options={"maxiter": 500, "ftol": 1e-12},
        )

    return run


NEW_PROCESS = """
import json, sys, time
t0 = time.perf_counter()
import mmmlab
import mmmlab.decisions  # as `mmmlab optimize` / `mmmlab scenario` import it before loading
fit = mmmlab.load(sys.argv[1])
loaded = time.perf_counter() - t0
plans = json.loads(sys.argv[3])
t0 = time.perf_counter(); mmmlab.scenario(fit, plans); scenario = time.perf_counter() - t0
t0 = time.perf_counter(); mmmlab.optimize(fit, float(sys.argv[2]), 13)
optimize = time.perf_counter() - t0
print(json.dumps({"import_and_load": loaded, "scenario": scenario, "optimize": optimize}))
"""


def in_new_process(folder: str, budget: float, plans: dict) -> dict:
    """First-call seconds in a fresh interpreter (compiled programs from the disk cache)."""
    args = [sys.executable, "-c", NEW_PROCESS, folder, str(budget), json.dumps(plans)]
    done = subprocess.run(args, capture_output=True, text=True, check=True, env=os.environ)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--draws", type=int, default=1000, help="posterior draws (2 chains)")
    args = parser.parse_args()
    base = shipped_world("large_business")
    spec = base.model_copy(
        update={"name": "ten_channels", "geos": ["national"], "n_periods": 156,
                "channels": base.channels[:10], "controls": base.controls[:1]}
    )  # fmt: skip
    data, _ = simulate_world(spec, seed=0)
    half = args.draws // 2
    t0 = time.perf_counter()
    fitted = mmmlab.fit(data, spec.model_config_of(), seed=0, num_warmup=500, num_samples=half)
    fit_s = time.perf_counter() - t0
    folder = tempfile.mkdtemp(prefix="mmmlab-bench-fit-")
    fitted.save(folder)
    t0 = time.perf_counter()
    fit = mmmlab.load(folder)
    load_s = time.perf_counter() - t0
    budget = round(float(data.spend[-HORIZON:].sum()), 2)
    print(
        f"{spec.name}: {data.n_channels} channels, {data.n_time} weeks, national; NUTS "
        f"{fit.num_draws} draws in {fit_s:.0f} s; loaded in {load_s:.2f} s; budget {budget:,.2f}"
        f" over {HORIZON} weeks; {os.cpu_count()} cores"
    )
    rows = []
    plans = {}
    for objective in ("mean", "quantile:0.1", "cvar:0.1"):
        first, later, plan = timed(
            lambda o=objective: mmmlab.optimize(fit, budget, HORIZON, objective=o), args.repeats
        )
        plans[objective] = plan
        rows.append((f"optimize {objective}", first, later, 10.0, plan.iterations, plan.stop))
    mean_plan = plans["mean"]
    first, later, result = timed(slsqp(fit, budget, mean_plan.current[0]), args.repeats)
    rows.append(("reference: SLSQP, mean", first, later, 10.0, int(result.nit), result.message))
    scenario_plans = {
        "horizon": HORIZON,
        "plans": {
            "recommended": {
                "spend": {
                    ch: float(v) / HORIZON
                    for ch, v in zip(fit.channels, mean_plan.recommended[0], strict=True)
                }
            },
            "more_linear": {"scale": {ch: 1.2 for ch in fit.channels[:3]}},
        },
    }
    first, later, outcome = timed(lambda: mmmlab.scenario(fit, scenario_plans), args.repeats)
    rows.append(("scenario, 3 plans", first, later, 1.0, len(outcome.names), "-"))
    print(f"\n{'':26s} {'first call s':>12s} {'later s':>8s} {'target s':>8s} "
          f"{'later/target':>12s}  iterations  stop")  # fmt: skip
    for what, first, later, target, iterations, stop in rows:
        print(
            f"{what:26s} {first:12.2f} {later:8.3f} {target:8.1f} {later / target:12.3f}  "
            f"{iterations:10d}  {stop}"
        )
    fresh = in_new_process(folder, budget, scenario_plans)
    print(
        f"\na new process (as the CLI runs): import and load {fresh['import_and_load']:.2f} s, "
        f"then the first scenario {fresh['scenario']:.2f} s (target 1.0: "
        f"{fresh['scenario'] / 1.0:.2f}), the first optimize {fresh['optimize']:.2f} s "
        f"(target 10.0: {fresh['optimize'] / 10.0:.3f})"
    )
    ours = mean_plan.value_recommended
    theirs = -float(result.fun) * float(mean_plan.value_current)
    x = result.x * budget
    print(
        f"\nmean objective: optimize {ours:,.2f} (spends {mean_plan.recommended.sum():,.2f}), "
        f"SLSQP {theirs:,.2f} (spends {x.sum():,.4f}, {x.sum() - budget:+.4f} off the budget, "
        f"lowest channel {x.min():.4f}); SLSQP / optimize later-call time "
        f"{rows[3][2] / rows[0][2]:.2f}"
    )


if __name__ == "__main__":
    main()
