"""Why a geo panel's NUTS trees are deep: the Laplace geometry of the posterior at its mode
(issue 21, items 2 and 4). Prints figures; asserts nothing.

For a preset's seed-0 dataset and the default model: the mode (Adam from the prior centre,
then L-BFGS), the potential's Hessian there (one Hessian-vector product per coordinate,
batched), and, for each metric NUTS could use, the eigenvalues of the Hessian preconditioned
by it. With a Gaussian posterior a step size is bounded by the largest eigenvalue and a
trajectory must span the smallest, so leapfrog steps per U-turn grow like sqrt(max / min)
(reported as `sqrt(cond)`). Metrics, each the Laplace covariance restricted:

- `diagonal`: its diagonal (what NUTS adapts by default for geo panels);
- `dense shared`: a dense block over the sites every geo shares (all but `intercept`, `sigma`
  and `effect_geo_z`), diagonal elsewhere;

each in the model's own coordinates and in `pooled-mean` ones: the geo deviations rotated so
their mean over geos is one coordinate (an orthogonal map, so their N(0, 1) prior is
unchanged) and the pooled effect replaced by the geo mean of the log effects,
``log effect_c + sd_c mean_g z_cg`` (a shear of unit Jacobian): the same posterior. For the
extreme directions of the diagonal metric it names the sites that carry them.

    .venv/bin/python benchmarks/posterior_geometry.py                         # large_business
    .venv/bin/python benchmarks/posterior_geometry.py --preset national_brand

Measured 2026-12-05 (90 s for large_business's 1,729 coordinates, 23 s for national_brand's
309), sqrt(cond) for diagonal / dense shared, in the model's coordinates then in pooled-mean
ones: large_business 31.3 / 16.6, 27.1 / 6.2; national_brand 14.9 / 9.7, 9.5 / 3.5. The widest
directions of the diagonal metric are a channel's pooled effect against its geo deviations,
the narrowest the channels' effects against saturation, seasonality and trend.
The sampler does not follow the Laplace figures. `benchmarks/large_business.py --only nuts
--warmup 300 --draws 100` (1 chain; the metric adapted in warmup from the Laplace diagonal),
with each variant patched into the sampler for the trial: diagonal 127 leapfrog steps per
draw (depth 7, step size 0.035); dense shared block 214 (depth 7-10, 0.040); pooled-mean
coordinates 127 (0.034); both 127 (0.041). On national_brand (plain NumPyro NUTS, 4 chains x
(1000 + 500)) the diagonal metric and the dense shared block both took 31 steps per draw. The
step size stays near 0.04 whatever the linear metric, so what bounds it is not a linear
correlation at the mode.

`--draws FIT_DIR` measures the geometry NUTS meets instead: at `--points` posterior draws of a
saved fit, the largest eigenvalue of the Hessian preconditioned by the draws' variances (the
metric NUTS adapts) and by their dense covariance over the shared sites, with the sites its
direction loads on; and how far the data move the geo sites (the geo deviations' posterior
variance, 1 under their prior alone, and the geo spread's quantiles).

    .venv/bin/mmmlab fit --preset large_business --chains 4 --out /tmp/lb
    .venv/bin/python benchmarks/posterior_geometry.py --draws /tmp/lb/fit
    .venv/bin/python benchmarks/posterior_geometry.py --draws /tmp/lb/fit --trial 200 1000

Measured 2026-12-06 on that fit (4 x 1000 draws of 1,729 coordinates; converged, min bulk ESS
729, median 5,663; the lowest by NumPyro's estimator `effect_geo_sd`'s, 747): the geo
deviations' posterior variance is 0.72-0.99 of the prior's and the geo spread's 5% / 50% / 95%
quantiles are 0.005-0.045 / 0.048-0.207 / 0.128-0.381 over channels, near its HalfNormal(0.2)
prior's 0.013 / 0.135 / 0.392: the data barely tell the geos' channel effects apart, so the
non-centred form is the right one (each channel partially centred, ``w = lambda_c log effect_c +
sd_c^lambda_c z`` with lambda_c from the Laplace Hessian, 0.03-0.93, tried in plain NumPyro: 767
leapfrog steps per draw against 127). The largest eigenvalue at 5 draws: diagonal metric 83-195,
its direction a channel's effect with its saturation, seasonality and trend; dense shared metric
30-77, its direction the geo spread (`effect_geo_sd` 87-95%): the funnel, whose curvature
changes from draw to draw as the spread does, so no fixed metric takes it out. `--trial 200
1000` on that fit (one chain from its draw 1,333; the step size tuned over 200 iterations):
diagonal metric 63 leapfrog steps per draw, step size 0.090, lowest bulk ESS of 1,000 draws 287
(`effect_geo_sd`); dense shared 31 steps, 0.107, lowest 55 (`geometric_alpha`; `effect_geo_sd`
83): half the gradients per draw, 2.6 times fewer ESS per gradient (1.8e-3 against 4.6e-3). One
chain's trial is chaotic: a metric differing by 2e-16 (the same covariance summed in another
order) gave the dense block 63 steps and lowest ESS 232, and from draw 1,234 31 steps and 84
against the diagonal's 201; in every run the dense block gave fewer ESS per gradient, so even
one learnt from 4,000 draws does not pay.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import mmmlab  # sets the XLA host devices before JAX is imported

# isort: split
import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
from jax.flatten_util import ravel_pytree
from numpyro.infer.util import potential_energy

from mmmlab.inference.starts import OPTIMIZER_STEPS, minimize, prior_center_init
from mmmlab.models import ModelConfig
from mmmlab.models.mmm import bind
from mmmlab.synth import simulate

PER_GEO = ("effect_geo_z", "intercept", "sigma")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="large_business")
    parser.add_argument("--draws", metavar="FIT_DIR", help="a saved fit: curvature at its draws")
    parser.add_argument("--points", type=int, default=5, help="draws to evaluate (--draws)")
    parser.add_argument(
        "--trial",
        nargs=2,
        type=int,
        metavar=("WARMUP", "DRAWS"),
        help="with --draws: one chain of NUTS with each metric fixed from the fit's draws",
    )
    a = parser.parse_args()
    if a.draws:
        return at_draws(a.draws, a.points, a.trial)
    dataset, _ = simulate(a.preset, 0)
    model, _, _, data, y = bind(dataset, ModelConfig())
    args = (data, y)
    z0, flat0, unravel, labels = coordinates(model, args)

    def f(x: jnp.ndarray) -> jnp.ndarray:
        return potential_energy(model, args, {}, unravel(x))

    t0 = time.perf_counter()
    mode = mode_of(f, flat0)
    print(f"{a.preset}: {flat0.size} coordinates; mode in {time.perf_counter() - t0:.0f} s")
    rotation = mean_first_rotation(dataset.n_geos)

    def to_model(x: jnp.ndarray) -> jnp.ndarray:
        """Pooled-mean coordinates -> the model's."""
        d = dict(unravel(x))
        d["effect_geo_z"] = d["effect_geo_z"] @ rotation.T
        d["effect"] = d["effect"] - jnp.exp(d["effect_geo_sd"]) * d["effect_geo_z"].mean(-1)
        return ravel_pytree(d)[0]

    def to_pooled(x: jnp.ndarray) -> jnp.ndarray:
        d = dict(unravel(x))
        d["effect"] = d["effect"] + jnp.exp(d["effect_geo_sd"]) * d["effect_geo_z"].mean(-1)
        d["effect_geo_z"] = d["effect_geo_z"] @ rotation
        return ravel_pytree(d)[0]

    hessians = {
        "model": hessian(f, mode),
        "pooled-mean": hessian(lambda x: f(to_model(x)), to_pooled(mode)),
    }
    shared = ~np.isin(labels, PER_GEO)
    for name, h in hessians.items():
        cov = np.linalg.inv(h)  # the Laplace covariance, shared by both metrics
        for metric, block in (("diagonal", None), ("dense shared", shared)):
            lam, vectors = preconditioned(h, cov, block)
            print(
                f"  {name:12s} {metric:13s} eigenvalues {lam[:2].round(3)} ... "
                f"{lam[-2:].round(1)}; sqrt(cond) {np.sqrt(lam[-1] / lam[0]):.1f}"
            )
            if name == "model" and block is None:
                for j, end in ((0, "widest"), (-1, "narrowest")):
                    print(f"    {end} direction: {carriers(vectors[:, j], labels)}")


