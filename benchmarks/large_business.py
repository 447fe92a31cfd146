"""Where a `large_business` fit (50 geos, 208 weeks, 30 channels) spends its time and memory
(issue 21, item 4). Prints figures; asserts nothing about time.

Sections (each on its own; all by default, `--only` picks):

- `gradient`: the potential's value and gradient as NUTS evaluates it (jitted, after warm-up;
  compile seconds; wall ms median and CPU ms mean over `--repeats` calls), and a breakdown
  from sub-functions timed alone, each with its gradient: the adstock (the einsum over lags in
  `saturated_media`), adstock + saturation, the media path (+ per-geo coefficients and the
  sum over channels), the geo effects, the likelihood. Calls of the variants alternate, so
  load from other processes falls on all alike. CPU ms is what 4 chains on 2 cores pay.
- `nuts`: one chain's short run through the package's sampler (`--warmup`, `--draws`):
  leapfrog steps per draw, tree depth, step size, seconds.
- `report`: peak memory and seconds of the report (`analysis.outputs.write_outputs`) over
  `--report-draws` posterior draws (a MAP fit's point repeated: the arrays are the real
  ones' size), each path in a fresh process: `before` evaluates `Fit.components` and
  `Fit.media` over every draw, channel and geo as the report did before (the curves: 21
  evaluations of every draw's media); `after` is `write_outputs` now (`analysis.draws`).
  With `--fit-dir DIR` (a fit saved by `mmmlab fit --preset large_business`, e.g. its
  `OUT/fit`), instead: what the CLI runs after sampling on that fit, in a fresh process,
  each step's seconds, CPU seconds and peak RSS: `report_draws`, the rest of
  `write_outputs`, and the answer-key recovery (`analysis.recovery.fit_recovery` against
  `--seed`'s simulation, reading the report's draws). After only: before, the recovery alone
  held every draw's media twice (22 GiB), more than this machine has beside other work.

    .venv/bin/python benchmarks/large_business.py                      # all, ~10 min
    .venv/bin/python benchmarks/large_business.py --only gradient
    .venv/bin/python benchmarks/large_business.py --only report --report-draws 4000
    .venv/bin/python benchmarks/large_business.py --only report --fit-dir /tmp/lb_fit/fit
    .venv/bin/python benchmarks/large_business.py --only nuts --warmup 300 --draws 100

Measured 2026-12-05 on the 2-core machine under load from other processes (load average 6-9:
read the figures as relative; CPU ms is the steadier), `--only gradient --repeats 150`:
potential + gradient 4.39 CPU ms (before: 4.69; 3.7 vs 4.7 in a quieter paired run); of it the
adstock 32%, adstock + saturation 49%, the media path 90% (before 101%), geo effects 5%, the
likelihood 3%. XLA splits the large loops over both cores, so one chain's CPU ms exceed its wall
ms; with 4 chains on 2 cores the CPU ms is what each gradient costs.
Measured again 2026-12-05 after the channels' media were summed in float32 (`channel_sum`,
one fused pass instead of a float64 `dot_general` batched over geos), `--only gradient
--repeats 100`, quiet machine: potential + gradient 3.52 CPU ms (per-channel float64 path
4.37); the media path 2.94 CPU ms against 4.02 for the dot_general it replaced (-27%). The
new potential equals the per-channel one to 2e-10 relative.
`--only nuts` (1 chain x (300 + 100), diagonal mass): every draw at tree depth 7 (127 leapfrog
steps), step size 0.036; a dense block over the 129 non-geo parameters (tried aside, not kept)
left it at depth 7, step size 0.033.
`--only report --report-draws 1000`: before 558 s, 6.18 GiB peak (its media arrays grow with
the draws: ~22 GiB at 4000, more than this 23 GiB machine); after 666 s (under heavier load),
2.11 GiB peak. At 4000 draws, after: 1.8-2.2 GiB resident through its first 14 minutes (stopped
there, unfinished). The time is mostly the response curves: 21 evaluations of every draw.
Measured 2026-12-05 on the 2-core machine, loaded by other sessions' benchmarks (load average
7-9: the figures are upper bounds, one core's worth), `--only report --fit-dir` on the saved
`mmmlab fit --preset large_business --chains 4` (4 x 1000 draws): before (the previous commit's
`write_outputs` on that fit) the report took 855 s (814 CPU s), peak 2.69 GiB, and the recovery
(every draw's media, twice) 5 min at 22.3 GiB in the README's end-to-end run; after: load 1.4 s,
`report_draws` 108-127 s (103-122 CPU s: one block program per 5 geos, every draw's curves at
22 multipliers on the device, bands by partition on the host meanwhile), the rest of
`write_outputs` 7.5-8.0 s, the recovery 0.7 s (the report's draws); after sampling 116-135 s,
peak 4.48 GiB. The files are those of before to float32 rounding: contributions and curves
within 1.2e-7 of each value, mROAS 1.8e-6 (a 1% difference of float32 sums), recovery tables
within 1e-7 of each column's largest value.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRESET = "large_business"


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def race(fns: dict, repeats: int) -> dict[str, tuple[float, float]]:
    """name -> (wall ms median, CPU ms mean) of ``f(*args)``, calls alternating."""
    import jax
    import numpy as np

    for f, args in fns.values():
        for _ in range(5):
            jax.block_until_ready(f(*args))
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu = dict.fromkeys(fns, 0.0)
    for _ in range(repeats):
        for k, (f, args) in fns.items():
            c0, w0 = time.process_time(), time.perf_counter()
            jax.block_until_ready(f(*args))
            wall[k].append(time.perf_counter() - w0)
            cpu[k] += time.process_time() - c0
    return {k: (float(np.median(wall[k])) * 1e3, cpu[k] / repeats * 1e3) for k in fns}


def bound(seed: int):
    from mmmlab.models import ModelConfig
    from mmmlab.models.mmm import bind
    from mmmlab.synth import simulate

    dataset, _ = simulate(PRESET, seed)
    return dataset, bind(dataset, ModelConfig())


def gradient(seed: int, repeats: int) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from numpyro.infer.util import potential_energy

    from mmmlab.inference.starts import prior_center_init
    from mmmlab.models.likelihood import target_distribution
    from mmmlab.transforms import ADSTOCK_PARAMS, SATURATION_PARAMS, adstock_weights, saturation

    mm = importlib.import_module("mmmlab.models.mmm")
    _, b = bound(seed)
    s, data, args = b.structure, b.data, (b.data, b.y)
    z = prior_center_init(b.model, args, jax.random.PRNGKey(0), 1.0)
    params = jax.jit(lambda z: mm_constrain(b.model, args, z))(z)
    C, T, G, L = data.media_lags.shape
    print(f"{PRESET} seed {seed}: media_lags {data.media_lags.shape} {data.media_lags.dtype}")

    def vg(f, argnums=0):
        return jax.jit(jax.value_and_grad(f, argnums=argnums))

    t0 = time.perf_counter()
    potential = vg(lambda z, a: potential_energy(b.model, a, {}, z))
    now = potential(z, args)
    compile_s = time.perf_counter() - t0
    # The path before: every channel's media (T, G, C) in float64, then summed in `mean_of`.
    reference = vg(lambda z, a: potential_energy(b.model, a, {}, z))
    per_channel = mm.decompose
    mm.decompose = lambda p, d, s, per_channel_=True, **_: per_channel(p, d, s, True)
    try:
        before = reference(z, args)  # traced (and compiled) with the per-channel path
    finally:
        mm.decompose = per_channel
    leaves = jax.tree_util.tree_leaves
    pairs = zip(leaves(before[1]), leaves(now[1]), strict=True)
    diff = max(
        float(jnp.max(jnp.abs(x - y)) / jnp.maximum(jnp.max(jnp.abs(x)), 1.0)) for x, y in pairs
    )
    print(
        f"  new path vs before: potential {float(now[0]):.6f} vs {float(before[0]):.6f}; "
        f"gradients differ by {diff:.1e} of each site's largest"
    )

    (adstock, sat, _), *more = s.groups
    media = {k: params[k] for k, _ in s.media_sites}
    rng = np.random.default_rng(0)
    cot = jnp.asarray(rng.standard_normal((C, T, G)), data.media_lags.dtype)
    dm = jnp.asarray(rng.standard_normal((T, G)))

    def adstocked(p, lags):
        a = {k: p[f"{adstock}_{k}"] for k in ADSTOCK_PARAMS[adstock]}
        w = adstock_weights(adstock, a, s.config.l_max, s.config.normalize_adstock)
        return jnp.einsum("ctgl,lc->ctg", lags, w.astype(lags.dtype))

    def shaped(p, lags):
        curve = {
            k: p[f"{sat}_{k}"].astype(lags.dtype)[:, None, None] for k in SATURATION_PARAMS[sat]
        }
        return saturation(sat, adstocked(p, lags), curve)

    def media_path(p, effects, lags):  # before: (T, G, C) float64, then summed
        x = mm.saturated_media(lags, p, s)
        return (mm.media_coefficient(x, effects) * x).sum(-1)

    def media_summed(p, effects, lags):  # now (`decompose(..., per_channel=False)`)
        x = mm.shaped_media(lags, p, s)
        return mm.channel_sum(x, mm.media_coefficient(x, effects, axis=1))

    def media_dot(p, effects, lags):  # before 2026-12-05: a dot_general summing in float64
        x = mm.shaped_media(lags, p, s)
        beta = mm.media_coefficient(x, effects, axis=1)
        dims = (((0,), (0,)), ((1,), (2,)))
        return jax.lax.dot_general(
            beta.T.astype(x.dtype), x, dims, preferred_element_type=jnp.float64
        ).T

    effects = mm.geo_effects(params, G)
    noise = {k: params.get(k) for k in ("sigma", "nu", "noise_rho")}
    cfg = s.config

    def likelihood(mu):
        d = target_distribution(cfg.likelihood, mu, noise["sigma"], noise["nu"], noise["noise_rho"])
        return d.log_prob(b.y).sum()

    fns = {
        "potential + gradient": (potential, (z, args)),
        "  before (per-channel media)": (reference, (z, args)),
        "adstock (einsum over lags)": (
            vg(lambda p, x: (adstocked(p, x) * cot).sum()),
            (media, data.media_lags),
        ),
        "adstock + saturation": (
            vg(lambda p, x: (shaped(p, x) * cot).sum()),
            (media, data.media_lags),
        ),
        "media path (+ coefficient, sum)": (
            vg(lambda p, e, x: (media_summed(p, e, x) * dm).sum(), (0, 1)),
            (media, effects, data.media_lags),
        ),
        "  before (dot_general, float64 sum)": (
            vg(lambda p, e, x: (media_dot(p, e, x) * dm).sum(), (0, 1)),
            (media, effects, data.media_lags),
        ),
        "  before (per-channel float64)": (
            vg(lambda p, e, x: (media_path(p, e, x) * dm).sum(), (0, 1)),
            (media, effects, data.media_lags),
        ),
        "geo effects": (
            vg(lambda p: mm.geo_effects(p, G).sum()),
            ({k: params[k] for k in ("effect", "effect_geo_sd", "effect_geo_z")},),
        ),
        "likelihood": (vg(likelihood), (b.y * 0.9,)),
    }
    if more:
        print("  (several transform groups: the adstock rows show the first group only)")
    res = race(fns, repeats)
    whole = res["potential + gradient"][1]
    print(f"  compile (trace + XLA) of potential + gradient: {compile_s:.2f} s")
    print(f"  {'value + gradient of':34s} {'wall ms':>8s} {'CPU ms':>8s} {'of CPU':>7s}")
    for k, (w, c) in res.items():
        print(f"  {k:34s} {w:8.3f} {c:8.3f} {c / whole:7.0%}")
    print(f"  peak RSS {peak_rss_gib():.2f} GiB")


def mm_constrain(model, args, z):
    from numpyro.infer.util import constrain_fn

    return constrain_fn(model, args, {}, z)


def nuts(seed: int, warmup: int, draws: int) -> None:
    import numpy as np

    import mmmlab

    dataset, _ = bound(seed)
    t0 = time.perf_counter()
    fit = mmmlab.fit(dataset, seed=0, num_chains=1, num_warmup=warmup, num_samples=draws)
    wall = time.perf_counter() - t0
    steps = fit.sample_stats["num_steps"].ravel()
    depth = np.ceil(np.log2(steps + 1)).astype(int)
    d = fit.diagnostics
    print(
        f"nuts, 1 chain x ({warmup} + {draws}): wall {wall:.0f} s (compile {d.compile_s:.0f}, "
        f"sampling {d.sample_s:.0f}); leapfrog steps per draw mean {steps.mean():.1f}, "
        f"tree depth {dict(zip(*np.unique(depth, return_counts=True), strict=True))}, "
        f"step size {float(fit.sample_stats['step_size'].ravel()[-1]):.4f}, "
        f"divergences {int(fit.sample_stats['diverging'].sum())}, peak RSS {peak_rss_gib():.2f} GiB"
    )


def report_child(seed: int, n_draws: int, path: str) -> None:
    """One report over `n_draws` draws in this process; prints JSON (seconds, peak GiB)."""
    import dataclasses

    import numpy as np

    import mmmlab
    from mmmlab.analysis.draws import MULTIPLIERS
    from mmmlab.analysis.outputs import write_outputs
    from mmmlab.analysis.roas import contributions_frame
    from mmmlab.metrics.roas import MARGIN, draw_interval, roas_draws

    dataset, _ = bound(seed)
    point = mmmlab.fit(dataset, seed=0, method="map")
    chains = 4 if n_draws % 4 == 0 else 1
    post = {
        k: np.broadcast_to(v, (chains, n_draws // chains, *v.shape[2:])).copy()
        for k, v in point.posterior.items()
    }
    fit = dataclasses.replace(point, posterior=post)
    before = peak_rss_gib()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        if path == "after":
            write_outputs(fit, out)
        else:  # what the report evaluated before: every draw's media, three times over
            comp = fit.components()
            fit.predict(components=comp)
            roas_draws(comp.media, fit.media(media_scale=1.0 + MARGIN), dataset.spend)
            contributions_frame(fit, components=comp)
            del comp
            for m in MULTIPLIERS:  # the curves: every draw's media at each multiplier
                draw_interval(fit.media(media_scale=float(m)).sum(axis=(1, 2)))
    print(json.dumps({"s": time.perf_counter() - t0, "peak": peak_rss_gib(), "base": before}))


def fit_dir_child(fit_dir: str, seed: int) -> None:
    """What the CLI runs after sampling, on the fit saved in `fit_dir`, in this process;
    prints JSON: per step seconds, CPU seconds and peak GiB after it."""
    import numpy as np

    from mmmlab.analysis.draws import report_draws
    from mmmlab.analysis.outputs import write_outputs
    from mmmlab.analysis.recovery import fit_recovery, write_recovery
    from mmmlab.inference.fit import load_fit
    from mmmlab.synth import simulate

    steps: dict[str, tuple[float, float, float]] = {}
    clock = [time.perf_counter(), time.process_time()]

    def step(name: str) -> None:
        now = [time.perf_counter(), time.process_time()]
        steps[name] = (now[0] - clock[0], now[1] - clock[1], peak_rss_gib())
        clock[:] = now

    fit = load_fit(fit_dir)
    dataset, truth = simulate(fit.train.name, seed)  # the preset's answer key, as the CLI's
    if not np.allclose(dataset.target, fit.train.target, rtol=1e-9):
        raise SystemExit(f"{fit_dir} was not fitted on {fit.train.name} seed {seed}")
    step("load")
    with tempfile.TemporaryDirectory() as out:
        draws = report_draws(fit)
        step("report_draws")
        write_outputs(fit, out, draws)
        step("write_outputs")
        write_recovery(fit_recovery(fit, truth, draws), out)
        step("recovery")
    print(json.dumps({"draws": fit.num_draws, "steps": steps}))


def report_fit_dir(fit_dir: str, seed: int) -> None:
    cmd = [sys.executable, __file__, "--fit-dir", fit_dir, "--seed", str(seed), "--report-child"]
    run = subprocess.run([*cmd, "after"], capture_output=True, text=True)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("{")]
    if run.returncode or not lines:
        print(f"report on {fit_dir}: failed (rc {run.returncode}) {run.stderr[-500:]}")
        return
    r = json.loads(lines[-1])
    print(f"report and recovery on {fit_dir} ({r['draws']} draws), in a fresh process:")
    for name, (wall, cpu, peak) in r["steps"].items():
        print(f"  {name:14s} {wall:6.1f} s  (CPU {cpu:6.1f} s)  peak RSS {peak:.2f} GiB")
    wall, cpu, peak = zip(*(v for k, v in r["steps"].items() if k != "load"), strict=True)
    print(f"  after sampling {sum(wall):.1f} s (CPU {sum(cpu):.1f} s), peak {max(peak):.2f} GiB")


def report(seed: int, n_draws: int, paths: list[str]) -> None:
    for path in paths:
        cmd = [sys.executable, __file__, "--report-child", path, "--report-draws", str(n_draws)]
        run = subprocess.run(cmd + ["--seed", str(seed)], capture_output=True, text=True)
        lines = [ln for ln in run.stdout.splitlines() if ln.startswith("{")]
        if run.returncode or not lines:
            print(f"report {path}: failed (rc {run.returncode}) {run.stderr[-500:]}")
            continue
        r = json.loads(lines[-1])
        print(
            f"report {path:6s} over {n_draws} draws: {r['s']:.0f} s, peak RSS {r['peak']:.2f} GiB "
            f"(after the MAP fit {r['base']:.2f} GiB)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["gradient", "nuts", "report"])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--report-draws", type=int, default=1000)
    parser.add_argument("--report-paths", nargs="+", default=["before", "after"])
    parser.add_argument("--fit-dir", help="`report` on this saved large_business fit instead")
    parser.add_argument("--report-child", choices=["before", "after"], help=argparse.SUPPRESS)
    a = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import mmmlab  # noqa: F401  (its JAX settings first)

    if a.report_child:
        if a.fit_dir:
            fit_dir_child(a.fit_dir, a.seed)
        else:
            report_child(a.seed, a.report_draws, a.report_child)
        return
    if a.only in (None, "gradient"):
        gradient(a.seed, a.repeats)
    if a.only in (None, "report"):
        if a.fit_dir:
            report_fit_dir(a.fit_dir, a.seed)
        else:
            report(a.seed, a.report_draws, a.report_paths)
    if a.only in (None, "nuts"):
        nuts(a.seed, a.warmup, a.draws)


if __name__ == "__main__":
    main()
