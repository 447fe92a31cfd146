"""Lift-test calibration on the confounded world: does it bring the ROAS of the confounded
channel back to the truth? And what does the lift term cost per gradient?

    .venv/bin/python benchmarks/lift_calibration.py                  # 10 seeds, lift_se 10%
    .venv/bin/python benchmarks/lift_calibration.py --seeds 4 --se 0.2

In the `confounded` scenario an unobserved demand shock moves search spend and sales
together, so a fit credits search with more than its true ROAS (1.5). For each seed: simulate
the world, draw two lift tests a team would run from its answer key, and fit it with NUTS
(2 chains × 1000 + 1000) without and with the tests:

- an 8-week go-dark of search (spend -100%, `spread: proportional`) at a random start;
- a 4-week +50% test of tv in one of its flights, at a random start;

each test's lift is the world's true lift (`synth.lift.true_lifts`: the world's own response
with and without the change, carry-over counted) plus Normal noise of the stated lift_se,
a fraction `--se` of the true lift. The fitted model uses the world's transform families
(geometric adstock, Hill saturation), so confounding is the one broken assumption.

Prints per seed the search ROAS (mean and 90% interval) and whether it covers the truth,
without and with the tests, then the coverage rate and the median |ROAS error| side by side,
and the cost of the potential's value and gradient without and with the two tests.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import mmmlab  # noqa: F401  (JAX settings first)

# isort: split
import jax
import numpy as np
from jax.flatten_util import ravel_pytree
from numpyro.infer.util import initialize_model, potential_energy

from mmmlab.analysis.recovery import fit_recovery
from mmmlab.data.lift_tests import LiftExperiment
from mmmlab.inference import fit
from mmmlab.models import ModelConfig
from mmmlab.models.mmm import bind
from mmmlab.synth import simulate
from mmmlab.synth.lift import measured_lifts, team_designs
from mmmlab.synth.scenarios import scenario_base

CHANNEL = "search"  # the confounded channel
WORLDS = ("confounded", "base")  # base: the confounded world's business without the confounder


def draw_tests(dataset, truth, world_config, se: float, rng, boost: str) -> list[LiftExperiment]:
    """The seed's two tests (`team_designs`: a go-dark of search, a +50% flight of `boost`),
    read out from the truth with lift_se `se` of the true lift."""
    designs = team_designs(dataset, rng, CHANNEL, boost, world_config.l_max)
    return list(measured_lifts(designs, dataset, truth, world_config, se, rng))


def world(name: str, seed: int):
    """The seed's (dataset, truth) of world `name` (`WORLDS`)."""
    return simulate("confounded" if name == "confounded" else scenario_base(), seed)


def calibration(
    seeds: range, se: float, config: ModelConfig, boost: str, world_name: str = "confounded"
) -> None:
    world_config = scenario_base().model_config_of()
    trend = config.trend + (
        f" ({config.n_changepoints} hinges)" if config.trend == "piecewise" else ""
    )
    print(
        f"{world_name} world, seeds {seeds.start}-{seeds.stop - 1}; {CHANNEL} ROAS (truth 1.50) "
        "without | with two lift "
        f"tests ({CHANNEL} go-dark, {boost} +50%; lift_se {se:.0%} of the true lift); "
        f"{config.saturation} saturation, {trend} trend, {config.noise} noise, "
        f"copula controls {config.endogenous or 'none'}; "
        "NUTS 2 chains x (1000 + 1000)"
    )
    print("seed  without: mean [90%]   cover  |  with: mean [90%]      cover  lift z  rhat  s")
    rows = []
    for seed in seeds:
        dataset, truth = world(world_name, seed)
        rng = np.random.default_rng([seed, 7])
        tests = draw_tests(dataset, truth, world_config, se, rng, boost)
        out = []
        for lift_tests in ((), tests):
            t0 = time.perf_counter()
            result = fit(dataset, config, seed=seed, lift_tests=lift_tests)
            seconds = time.perf_counter() - t0
            roas = fit_recovery(result, truth)["roas"].set_index("channel").loc[CHANNEL]
            z = np.nan
            if lift_tests:
                draws = result.lift_draws()[:, 0]
                z = (draws.mean() - tests[0].lift) / np.hypot(tests[0].lift_se, draws.std())
            out.append((roas, z, result.diagnostics.max_rhat, seconds))
        (r0, _, h0, s0), (r1, z1, h1, s1) = out
        error0, error1 = abs(r0["mean"] - r0.truth), abs(r1["mean"] - r1.truth)
        rows.append((r0.cover90, error0, r1.cover90, error1))
        print(
            f"{seed:4d}  {r0['mean']:5.2f} [{r0.lo90:4.2f}, {r0.hi90:4.2f}]  "
            f"{'yes' if r0.cover90 else 'no ':5s}|  {r1['mean']:5.2f} [{r1.lo90:4.2f}, "
            f"{r1.hi90:4.2f}]  {'yes' if r1.cover90 else 'no ':5s} {z1:5.1f}  "
            f"{max(h0, h1):5.3f} {s0 + s1:4.0f}",
            flush=True,
        )
    cover0, err0, cover1, err1 = (np.array(x, dtype=float) for x in zip(*rows, strict=True))
    print(f"\n{'':34s}{'without':>10s}{'with':>10s}{'ratio':>8s}")
    print(f"{CHANNEL} ROAS 90% interval covers:  {cover0.mean():9.0%} {cover1.mean():9.0%}")
    print(
        f"{CHANNEL} median |ROAS error|:        {np.median(err0):9.2f} {np.median(err1):9.2f} "
        f"{np.median(err1) / np.median(err0):7.2f}"
    )