def at_draws(fit_dir: str, points: int, trial: tuple[int, int] | None) -> None:
    """The geometry NUTS meets: at `points` posterior draws of a saved fit, the largest
    eigenvalue of the Hessian preconditioned by the draws' variances (what NUTS adapts) and by
    their dense covariance over the shared sites; and how far the data move the geo sites.
    With `trial` (warmup, draws), `metric_trial` of both metrics."""
    from numpyro.infer.util import unconstrain_fn
    from scipy.sparse.linalg import LinearOperator, eigsh

    fit = mmmlab.load(fit_dir)
    model, _, _, data, y = bind(fit.train, fit.config)
    args = (data, y)
    z0, _, unravel, labels = coordinates(model, args)
    flat = fit.flat_posterior()
    draws = {k: jnp.asarray(flat[k]) for k in z0}
    u = np.asarray(  # (S, D) unconstrained, in the order of `labels`
        jax.vmap(lambda d: ravel_pytree(unconstrain_fn(model, args, {}, d))[0])(draws)
    )
    print(f"{fit_dir}: {u.shape[0]} draws of {u.shape[1]} coordinates")
    if "effect_geo_z" in z0:
        var = np.median(flat["effect_geo_z"].var(0), axis=-1)  # (C,): 1 = the prior's
        spread = np.quantile(flat["effect_geo_sd"], [0.05, 0.5, 0.95], axis=0)
        print(
            f"  geo deviations' posterior variance (median over geos; prior 1): "
            f"{var.min():.2f}-{var.max():.2f} over channels; geo spread `effect_geo_sd` 5% "
            f"quantile {spread[0].min():.3f}-{spread[0].max():.3f}, median "
            f"{spread[1].min():.3f}-{spread[1].max():.3f}, "
            f"95% {spread[2].min():.3f}-{spread[2].max():.3f}"
        )
    shared = ~np.isin(labels, PER_GEO)
    sd = u.std(0)
    root = np.linalg.cholesky(np.cov(u[:, shared].T))

    def scale(v: np.ndarray, transpose: bool, dense: bool) -> np.ndarray:
        out = sd * v
        if dense:
            out[shared] = (root.T if transpose else root) @ v[shared]
        return out

    grad = jax.grad(lambda x: potential_energy(model, args, {}, unravel(x)))
    hvp = jax.jit(lambda x, v: jax.jvp(grad, (x,), (v,))[1])
    for i in np.linspace(0, len(u) - 1, points).astype(int):
        x, row = jnp.asarray(u[i]), []
        for name, dense in (("diagonal", False), ("dense shared", True)):
            op = LinearOperator(
                (x.size, x.size),
                matvec=lambda v, d=dense, x=x: scale(
                    np.asarray(hvp(x, jnp.asarray(scale(np.ravel(v), False, d)))), True, d
                ),
                dtype=float,
            )
            lam, vec = eigsh(op, k=1, which="LA", tol=1e-3)
            row.append(f"{name} {lam[0]:.0f} ({carriers(vec[:, 0], labels, 3)})")
        print(f"  draw {i}: largest eigenvalue, " + "; ".join(row))
    if trial:
        for dense in (False, True):
            metric_trial(model, args, u, labels, unravel, dense, *trial)


