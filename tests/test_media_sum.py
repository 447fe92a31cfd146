"""The likelihood's media path (`decompose(..., per_channel=False)`: channels summed in the
media's float32, without a float64 copy of every channel) gives the mean, potential and
gradient of the per-channel path to float32 rounding: national and geo data, one or several
transform groups, a window with its own training reference."""

from __future__ import annotations

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer.util import potential_energy

import mmmlab
from mmmlab.inference.starts import prior_center_init
from mmmlab.models import ModelConfig
from mmmlab.synth import simulate

mm = importlib.import_module("mmmlab.models.mmm")

MIXED = ModelConfig(
    saturation="hill",
    channels={"tv": {"adstock": "delayed"}, "search": {"saturation": "logistic"}},
)


def _params(b, key):
    z = prior_center_init(b.model, (b.data, b.y), jax.random.PRNGKey(key), 1.0)
    return z, mm_constrain(b, z)


def mm_constrain(b, z):
    from numpyro.infer.util import constrain_fn

    return constrain_fn(b.model, (b.data, b.y), {}, z)


@pytest.mark.parametrize(
    ("preset", "config"),
    [("medium_business", ModelConfig()), ("small_business", ModelConfig()), ("example", MIXED)],
)
def test_summed_media_equal_the_per_channel_path(preset, config):
    if preset == "example":
        dataset, _ = mmmlab.example_dataset()
    else:
        dataset, _ = simulate(preset, 0)
    b = mm.bind(dataset, config)
    s = b.structure
    if preset == "example":
        assert len(s.groups) > 1
    for key in range(3):
        z, params = _params(b, key)
        for data in (b.data, b.data._replace(reference_lags=b.data.media_lags * 1.3)):
            full, beta = mm.decompose(params, data, s)
            summed, beta_summed = mm.decompose(params, data, s, per_channel=False)
            assert summed["media"].shape == (*full["media"].shape[:2], 1)
            np.testing.assert_allclose(beta_summed, beta, rtol=1e-12)
            # The channels are summed in float32, the media's precision: equal to its rounding.
            atol = 8 * np.finfo(np.float32).eps * float(jnp.abs(full["media"].sum(-1)).max())
            np.testing.assert_allclose(mm.mean_of(summed), mm.mean_of(full), rtol=0, atol=atol)


def test_the_potential_and_its_gradient_are_those_of_the_per_channel_path(monkeypatch):
    dataset, _ = simulate("medium_business", 0)
    b = mm.bind(dataset, ModelConfig())
    args = (b.data, b.y)

    def value_and_grad():
        return jax.jit(jax.value_and_grad(lambda z: potential_energy(b.model, args, {}, z)))

    z, _ = _params(b, 0)
    new = value_and_grad()(z)
    per_channel = mm.decompose
    monkeypatch.setattr(mm, "decompose", lambda p, d, s, **_: per_channel(p, d, s, True))
    old = value_and_grad()(z)
    assert float(new[0]) == pytest.approx(float(old[0]), rel=1e-8)
    for k in old[1]:
        scale = float(jnp.max(jnp.abs(old[1][k])))
        np.testing.assert_allclose(new[1][k], old[1][k], rtol=0, atol=1e-6 * max(scale, 1.0))
