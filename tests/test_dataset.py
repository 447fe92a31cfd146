"""Tests of the `Dataset` value: construction, frequency, split, select, aggregate, fingerprint."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mmmlab.data import Dataset, DatasetError, infer_frequency


def make_dataset(
    T: int = 20,
    G: int = 2,
    C: int = 3,
    K: int = 2,
    freq: str = "7D",
    start: str = "2021-01-04",
    exposure: bool = True,
    seed: int = 0,
) -> Dataset:
    """A random dataset with distinct values everywhere, so row mix-ups show."""
    rng = np.random.default_rng(seed)
    return Dataset(
        dates=pd.date_range(start, periods=T, freq=freq),
        geos=[f"geo{g}" for g in range(G)],
        channels=[f"ch{c}" for c in range(C)],
        spend=rng.uniform(1, 2, (T, G, C)),
        target=rng.uniform(10, 20, (T, G)),
        exposure=rng.uniform(100, 200, (T, G, C)) if exposure else None,
        controls=rng.normal(size=(T, G, K)),
        control_names=[f"k{k}" for k in range(K)],
        population=np.arange(1.0, G + 1),
        name="test",
    )


# ------------------------------------------------------------------------- construction
@pytest.mark.parametrize(
    ("field", "bad", "match"),
    [
        ("spend", np.ones((20, 2, 2)), "spend has shape"),
        ("target", np.ones((20, 3)), "target has shape"),
        ("exposure", np.ones((19, 2, 3)), "exposure has shape"),
        ("controls", np.ones((20, 2, 1)), "controls has shape"),
        ("population", np.ones(3), "population has shape"),
    ],
)
def test_wrong_shapes_are_rejected(field, bad, match):
    with pytest.raises(DatasetError, match=match):
        replace(make_dataset(), **{field: bad})


def test_duplicate_names_and_unsorted_dates_are_rejected():
    ds = make_dataset()
    with pytest.raises(DatasetError, match="duplicate channel"):
        replace(ds, channels=("ch0", "ch0", "ch1"))
    with pytest.raises(DatasetError, match="duplicate geo"):
        replace(ds, geos=("a", "a"))
    with pytest.raises(DatasetError, match="sorted and unique"):
        replace(ds, dates=ds.dates[::-1])
    with pytest.raises(DatasetError, match="sorted and unique"):
        replace(ds, dates=ds.dates[:1].append(ds.dates[:-1]))
    with pytest.raises(DatasetError, match="at least one spend channel"):
        replace(ds, channels=(), spend=np.ones((20, 2, 0)), exposure=None)


# ---------------------------------------------------------------------------- frequency
@pytest.mark.parametrize(
    ("freq", "expected"),
    [("D", "daily"), ("7D", "weekly"), ("W-SUN", "weekly"), ("MS", "monthly"), ("ME", "monthly")],
)
def test_frequency_is_inferred(freq, expected):
    dates = pd.date_range("2020-01-01", periods=30, freq=freq)
    assert infer_frequency(dates) == expected
    assert make_dataset(T=30, freq=freq).frequency == expected


def test_irregular_dates_name_the_gap():
    dates = pd.date_range("2021-01-04", periods=10, freq="7D").delete(5)
    with pytest.raises(DatasetError, match="2021-02-01 is followed by 2021-02-15"):
        infer_frequency(dates)
    with pytest.raises(DatasetError, match="3 days apart"):
        infer_frequency(pd.date_range("2021-01-01", periods=10, freq="3D"))
    with pytest.raises(DatasetError, match="at least 2 dates"):
        infer_frequency(pd.DatetimeIndex(["2021-01-01"]))


# -------------------------------------------------------------------------------- split
def test_split_by_fraction_is_contiguous_and_carries_history():
    ds = make_dataset(T=20)
    train, validation, test = ds.split(0.6, 0.2)
    assert (train.n_time, validation.n_time, test.n_time) == (12, 4, 4)
    joined = train.dates.append(validation.dates).append(test.dates)
    assert joined.equals(ds.dates)
    assert train.history_spend.shape == (0, 2, 3)
    np.testing.assert_array_equal(test.history_spend, ds.spend[:16])
    np.testing.assert_array_equal(test.history_spend[-1], ds.spend[15])
    np.testing.assert_array_equal(test.history_exposure, ds.exposure[:16])
    np.testing.assert_array_equal(validation.time_index, np.arange(12, 16))
    np.testing.assert_array_equal(test.time_index, np.arange(16, 20))
    np.testing.assert_array_equal(test.target, ds.target[16:])
    np.testing.assert_array_equal(test.controls, ds.controls[16:])
    assert test.frequency == "weekly" and test.population is not None


def test_split_by_date_is_inclusive_and_test_takes_the_rest():
    ds = make_dataset(T=20)
    train, validation, test = ds.split(train=str(ds.dates[9].date()))
    assert validation is None
    assert train.dates[-1] == ds.dates[9] and test.dates[0] == ds.dates[10]
    assert train.n_time + test.n_time == 20
    train, validation, test = ds.split(ds.dates[9], ds.dates[14])
    assert (train.n_time, validation.n_time, test.n_time) == (10, 5, 5)
    np.testing.assert_array_equal(test.history_spend, ds.spend[:15])


def test_split_rejects_bad_windows():
    ds = make_dataset(T=20)
    with pytest.raises(DatasetError, match="fraction"):
        ds.split(1.5)
    with pytest.raises(DatasetError, match="do not fit"):
        ds.split(0.6, 0.6)


def test_split_window_of_a_window_keeps_counting():
    ds = make_dataset(T=20)
    later = ds.split(0.5).test.split(0.5).test
    np.testing.assert_array_equal(later.time_index, np.arange(15, 20))
    np.testing.assert_array_equal(later.history_spend, ds.spend[:15])


# ------------------------------------------------------------------------------- select
def test_select_channels_geos_and_dates():
    ds = make_dataset(T=20, G=3)
    sub = ds.select(channels=["ch2", "ch0"], geos=["geo1"])
    assert sub.channels == ("ch2", "ch0") and sub.geos == ("geo1",)
    np.testing.assert_array_equal(sub.spend, ds.spend[:, [1]][:, :, [2, 0]])
    np.testing.assert_array_equal(sub.exposure, ds.exposure[:, [1]][:, :, [2, 0]])
    np.testing.assert_array_equal(sub.target, ds.target[:, [1]])
    np.testing.assert_array_equal(sub.population, [2.0])
    window = ds.select(start=ds.dates[5], end=ds.dates[9])
    assert window.dates.equals(ds.dates[5:10])
    np.testing.assert_array_equal(window.history_spend, ds.spend[:5])
    np.testing.assert_array_equal(window.time_index, np.arange(5, 10))


def test_select_unknown_names_fail():
    ds = make_dataset()
    with pytest.raises(DatasetError, match=r"unknown channel.*'radio'"):
        ds.select(channels=["radio"])
    with pytest.raises(DatasetError, match=r"unknown geo.*'mars'"):
        ds.select(geos=["mars"])
    with pytest.raises(DatasetError, match="at least one channel"):
        ds.select(channels=[])
    with pytest.raises(DatasetError, match="need at least 2"):
        ds.select(start="2030-01-01")


# ---------------------------------------------------------------------------- aggregate
def test_aggregate_daily_to_weeks_drops_partial_edges():
    # 2021-01-01 is a Friday: the first week (ending Sunday 01-03) has 3 days, the last 2 days.
    ds = make_dataset(T=4 * 7 + 5, freq="D", start="2021-01-01")
    weekly = ds.aggregate("W")
    assert weekly.frequency == "weekly"
    assert list(weekly.dates.day_name()) == ["Sunday"] * 4
    assert weekly.dates[0] == pd.Timestamp("2021-01-10")
    kept = slice(3, 3 + 28)
    np.testing.assert_allclose(weekly.spend.sum(axis=0), ds.spend[kept].sum(axis=0))
    np.testing.assert_allclose(weekly.target.sum(axis=0), ds.target[kept].sum(axis=0))
    np.testing.assert_allclose(weekly.exposure[0], ds.exposure[3:10].sum(axis=0))
    np.testing.assert_allclose(weekly.controls[0], ds.controls[3:10].mean(axis=0))
    np.testing.assert_array_equal(weekly.time_index, np.arange(4))


def test_aggregate_daily_to_months_keeps_full_edge_months():
    ds = make_dataset(T=89, freq="D", start="2021-02-01")  # February .. April, all full
    monthly = ds.aggregate("M")
    assert list(monthly.dates.strftime("%Y-%m-%d")) == ["2021-02-28", "2021-03-31", "2021-04-30"]
    np.testing.assert_allclose(monthly.spend.sum(axis=0), ds.spend.sum(axis=0))
    np.testing.assert_allclose(monthly.target[0], ds.target[:28].sum(axis=0))
    np.testing.assert_allclose(monthly.controls[1], ds.controls[28:59].mean(axis=0))
    partial = make_dataset(T=80, freq="D", start="2021-02-10").aggregate("M")  # to 04-30
    assert list(partial.dates.month) == [3, 4]


def test_aggregate_rejects_bad_periods():
    with pytest.raises(DatasetError, match="'W' or 'M'"):
        make_dataset(freq="D", T=40).aggregate("Q")
    with pytest.raises(DatasetError, match="cannot be split into weeks"):
        make_dataset(freq="MS").aggregate("W")


# -------------------------------------------------------------- fingerprint, read-only
def test_fingerprint_tracks_content():
    a, b = make_dataset(), make_dataset()
    assert a.fingerprint == b.fingerprint
    assert replace(a, name="other").fingerprint == a.fingerprint
    for field in ("spend", "target", "exposure", "controls"):
        changed = getattr(a, field).copy()
        changed.flat[7] += 1e-9
        assert replace(a, **{field: changed}).fingerprint != a.fingerprint, field
    assert replace(a, dates=a.dates + pd.Timedelta(days=1)).fingerprint != a.fingerprint
    assert replace(a, channels=("x", "ch1", "ch2")).fingerprint != a.fingerprint
    assert replace(a, population=np.array([1.0, 3.0])).fingerprint != a.fingerprint


def test_arrays_are_read_only_copies():
    spend = np.ones((20, 1, 1))
    ds = Dataset(
        dates=pd.date_range("2021-01-04", periods=20, freq="7D"),
        geos=["national"],
        channels=["tv"],
        spend=spend,
        target=np.arange(20.0).reshape(20, 1),
    )
    spend[0, 0, 0] = 99.0
    assert ds.spend[0, 0, 0] == 1.0
    for array in (ds.spend, ds.target, ds.controls, ds.time_index, ds.history_spend):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0
    assert ds.media is ds.spend and ds.is_national and ds.n_controls == 0
