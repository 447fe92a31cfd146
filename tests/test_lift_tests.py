"""Lift-test files: what they read, and every bad row refused with its line and what to do."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from mmmlab.data import DatasetError
from mmmlab.data.lift_tests import (
    LiftExperiment,
    as_lift_tests,
    check_lift_tests,
    read_lift_tests,
)
from mmmlab.synth import example_dataset

HEADER = "channel,start,end,spend_change,lift,lift_se"
GOOD = "tv,2022-12-18,2023-01-22,-1000,-3000,500"


@pytest.fixture(scope="module")
def dataset():
    return example_dataset()[0]  # weekly, 2022-01-02 .. 2024-12-22, tv search social display


def write(tmp_path, *rows: str, header: str = HEADER):
    path = tmp_path / "lifts.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_a_file_reads_into_tests_with_defaults(tmp_path):
    path = write(
        tmp_path,
        "tv,2022-12-18,2023-01-22,-1000,-3000,500,,,",
        "search,2023-07-16,2023-08-06,2000,1500,300,national,2023-09-03,proportional",
        header=HEADER + ",geo,measure_end,spread",
    )
    tv, search = read_lift_tests(path)
    assert tv == LiftExperiment("tv", date(2022, 12, 18), date(2023, 1, 22), -1000, -3000, 500)
    assert (tv.geo, tv.measure_end, tv.spread) == (None, None, "even")
    assert tv.where == f"{path}, line 2"
    assert search.geo == "national" and search.measure_end == date(2023, 9, 3)
    assert search.spread == "proportional" and search.where == f"{path}, line 3"
    assert read_lift_tests(write(tmp_path, GOOD)) == (tv,)  # optional columns may be absent


def test_tests_round_trip_through_json_and_take_names():
    test = LiftExperiment("tv", "2022-12-18", "2023-01-22", -1000, -3000, 500, geo="north")
    assert LiftExperiment.from_dict(test.to_json()) == test
    named = as_lift_tests([test, test.to_json()])
    assert [t.where for t in named] == ["lift_tests[0]", "lift_tests[1]"]
    with pytest.raises(DatasetError, match=r"lift_tests\[0\]: unknown key\(s\) \['roas'\]"):
        as_lift_tests([{**test.to_json(), "roas": 2.0}])
    with pytest.raises(DatasetError, match=r"missing key\(s\) \['lift_se'\]"):
        LiftExperiment.from_dict({k: v for k, v in test.to_json().items() if k != "lift_se"})


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("tv,2022-12-18,2023-01-22,-1000,-3000,0", r"line 3: lift_se must be > 0"),
        ("tv,2022-12-18,2023-01-22,-1000,-3000,-5", r"line 3: lift_se must be > 0"),
        ("tv,2023-01-22,2022-12-18,-1000,-3000,500", r"line 3: start 2023-01-22 is after end"),
        ("tv,2022-12-18,2023-01-22,0,-3000,500", r"line 3: spend_change is 0"),
        ("tv,2022-12-18,2023-01-22,-1000,lots,500", r"column 'lift', line 3: non-numeric"),
        ("tv,2022-12-18,someday,-1000,-3000,500", r"column 'end', line 3"),
        ("tv,2022-12-18,2023-01-22,-1000,,500", r"column 'lift', line 3: missing lift"),
        (",2022-12-18,2023-01-22,-1000,-3000,500", r"column 'channel', line 3: missing"),
    ],
)
def test_a_bad_row_is_refused_naming_its_line(tmp_path, row, message):
    with pytest.raises(DatasetError, match=message):
        read_lift_tests(write(tmp_path, GOOD, row))


def test_a_bad_layout_is_refused_naming_the_column(tmp_path):
    with pytest.raises(DatasetError, match=r"column 'lift_se', line 1: no such column"):
        read_lift_tests(write(tmp_path, "tv,2022-12-18,2023-01-22,-1,-3", header=HEADER[:-7]))
    with pytest.raises(DatasetError, match=r"unknown column\(s\) \['roas'\]"):
        read_lift_tests(write(tmp_path, GOOD + ",2", header=HEADER + ",roas"))
    with pytest.raises(DatasetError, match="file not found"):
        read_lift_tests(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("radio,2022-12-18,2023-01-22,-1000,-3000,500", r"unknown channel 'radio'; the data's"),
        ("tv,2021-12-18,2022-01-22,-1000,-3000,500", r"start 2021-12-18 lies outside the data"),
        ("tv,2024-12-01,2025-01-22,-1000,-3000,500", r"end 2025-01-22 lies outside the data"),
        ("tv,2022-12-19,2022-12-24,-1000,-3000,500", r"no period is dated in 2022-12-19"),
        ("tv,2024-11-17,2024-12-01,100,300,50", r"measure_end defaults to end plus l_max - 1"),
        ("tv,2022-12-18,2023-01-22,-1e9,-3000,500", r"spend_change -1e\+09 would make 'tv'"),
    ],
)
def test_a_row_that_does_not_fit_the_data_is_refused_naming_its_line(
    tmp_path, dataset, row, message
):
    tests = read_lift_tests(write(tmp_path, GOOD, row))
    check_lift_tests(tests[:1], dataset, l_max=8)
    with pytest.raises(DatasetError, match=f"lifts.csv, line 3: {message}"):
        check_lift_tests(tests, dataset, l_max=8)


def test_geos_must_be_the_data_s_and_a_proportional_test_needs_spend(dataset):
    test = LiftExperiment("tv", "2022-12-18", "2023-01-22", -10, -30, 5, geo="north")
    with pytest.raises(DatasetError, match=r"unknown geo 'north'; the data's geos are"):
        check_lift_tests([test], dataset, l_max=8)
    unspent = np.flatnonzero(dataset.spend[:, 0, 0] == 0)
    day = dataset.dates[unspent[unspent > 10][0]]
    dark = LiftExperiment("tv", day, day, -10, -30, 5, spread="proportional")
    with pytest.raises(DatasetError, match="nothing was spent on 'tv'"):
        check_lift_tests([dark], dataset, l_max=8)


def test_a_test_is_laid_out_on_the_data_s_grid(dataset):
    d, spend = dataset.dates, dataset.spend[:, 0, 1]
    even = LiftExperiment("search", d[50], d[53], 400.0, 1, 1)
    dark = LiftExperiment(
        "search", d[50], d[53], -spend[50:54].sum(), 1, 1, measure_end=d[56], spread="proportional"
    )
    (a, b) = check_lift_tests([even, dark], dataset, l_max=8)
    assert (a.channel, a.geos, a.first, a.last) == (1, (0,), 50, 60)  # end + l_max - 1
    np.testing.assert_allclose(a.change[50:54, 0], 100.0)
    assert a.change.sum() == pytest.approx(400.0) and b.last == 56
    np.testing.assert_allclose(b.change[50:54, 0], -spend[50:54])  # a go-dark: spend to 0
    assert not b.change[:50].any() and not b.change[54:].any()
