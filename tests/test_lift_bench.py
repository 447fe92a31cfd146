"""Lift experiments in a benchmark spec: they calibrate the fits of backends that take them
(mmmlab) and are scored by MAPE.LIFT; backends that cannot count them as unscored."""

from __future__ import annotations

import pytest
import yaml

from mmmlab.bench.grid.spec import SpecError, parse_spec
from mmmlab.bench.results.store import Store
from mmmlab.bench.run.runner import run_benchmark

pytestmark = pytest.mark.xdist_group("bench_configurations")

# The confounded world at data seed 0: an 8-week search go-dark whose true lift is -137,189
# is read out at half that (se 3%), and a tv test at its true lift (13,626).
TESTS = [
    {
        "channel": "search", "start": "2022-02-27", "end": "2022-04-17",
        "spend_change": -68848, "lift": -68595, "lift_se": 2058, "spread": "proportional",
    },
    {
        "channel": "tv", "start": "2022-09-25", "end": "2022-10-16", "spend_change": 20000,
        "lift": 13626, "lift_se": 1363,
    },
]  # fmt: skip
SPEC = {
    "name": "lift_experiments",
    "datasets": [{"preset": "confounded", "data_seed": 0, "lift_tests": TESTS}],
    "models": [
        {"name": "bayes", "backend": "mmmlab", "params": {"saturation": "hill"}},
        {"name": "ridge", "backend": "ridge", "params": {"iterations": 150, "trials": 2}},
    ],
    "seeds": 1,
    "split": {"train": 0.8},
    "inference": {"method": "map"},
    "metrics": ["predictive"],
}


def test_lift_experiments_calibrate_the_bayesian_fit_and_are_scored(tmp_path):
    out = tmp_path / "run"
    result = run_benchmark(parse_spec(SPEC), yaml.safe_dump(SPEC), out, workers=1)
    assert result.counts["done"] == 2, result.counts
    with Store.open(out, readonly=True) as store:
        metrics = store.metrics_frame()
    rows = metrics.set_index(["model", "metric", "key"])["value"]
    # Calibrated: the fit's go-dark lift follows the (halved) readout, not the data alone.
    assert rows["bayes", "lift_predicted", "0:search"] == pytest.approx(-68595, rel=0.15)
    assert rows["bayes", "lift_predicted", "1:tv"] == pytest.approx(13626, rel=0.15)
    assert rows["bayes", "mape_lift", ""] < 0.15
    assert rows["bayes", "lift_tests_unscored", ""] == 0
    assert rows["ridge", "lift_tests_unscored", ""] == 2  # no response to a spend change
    assert ("ridge", "mape_lift", "") not in rows.index


def test_a_bad_lift_experiment_in_a_spec_is_named_when_it_is_read():
    bad = {**TESTS[0], "lift_se": 0}
    spec = SPEC | {"datasets": [{"preset": "confounded", "lift_tests": [TESTS[1], bad]}]}
    with pytest.raises(SpecError, match=r"lift_tests\[1\]: lift_se must be > 0"):
        parse_spec(spec)