def coordinates(model, args: tuple) -> tuple[dict, jnp.ndarray, Callable, np.ndarray]:
    """The model's unconstrained coordinates: a point by site (the prior centre, jittered),
    it flattened (D,), the map back to sites, and each coordinate's site name (D,)."""
    z0 = prior_center_init(model, args, jax.random.PRNGKey(0), 0.5)
    flat, unravel = ravel_pytree(z0)
    labels = np.concatenate([np.full(np.size(v), k) for k, v in sorted(z0.items())])
    return z0, flat, unravel, labels


def metric_trial(model, args, u: np.ndarray, labels, unravel, dense: bool, warmup: int, n: int):
    """One chain of NumPyro's NUTS from a posterior draw with the metric fixed from the draws
    `u` (S, D) unconstrained: their variances, or with `dense` their covariance over the shared
    sites (all but `PER_GEO`); the step size tuned over `warmup`. Prints leapfrog steps per
    draw, the step size and the lowest single-chain bulk ESS over `n` draws, by site."""
    from numpyro.diagnostics import effective_sample_size
    from numpyro.infer import MCMC, NUTS

    sites = tuple(map(str, dict.fromkeys(labels)))  # sorted, as `ravel_pytree` orders them
    shared = tuple(k for k in sites if k not in PER_GEO)
    rest = tuple(k for k in sites if k in PER_GEO)
    if dense:  # the blocks' coordinates keep the sites' sorted order, as `u`'s columns do
        block = np.isin(labels, shared)
        inverse_mass = {  # every model has `intercept` and `sigma`: `rest` is never empty
            shared: jnp.asarray(np.cov(u[:, block].T)),
            rest: jnp.asarray(u[:, ~block].var(0)),
        }
    else:
        inverse_mass = jnp.asarray(u.var(0))
    kernel = NUTS(
        potential_fn=lambda z: potential_energy(model, args, {}, z),
        dense_mass=[shared] if dense else False,
        inverse_mass_matrix=inverse_mass,
        adapt_mass_matrix=False,
        target_accept_prob=0.85,
        max_tree_depth=(6, 10),  # as mmmlab's warmup and sampling
    )
    mcmc = MCMC(kernel, num_warmup=warmup, num_samples=n, progress_bar=False)
    start = unravel(jnp.asarray(u[len(u) // 3]))
    t0 = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(1), init_params=start, extra_fields=("num_steps", "adapt_state"))
    stats = jax.device_get(mcmc.get_extra_fields())
    samples = jax.device_get(mcmc.get_samples())
    ess = {k: float(np.min(effective_sample_size(np.asarray(v)[None]))) for k, v in samples.items()}
    low = sorted(ess.items(), key=lambda kv: kv[1])[:3]
    print(
        f"  {'dense shared' if dense else 'diagonal'} metric fixed from the draws: "
        f"{time.perf_counter() - t0:.0f} s; leapfrog steps per draw "
        f"{np.mean(stats['num_steps']):.1f}, step size "
        f"{float(stats['adapt_state'].step_size[-1]):.3f}; lowest bulk ESS of {n} draws "
        + ", ".join(f"{k} {v:.0f}" for k, v in low)
    )


def mode_of(f, x0: jnp.ndarray) -> jnp.ndarray:
    """Adam (`starts.minimize`), then L-BFGS to a tight optimum."""
    x = jax.jit(lambda x: minimize(f, x, OPTIMIZER_STEPS))(x0)
    value_grad = jax.jit(jax.value_and_grad(f))

    def fun(v: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = value_grad(jnp.asarray(v))
        return float(value), np.asarray(grad, float)

    result = scipy.optimize.minimize(
        fun, np.asarray(x, float), jac=True, method="L-BFGS-B", options={"maxiter": 20_000}
    )
    return jnp.asarray(result.x)


def hessian(f, x: jnp.ndarray, batch: int = 64) -> np.ndarray:
    """(D, D) symmetrised, from exact Hessian-vector products in batches of `batch`
    coordinates. Not the sampler's `laplace.gradient_jacobian`: its central differences of a
    gradient whose media path runs in float32 move national_brand's sqrt(cond) by ~5%
    (15.6 against 14.9), too much for comparing metrics; a start needs no such accuracy."""
    grad = jax.grad(f)
    hvp = jax.jit(jax.vmap(lambda v: jax.jvp(grad, (x,), (v,))[1]))
    eye = np.eye(x.size)
    h = np.concatenate(
        [np.asarray(hvp(jnp.asarray(eye[i : i + batch]))) for i in range(0, x.size, batch)]
    )
    return 0.5 * (h + h.T)


def mean_first_rotation(n: int) -> jnp.ndarray:
    """(n, n) orthogonal with a constant first column: ``z @ R`` puts sqrt(n) * mean(z) first."""
    basis = np.eye(n)
    basis[:, 0] = 1.0
    q, _ = np.linalg.qr(basis)
    return jnp.asarray(q * np.sign(q[0, 0]))


def preconditioned(
    h: np.ndarray, cov: np.ndarray, block: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and vectors of ``L' H L`` for the metric ``L L'``: the diagonal
    of `cov` (``H^-1``), with its dense block over the coordinates in `block` (bool)."""
    metric = np.diag(np.diag(cov))
    if block is not None:
        metric[np.ix_(block, block)] = cov[np.ix_(block, block)]
    root = np.linalg.cholesky(metric)
    return np.linalg.eigh(root.T @ h @ root)


def carriers(vector: np.ndarray, labels: np.ndarray, top: int = 4) -> str:
    """The sites carrying most of a unit `vector`, with their shares of its squared length."""
    shares = {k: float(np.sum(vector[labels == k] ** 2)) for k in np.unique(labels)}
    best = sorted(shares.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{k} {v:.0%}" for k, v in best)


if __name__ == "__main__":
    main()
