"""Every in-process backend through the same contract (`backend_contract.conforms`) on a tiny
simulated world: fit, predictive draws for a later window, contributions, ROAS, parameters,
diagnostics and each capability it declares, then the benchmark's scoring. The peers run the
same check in their own environments (tests/peers/, ``make test-peers``)."""

from __future__ import annotations

import pytest

import mmmlab
from backend_contract import conforms  # tests/ is on sys.path (pytest rootdir)
from mmmlab.backends import BACKENDS, Capabilities, capabilities, register_backend
from mmmlab.bench.grid.cells import expand
from mmmlab.bench.grid.sources.registry import summed
from mmmlab.bench.grid.spec import SpecError, parse_spec
from mmmlab.bench.run.isolated import peer_python

NUTS = {"num_warmup": 60, "num_samples": 60, "num_chains": 2}
IN_PROCESS = {  # backend -> (params, inference, whether it takes one summed channel)
    "mmmlab": ({"saturation": "hill", "yearly_seasonality": 1}, NUTS, False),
    "hill_mixture": ({"kind": "single_hill"}, NUTS | {"num_starts": 2}, True),
    "ridge": ({"iterations": 30, "trials": 1, "bootstrap": 20}, {}, False),
}


def test_every_registered_backend_is_covered_here_or_by_the_peer_tests():
    peers = {b for b in BACKENDS if capabilities(b).environment is not None}
    assert set(IN_PROCESS) | peers == set(BACKENDS)
    assert peers == {"meridian", "pymc-marketing"}
    assert all(peer_python(b) is None for b in IN_PROCESS)  # they run in the worker itself


@pytest.mark.parametrize("name", list(IN_PROCESS))
def test_backend_honours_the_contract(name, tmp_path):
    params, inference, one_channel = IN_PROCESS[name]
    dataset, truth = mmmlab.simulate("small_business", 0)
    if one_channel:
        dataset, truth = summed(dataset), None
    conforms(name, dataset, truth, params, inference, tmp_path)


class _NoLikelihoodFit:
    """A stand-in fit class: its backend declares no log-likelihood."""


class NoLikelihoodBackend:
    """A toy backend, registered to check how the grid reads declared capabilities."""

    name = "no_likelihood"
    capabilities = Capabilities(log_likelihood=False)

    def check_params(self, params: dict) -> None:
        if params:
            raise ValueError(f"no_likelihood takes no parameters, got {sorted(params)}")

    def fit(self, train, params, seed, inference):
        return _NoLikelihoodFit()


def test_a_spec_asking_a_backend_for_what_it_does_not_declare_is_an_error(monkeypatch):
    monkeypatch.setitem(BACKENDS, "no_likelihood", "")  # removed again after the test
    register_backend("no_likelihood", f"{__name__}:NoLikelihoodBackend")
    base = {"name": "t", "datasets": [{"preset": "small_business"}], "seeds": 1}
    spec = parse_spec(base | {"models": [{"name": "m", "backend": "no_likelihood"}]})
    with pytest.raises(SpecError, match="gives no log_likelihood, which metric group.* loo"):
        expand(spec)
    without_loo = parse_spec(
        base | {"models": [{"name": "m", "backend": "no_likelihood"}], "metrics": ["predictive"]}
    )
    assert [c.backend for c in expand(without_loo)] == ["no_likelihood"]
    with pytest.raises(SpecError, match="no_likelihood takes no parameters"):
        expand(
            parse_spec(
                base | {"models": [{"name": "m", "backend": "no_likelihood", "params": {"a": 1}}]}
            )
        )
