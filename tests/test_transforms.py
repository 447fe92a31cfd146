"""Table-driven checks of `mmmlab.transforms` against independent NumPy/SciPy references."""

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import weibull_min

from mmmlab import transforms as tr

jax.config.update("jax_enable_x64", True)  # the package runs in float64

T, G, C, L = 30, 2, 3, 8


# ---------------------------------------------------------------------------- references
def ref_geometric(alpha, l_max, normalize=True):
    """Geometric lag weights ``alpha**l`` for one scalar parameter."""
    w = np.array([alpha**lag for lag in range(l_max)])
    return w / w.sum() if normalize else w


def ref_delayed(alpha, theta, l_max, normalize=True):
    """Delayed lag weights ``alpha**((l - theta)**2)`` for scalar parameters."""
    w = np.array([alpha ** ((lag - theta) ** 2) for lag in range(l_max)])
    return w / w.sum() if normalize else w


def _robyn_scale(scale, l_max, round_scale):
    """Robyn's Weibull scale: the `scale` quantile of the bins 1..L (optionally rounded)."""
    lam = np.quantile(np.arange(1, l_max + 1), scale)  # linear interpolation
    return np.round(lam) if round_scale else lam


def ref_weibull_cdf(shape, scale, l_max, round_scale=False):
    """Robyn: theta = [1, 1 - F(1), ..., 1 - F(L-1)], weights = cumprod(theta)."""
    lam = _robyn_scale(scale, l_max, round_scale)
    theta = [1.0] + [1.0 - weibull_min.cdf(b, shape, scale=lam) for b in range(1, l_max)]
    return np.cumprod(theta)


def ref_weibull_pdf(shape, scale, l_max, round_scale=False):
    """Robyn: Weibull density at bins 1..L, min-max normalised."""
    lam = _robyn_scale(scale, l_max, round_scale)
    pdf = weibull_min.pdf(np.arange(1, l_max + 1), shape, scale=lam)
    return (pdf - pdf.min()) / (pdf.max() - pdf.min())


def ref_hill(x, half_saturation, slope):
    """Hill curve ``x**S / (x**S + K**S)``."""
    return x**slope / (x**slope + half_saturation**slope)


def ref_logistic(x, lam):
    """Logistic saturation ``(1 - exp(-lam x)) / (1 + exp(-lam x))``."""
    return (1.0 - np.exp(-lam * x)) / (1.0 + np.exp(-lam * x))


def ref_michaelis_menten(x, half_saturation):
    """Michaelis-Menten curve ``x / (K + x)``."""
    return x / (half_saturation + x)


def ref_tanh(x, scale):
    """Hyperbolic tangent ``tanh(x / scale)``."""
    return np.tanh(x / scale)


# ---------------------------------------------------------------------------- the table
@dataclass
class Case:
    """One transform: registry name, kind, our function, reference and parameter sets."""

    name: str
    kind: str  # "adstock" (ref gives scalar lag weights) or "saturation" (ref is elementwise)
    fn: Any
    ref: Any
    params: list[dict]


def _split(params):
    """Array parameters (as float64) and static keyword options (bools) of a parameter set."""
    arrays = {k: np.asarray(v, float) for k, v in params.items() if not isinstance(v, bool)}
    return arrays, {k: v for k, v in params.items() if isinstance(v, bool)}


