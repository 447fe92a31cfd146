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
correlation at the mode; the likeliest suspect, not yet verified, is curvature that changes
across the posterior, as in the funnel of each `effect_geo_sd` with its deviations.
"""

from __future__ import annotations

import argparse
import time

import mmmlab  # noqa: F401  (sets the XLA host devices before JAX is imported)

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
    a = parser.parse_args()
    dataset, _ = simulate(a.preset, 0)
    model, _, _, data, y = bind(dataset, ModelConfig())
    args = (data, y)
    z0 = prior_center_init(model, args, jax.random.PRNGKey(0), 0.5)
    flat0, unravel = ravel_pytree(z0)
    labels = np.concatenate([np.full(np.size(v), k) for k, v in sorted(z0.items())])

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
