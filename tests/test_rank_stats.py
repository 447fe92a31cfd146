"""mmmlab's own rank-normalised R-hat and bulk / tail ESS give ArviZ's values, to the bit: on
autocorrelated chains of many lengths (odd, even, the 4-draw minimum), anti-correlated and
nearly stuck ones, ties, constants, indicators and NaN draws."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pytest

from mmmlab.inference import rank_stats
from mmmlab.inference.diagnostics import convergence


def _ar1(rng: np.random.Generator, chains: int, draws: int, phi: float) -> np.ndarray:
    x = np.zeros((chains, draws, 3))
    noise = rng.normal(size=x.shape)
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


def _cases() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    cases = [
        _ar1(rng, chains, draws, phi)
        for chains in (1, 2, 4)
        for draws in (4, 5, 7, 10, 101, 1000)
        for phi in (-0.9, 0.0, 0.5, 0.95, 0.999)
    ]
    special = rng.normal(size=(2, 100, 3))
    special[..., 1] = 1.0  # constant
    special[0, 3, 2] = np.nan
    cases.append(special)
    cases.append(np.round(rng.normal(size=(2, 200, 3))))  # many ties
    cases.append(rng.integers(0, 2, size=(4, 300, 3)).astype(float))  # an indicator
    shifted = _ar1(rng, 2, 1000, 0.5)
    shifted[1] += 3.0  # chains that disagree
    cases.append(shifted)
    return cases


def _arviz(x: np.ndarray, fn) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array([float(fn({"v": x[..., j]})["v"]) for j in range(x.shape[-1])])


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (rank_stats.rhat, az.rhat),
        (rank_stats.ess_bulk, lambda d: az.ess(d, method="bulk")),
        (rank_stats.ess_tail, lambda d: az.ess(d, method="tail")),
    ],
    ids=["rhat", "ess_bulk", "ess_tail"],
)
def test_the_estimators_give_arviz_values_bit_for_bit(ours, theirs) -> None:
    for x in _cases():
        np.testing.assert_array_equal(ours(x), _arviz(x, theirs), err_msg=str(x.shape))


def test_convergence_over_sites_of_several_shapes() -> None:
    rng = np.random.default_rng(1)
    draws = {
        "scalar": _ar1(rng, 2, 500, 0.3)[..., 0],
        "vector": _ar1(rng, 2, 500, 0.8),
        "matrix": _ar1(rng, 2, 500, 0.1).reshape(2, 500, 3, 1),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rhat, bulk, tail = (
            az.rhat(draws),
            az.ess(draws, method="bulk"),
            az.ess(draws, method="tail"),
        )

    def flat(ds) -> np.ndarray:
        return np.concatenate([np.ravel(ds[k].values) for k in ds.data_vars])

    got = convergence(draws)
    assert got.max_rhat == np.nanmax(flat(rhat))
    assert got.min_ess_bulk == np.nanmin(flat(bulk))
    assert got.min_ess_tail == np.nanmin(flat(tail))
    assert got.median_ess_bulk == np.nanmedian(flat(bulk))


def test_average_ranks_of_ties() -> None:
    ranks = rank_stats.average_ranks(np.array([3.0, 1.0, 3.0, 2.0, 3.0]))
    np.testing.assert_array_equal(ranks, [4.0, 1.0, 4.0, 2.0, 4.0])


def test_fft_lengths_have_only_small_prime_factors() -> None:
    for n in range(1, 3000):
        m = rank_stats._fast_length(n)
        assert m >= n
        rest = m
        for p in (2, 3, 5):
            while rest % p == 0:
                rest //= p
        assert rest == 1
        assert all(not _smooth(k) for k in range(n, m)), n


def _smooth(k: int) -> bool:
    for p in (2, 3, 5):
        while k % p == 0:
            k //= p
    return k == 1