def gradient_cost(config: ModelConfig, repeats: int = 2000) -> None:
    """µs per value and gradient of the potential as NUTS runs it (inside one compiled
    loop), without and with two tests: the confounded world (national) with the seed-0
    tests, and medium_business (8 geos, 8 channels) with a national go-dark and a +50%
    test in one geo. Rounds alternate without / with, so a busy machine slows both."""
    print(f"\npotential value + gradient in a compiled loop of {repeats} (µs, median of 7)")
    print(f"{'':34s}{'without':>9s}{'with':>9s}{'ratio':>7s}")
    for name in ("confounded", "medium_business"):
        dataset, truth = simulate(name, 0)
        rng = np.random.default_rng([0, 7])
        a, b = dataset.channels[:2] if name != "confounded" else (CHANNEL, "tv")
        tests = list(team_designs(dataset, rng, a, b, config.l_max))
        if dataset.n_geos > 1:  # the +50% test in the first geo only
            change = tests[1].spend_change / dataset.n_geos
            tests[1] = replace(tests[1], geo=dataset.geos[0], spend_change=change)
        programs = [_gradient_loop(dataset, config, lifts, repeats) for lifts in ((), tests)]
        rounds = [[], []]
        for _ in range(7):
            for i, (program, args) in enumerate(programs):
                t0 = time.perf_counter()
                jax.block_until_ready(program(*args))
                rounds[i].append((time.perf_counter() - t0) / repeats * 1e6)
        cost = [float(np.median(r)) for r in rounds]
        label = f"{name} ({dataset.n_geos} geos, {dataset.n_channels} ch)"
        print(f"{label:34s}{cost[0]:9.1f}{cost[1]:9.1f}{cost[1] / cost[0]:7.2f}")


def _gradient_loop(dataset, config: ModelConfig, lift_tests, repeats: int):
    """A compiled program running `repeats` values and gradients, and its arguments."""
    b = bind(dataset, config, lift_tests=lift_tests)
    args = (b.data, b.y)
    init = initialize_model(jax.random.PRNGKey(0), b.model, model_args=args)
    flat, unravel = ravel_pytree(init.param_info.z)

    def loop(flat, args):
        grad = jax.value_and_grad(lambda f: potential_energy(b.model, args, {}, unravel(f)))

        def body(i, total):
            value, g = grad(flat + 1e-6 * i)  # a new point each time: nothing hoisted
            return total + value + g.sum()

        return jax.lax.fori_loop(0, repeats, body, 0.0)

    program = jax.jit(loop)
    jax.block_until_ready(program(flat, args))
    return program, (flat, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="0: the gradient cost only")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds from this one on")
    parser.add_argument("--se", type=float, default=0.1, help="lift_se as a fraction of the lift")
    parser.add_argument("--saturation", default="hill", help="saturation of the fitted model")
    parser.add_argument(
        "--changepoints", type=int, default=0, help="a piecewise trend with this many hinges"
    )
    parser.add_argument("--noise", default="ar1", help="the fitted model's noise: iid | ar1")
    parser.add_argument("--boost", default="tv", help="the channel of the +50%% test")
    parser.add_argument(
        "--endogenous", nargs="*", default=[], help="channels given a Gaussian copula control"
    )
    parser.add_argument(
        "--world", default="confounded", choices=WORLDS, help="base: no confounding"
    )
    args = parser.parse_args()
    config = ModelConfig(saturation=args.saturation, noise=args.noise, endogenous=args.endogenous)
    if args.changepoints:
        config = config.model_copy(
            update={"trend": "piecewise", "n_changepoints": args.changepoints}
        )
    if args.seeds:
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        calibration(seeds, args.se, config, args.boost, args.world)
    gradient_cost(config)


if __name__ == "__main__":
    main()