PC, PGC = [0.02, 0.5, 0.98], [[0.02, 0.3, 0.7], [0.98, 0.5, 0.1]]  # per channel / geo-channel
SHAPES_C, SHAPES_GC = [0.5, 2.0, 1.0], [[0.5, 2.0, 1.5], [2.0, 0.5, 1.0]]
SCALES_C, SCALES_GC = [0.1, 0.9, 0.3], [[0.9, 0.1, 0.6], [0.1, 0.9, 0.3]]
WEIBULL = [
    {"shape": SHAPES_C, "scale": SCALES_C, "round_scale": False},
    {"shape": SHAPES_GC, "scale": SCALES_GC, "round_scale": False},
    {"shape": SHAPES_C, "scale": SCALES_C, "round_scale": True},
    {"shape": SHAPES_GC, "scale": SCALES_GC, "round_scale": True},
]
CASES = [
    Case("geometric", "adstock", tr.geometric_adstock, ref_geometric,
         [{"alpha": PC}, {"alpha": PGC}, {"alpha": PC, "normalize": False}]),
    Case("delayed", "adstock", tr.delayed_adstock, ref_delayed,
         [{"alpha": PC, "theta": [0.0, 2.0, 5.5]},
          {"alpha": PGC, "theta": [[1.0, 0.0, 3.0], [2.5, 4.0, 0.5]]},
          {"alpha": PGC, "theta": [3.0, 1.0, 0.0], "normalize": False}]),
    Case("weibull_cdf", "adstock", tr.weibull_cdf_adstock, ref_weibull_cdf, WEIBULL),
    Case("weibull_pdf", "adstock", tr.weibull_pdf_adstock, ref_weibull_pdf, WEIBULL),
    Case("hill", "saturation", tr.hill, ref_hill,
         [{"half_saturation": [0.2, 1.0, 3.0], "slope": [0.5, 3.0, 1.0]},
          {"half_saturation": [[0.5, 1.0, 2.0], [3.0, 0.3, 1.5]], "slope": 3.0},
          {"half_saturation": [1.0, 2.0, 3.0], "slope": [20.0, 0.5, 8.0]}]),
    Case("logistic", "saturation", tr.logistic, ref_logistic,
         [{"lam": [0.5, 2.0, 5.0]}, {"lam": [[0.1, 1.0, 3.0], [5.0, 0.5, 2.0]]}]),
    Case("michaelis_menten", "saturation", tr.michaelis_menten, ref_michaelis_menten,
         [{"half_saturation": [0.2, 1.0, 3.0]},
          {"half_saturation": [[0.5, 1.0, 2.0], [4.0, 0.1, 1.0]]}]),
    Case("tanh", "saturation", tr.tanh, ref_tanh,
         [{"scale": [0.5, 1.0, 3.0]}, {"scale": [[0.5, 1.0, 2.0], [3.0, 0.7, 1.2]]}]),
]  # fmt: skip
ROWS = [pytest.param(c, p, id=f"{c.name}-{i}") for c in CASES for i, p in enumerate(c.params)]
ADSTOCK_ROWS = [r for r in ROWS if r.values[0].kind == "adstock"]
SATURATION_ROWS = [r for r in ROWS if r.values[0].kind == "saturation"]


def ours(case, x, params):
    """Our transform applied to x (T, G, C); adstocks get ``l_max=L``."""
    arrays, static = _split(params)
    extra = {"l_max": L} if case.kind == "adstock" else {}
    return np.asarray(case.fn(jnp.asarray(x), **arrays, **static, **extra))


def ref_weights(case, params):
    """Reference lag weights (L, G, C), computed one (geo, channel) at a time."""
    arrays, static = _split(params)
    full = {k: np.broadcast_to(v, (G, C)) for k, v in arrays.items()}
    w = np.zeros((L, G, C))
    for idx in np.ndindex(G, C):
        w[(slice(None), *idx)] = case.ref(**{k: v[idx] for k, v in full.items()}, l_max=L, **static)
    return w


def reference(case, x, params):
    """Reference output: explicit loops over time and lags (adstock) or elementwise formula."""
    if case.kind == "saturation":
        return case.ref(np.asarray(x), **_split(params)[0])
    w, y = ref_weights(case, params), np.zeros_like(x)
    for t in range(x.shape[0]):
        for lag in range(min(L, t + 1)):
            y[t] += w[lag] * x[t - lag]
    return y


def media(seed=0, shape=(T, G, C)):
    """Random non-negative media with exact zeros."""
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, 0.7, size=shape)
    return np.where(rng.random(shape) < 0.2, 0.0, x)


# ---------------------------------------------------------------------------- properties
@pytest.mark.parametrize(("case", "params"), ROWS)
def test_matches_reference(case, params):
    """Values match the reference on random non-negative (T, G, C) media."""
    x = media()
    np.testing.assert_allclose(
        ours(case, x, params), reference(case, x, params), rtol=1e-5, atol=1e-12
    )


@pytest.mark.parametrize(("case", "params"), ADSTOCK_ROWS)
def test_adstock_linear(case, params):
    """adstock(a x + z) = a adstock(x) + adstock(z)."""
    x, z, a = media(1), media(2), 2.5
    lhs = ours(case, a * x + z, params)
    np.testing.assert_allclose(lhs, a * ours(case, x, params) + ours(case, z, params), rtol=1e-10)


@pytest.mark.parametrize(("case", "params"), ADSTOCK_ROWS)
def test_adstock_causal(case, params):
    """Changing x[t0:] leaves y[:t0] unchanged."""
    x, t0 = media(3), 12
    changed = x.copy()
    changed[t0:] = media(4)[t0:]
    np.testing.assert_array_equal(ours(case, changed, params)[:t0], ours(case, x, params)[:t0])


