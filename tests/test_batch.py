"""`fit_many`: same-shaped fits batched in one program, each a Fit of its own (real sampler,
tiny settings)."""

from __future__ import annotations

import numpy as np
import pytest

import mmmlab
from mmmlab.inference.batch import batch_devices, fit_many
from mmmlab.inference.diagnostics import convergence
from mmmlab.synth import simulate

SETTINGS = dict(num_warmup=150, num_samples=150, num_chains=2)
SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def data():
    return simulate("small_business", 0)[0]


@pytest.fixture(scope="module")
def batched(data):
    return fit_many(data, seeds=SEEDS, **SETTINGS)


@pytest.fixture(scope="module")
def singles(data):
    return [mmmlab.fit(data, seed=s, **SETTINGS) for s in SEEDS]


def test_one_fit_per_seed_with_its_own_diagnostics(batched, singles):
    assert [f.seed for f in batched] == SEEDS
    for many, one in zip(batched, singles, strict=True):
        assert isinstance(many, mmmlab.Fit)
        assert many.posterior.keys() == one.posterior.keys()
        for k in one.posterior:
            assert many.posterior[k].shape == one.posterior[k].shape
        assert many.sample_stats.keys() == one.sample_stats.keys()
        assert many.settings == one.settings
        # Diagnostics are this cell's: computed from its own draws and statistics.
        conv = convergence(many.posterior)
        d = many.diagnostics
        assert (d.max_rhat, d.min_ess_bulk, d.min_ess_tail) == conv[:3]
        assert d.divergences == int(many.sample_stats["diverging"].sum())
        assert (d.num_chains, d.num_draws, d.method) == (2, 150, "nuts")
        assert d.compile_s >= 0 and d.sample_s > 0
    # Cells do not share draws.
    assert not np.array_equal(batched[0].posterior["sigma"], batched[1].posterior["sigma"])


def test_draws_agree_with_single_fits(batched, singles):
    """Not bitwise (module docstring of `inference.batch`): the same posterior. Each element's
    posterior mean lies within a posterior sd or so of the single fit's (with 2 x 150 draws a
    poorly mixed element's mean wanders ~0.3 sd), and typically well within."""
    for many, one in zip(batched, singles, strict=True):
        gaps = []
        for k, draws in one.posterior.items():
            sd = np.maximum(draws.std((0, 1)), 1e-9)
            gaps.append(np.ravel(np.abs(many.posterior[k].mean((0, 1)) - draws.mean((0, 1))) / sd))
        gaps = np.concatenate(gaps)
        assert np.median(gaps) < 0.3 and gaps.max() < 1.5, (np.median(gaps), gaps.max())


def test_a_batch_is_reproducible_and_a_cell_ignores_its_companions(data, batched):
    again = fit_many(data, seeds=[0, 7, 2], **SETTINGS)
    for i in (0, 2):  # the same seed in the same place of a same-sized batch: the same bytes
        for k in batched[i].posterior:
            np.testing.assert_array_equal(again[i].posterior[k], batched[i].posterior[k])
    assert not np.array_equal(again[1].posterior["sigma"], batched[1].posterior["sigma"])


def test_datasets_of_other_shapes_are_grouped_and_order_kept(data):
    shorter = data.split(train=0.9)[0]
    fits = fit_many([data, shorter, data], seeds=[3, 3, 4], num_warmup=20, num_samples=20)
    assert [f.train.n_time for f in fits] == [data.n_time, shorter.n_time, data.n_time]
    assert [f.seed for f in fits] == [3, 3, 4]


def test_bad_arguments():
    with pytest.raises(ValueError, match="2 datasets but 3 seeds"):
        fit_many([object(), object()], seeds=[0, 1, 2])
    assert batch_devices(8, 2) == 2 and batch_devices(3, 2) == 1 and batch_devices(1) == 1