@pytest.mark.parametrize(("case", "params"), ADSTOCK_ROWS)
def test_adstock_impulse_response_is_weights(case, params):
    """A unit impulse returns the lag weights; normalised kernels keep its mass."""
    x, t0 = np.zeros((T, G, C)), 5
    x[t0] = 1.0
    y = ours(case, x, params)
    np.testing.assert_allclose(y[t0 : t0 + L], ref_weights(case, params), rtol=1e-5, atol=1e-12)
    np.testing.assert_array_equal(y[:t0], 0.0)
    np.testing.assert_array_equal(y[t0 + L :], 0.0)
    if case.name in ("geometric", "delayed") and params.get("normalize", True):
        np.testing.assert_allclose(y.sum(axis=0), 1.0, rtol=1e-12)  # mass preserved


@pytest.mark.parametrize(("case", "params"), SATURATION_ROWS)
def test_saturation_shape(case, params):
    """Output in [0, 1), zero at zero, non-decreasing in x."""
    x = np.broadcast_to(np.linspace(0.0, 4.0, 401)[:, None, None], (401, G, C))
    y = ours(case, x, params)
    assert np.all(y >= 0.0) and np.all(y < 1.0)
    np.testing.assert_array_equal(y[0], 0.0)
    assert np.all(np.diff(y, axis=0) >= 0.0)


@pytest.mark.parametrize(
    ("case", "params"), [r for r in SATURATION_ROWS if "half_saturation" in r.values[1]]
)
def test_half_at_half_saturation(case, params):
    """Hill and Michaelis-Menten equal 1/2 at x = K."""
    k = np.broadcast_to(np.asarray(params["half_saturation"], float), (G, C))[None]
    np.testing.assert_allclose(ours(case, k, params), 0.5, rtol=1e-12)


@pytest.mark.parametrize(("case", "params"), ROWS)
def test_gradients_finite_with_zero_inputs(case, params):
    """d sum / d param and d sum / d x are finite at media with zeros (NUTS needs this)."""
    arrays, static = _split(params)
    extra = {"l_max": L} if case.kind == "adstock" else {}
    for x in (media(5), np.zeros((T, G, C))):
        for name in arrays:

            def total(p, name=name, x=x):
                return case.fn(jnp.asarray(x), **{**arrays, name: p}, **static, **extra).sum()

            grad = np.asarray(jax.grad(total)(jnp.asarray(arrays[name])))
            assert grad.shape == arrays[name].shape
            assert np.all(np.isfinite(grad)), f"{case.name}: d/d{name} not finite: {grad}"
        gx = np.asarray(jax.grad(lambda v: case.fn(v, **arrays, **static, **extra).sum())(x))
        assert np.all(np.isfinite(gx)), f"{case.name}: d/dx not finite"


@pytest.mark.parametrize(("case", "params"), ROWS)
def test_registry_dispatch(case, params):
    """`adstock_weights` and `saturation` agree with the direct functions."""
    arrays, static = _split(params)
    x = media(6)
    if case.kind == "saturation":
        got = np.asarray(tr.saturation(case.name, jnp.asarray(x), arrays))
    else:
        w = tr.adstock_weights(
            case.name,
            arrays,
            L,
            static.get("normalize", True),
            round_scale=static.get("round_scale", False),
        )
        got = np.asarray(tr.convolve_lags(jnp.asarray(x), w))
    np.testing.assert_allclose(got, ours(case, x, params), rtol=1e-12)


def test_registry_unknown_names():
    """Unknown names raise KeyError."""
    with pytest.raises(KeyError):
        tr.adstock_weights("nope", {}, L, True)
    with pytest.raises(KeyError):
        tr.saturation("nope", jnp.ones(3), {})


def test_geometric_weights_and_their_gradient_are_the_powers():
    """``alpha**l`` and its derivative ``l alpha**(l-1)`` for every lag (computed as
    exp(l log alpha) for speed), and alpha = 0 gives the impulse (1, 0, 0, ...)."""
    lags = np.arange(40.0)
    for alpha in (0.05, 0.5, 0.97):
        w = np.asarray(tr.geometric_weights(alpha, 40, normalize=False))
        np.testing.assert_allclose(w, alpha**lags, rtol=1e-13)
        jac = np.asarray(jax.jacfwd(lambda a: tr.geometric_weights(a, 40, normalize=False))(alpha))
        np.testing.assert_allclose(jac, lags * alpha ** np.maximum(lags - 1, 0), rtol=1e-12)
        per_lag = jax.grad(lambda a: tr.geometric_weights(a, 40, normalize=False)[7])(alpha)
        np.testing.assert_allclose(per_lag, 7 * alpha**6, rtol=1e-12)
    impulse = np.asarray(tr.geometric_weights(0.0, 5, normalize=False))
    np.testing.assert_array_equal(impulse, [1.0, 0.0, 0.0, 0.0, 0.0])
    grad = jax.grad(lambda a: tr.geometric_weights(a, 5).sum())(0.0)
    assert np.isfinite(grad)
