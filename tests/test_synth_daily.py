"""Daily presets: `as_daily` observes a weekly business daily without changing the business."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import mmmlab  # noqa: F401  (JAX settings)
from mmmlab.synth import as_daily, simulate, write_simulation
from mmmlab.synth.calendar import daily_adstock
from mmmlab.synth.presets import PRESETS
from mmmlab.transforms import adstock_weights

SEEDS = range(8)


def test_as_daily_converts_the_calendar_and_keeps_the_business():
    weekly = PRESETS["growing_business"]()
    daily = as_daily(weekly)
    assert (daily.frequency, daily.n_periods, daily.l_max) == ("daily", 131 * 7, 56)
    assert daily.base_sales == pytest.approx(weekly.base_sales / 7)
    assert daily.noise == pytest.approx(weekly.noise * np.sqrt(7))
    assert (daily.growth, daily.seasonal_amplitude) == (weekly.growth, weekly.seasonal_amplitude)
    for w, d in zip(weekly.channels, daily.channels, strict=True):
        assert d.base == pytest.approx(w.base / 7) and d.trend == pytest.approx(w.trend / 7)
        assert (d.roas, d.saturation_params, d.cpm) == (w.roas, w.saturation_params, w.cpm)
        assert (d.start_period, d.ramp_up_periods) == (7 * w.start_period, 7 * w.ramp_up_periods)
        assert (d.min_active_periods, d.max_active_periods, d.min_idle_periods) == (
            7 * w.min_active_periods,
            7 * w.max_active_periods,
            7 * w.min_idle_periods,
        )
        p, q = w.activation_probability, d.activation_probability
        assert (1 - q) / q == pytest.approx(7 * (1 - p) / p), "same expected wait in days"
    for w, d in zip(weekly.controls, daily.controls, strict=True):
        assert (d.base, d.lift) == (w.base, w.lift), "controls are states, not amounts"
    dataset, _ = simulate("growing_business", 0, frequency="daily")
    weeks, _ = simulate("growing_business", 0)
    assert dataset.frequency == "daily" and dataset.spend.shape == (917, 2, 6)
    assert dataset.aggregate("W").dates.equals(weeks.dates), "the same weeks, day by day"
    video = dataset.spend[:, :, dataset.channels.index("video")]
    assert np.all(video[:175] == 0) and np.all(video[175:] > 0), "starts in week 25 = day 175"
    email = dataset.spend[:, 0, dataset.channels.index("email")] > 0
    edges = np.flatnonzero(np.diff(np.r_[0, email, 0]))
    starts, stops = edges[::2], edges[1::2]
    whole = stops < len(email)  # a flight cut off by the window's end is shorter
    assert set((stops - starts)[whole]) == {7}, "one-week flights last seven days"
    assert np.min(starts[1:] - stops[:-1]) >= 7, "at least a week off between flights"


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("geometric", {"alpha": 0.5}),
        ("geometric", {"alpha": 0.2}),
        ("delayed", {"alpha": 0.5, "theta": 1.5}),
        ("weibull_cdf", {"shape": 2.0, "scale": 0.2}),
        ("weibull_pdf", {"shape": 2.0, "scale": 0.3}),
    ],
)
def test_daily_adstock_carries_over_as_long_in_time(name, params):
    daily, ratio = daily_adstock(name, params, 8)
    weekly_w = np.asarray(adstock_weights(name, params, 8, normalize=False))
    daily_w = np.asarray(adstock_weights(name, daily, 56, normalize=False))
    if name == "geometric":
        half_life = np.log(0.5) / np.log(params["alpha"])
        assert np.log(0.5) / np.log(daily["alpha"]) == pytest.approx(7 * half_life)
    if name in ("geometric", "delayed"):
        np.testing.assert_allclose(daily_w[::7], weekly_w, rtol=1e-9, atol=1e-12)
        assert ratio == 1.0, "normalised weights: the saturation point stays put"
    if name == "weibull_cdf":
        assert daily_w[7] == pytest.approx(weekly_w[1]), "the weight a week after spend"
    if name == "weibull_pdf":
        lam = 1 + params["scale"] * 7
        assert 1 + daily["scale"] * 55 == pytest.approx(7 * lam), "Weibull scale in lags × 7"
    if name.startswith("weibull"):
        assert ratio == pytest.approx(daily_w.sum() / weekly_w.sum()) and ratio > 1


def test_a_weibull_saturation_point_moves_with_the_larger_daily_adstock():
    world = PRESETS["small_business"]()
    raw = world.model_dump()
    raw["channels"][0] |= {"adstock": "weibull_pdf", "adstock_params": {"shape": 2, "scale": 0.3}}
    daily = as_daily(type(world).model_validate(raw))
    _, ratio = daily_adstock("weibull_pdf", {"shape": 2, "scale": 0.3}, 8)
    half = raw["channels"][0]["saturation_params"]["half_saturation"]
    assert daily.channels[0].saturation_params["half_saturation"] == pytest.approx(half * ratio)


def test_daily_world_has_the_weekly_totals_and_roas():
    """Same seeds: total spend and media contribution per channel agree within sampling noise,
    ROAS is the preset's, and a week of daily noise has the weekly noise's sd."""
    weekly = [simulate("small_business", s) for s in SEEDS]
    daily = [simulate("small_business", s, frequency="daily") for s in SEEDS]
    roas = np.array([c.roas for c in PRESETS["small_business"]().channels])
    for (_, w), (_, d) in zip(weekly, daily, strict=True):
        np.testing.assert_allclose(d.roas, roas, rtol=1e-9)
        np.testing.assert_allclose(w.roas, roas, rtol=1e-9)
    for totals in (
        lambda pair: pair[0].spend.sum(axis=(0, 1)),
        lambda pair: pair[1].contributions.sum(axis=(0, 1)),
    ):
        w = np.array([totals(p) for p in weekly])
        d = np.array([totals(p) for p in daily])
        se = np.sqrt((w.var(axis=0, ddof=1) + d.var(axis=0, ddof=1)) / len(SEEDS))
        assert np.all(np.abs(d.mean(axis=0) - w.mean(axis=0)) < 4 * se), (w.mean(0), d.mean(0))
    week_noise = np.concatenate([d.noise[:, 0].reshape(-1, 7).sum(axis=1) for _, d in daily])
    weekly_noise = np.concatenate([w.noise[:, 0] for _, w in weekly])
    assert week_noise.std() / weekly_noise.std() == pytest.approx(1.0, abs=0.15)


def test_daily_worlds_have_a_weekday_cycle_that_weeks_sum_away():
    world = as_daily(PRESETS["small_business"](), weekday_amplitude=0.2, weekday_peak=5)
    flat = as_daily(PRESETS["small_business"](), weekday_amplitude=0.0)
    dataset, truth = simulate(world, 1)
    _, plain = simulate(flat, 1)
    cycle = (truth.baseline["seasonality"] - plain.baseline["seasonality"])[:, 0]
    level = world.base_sales
    assert cycle.max() == pytest.approx(0.2 * level, rel=0.05)
    assert set(dataset.dates[cycle > 0.19 * level].day_of_week) == {5}, "peaks on Saturdays"
    np.testing.assert_allclose(cycle.reshape(-1, 7).sum(axis=1), 0.0, atol=1e-6 * level)
    assert world.model_config_of().weekly_seasonality >= 1, "the model can express it"


def test_daily_reruns_are_byte_identical(tmp_path):
    def digest(folder):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}

    first = write_simulation(*simulate("small_business", 5, frequency="daily"), tmp_path / "a")
    again = write_simulation(*simulate("small_business", 5, frequency="daily"), tmp_path / "b")
    assert digest(first["data"].parent) == digest(again["data"].parent)


def test_daily_errors_say_what_to_do():
    daily = as_daily(PRESETS["small_business"]())
    with pytest.raises(ValueError, match="already daily"):
        as_daily(daily)
    with pytest.raises(ValueError, match="small_business"):
        simulate("confounded", 0, frequency="daily")
    with pytest.raises(ValueError, match="aggregate"):
        simulate(daily, 0, frequency="weekly")
    long = PRESETS["small_business"]().model_copy(update={"l_max": 20})
    with pytest.raises(ValueError, match="l_max"):
        as_daily(long)
    with pytest.raises(ValueError, match="weekday_amplitude needs daily data"):
        type(daily).model_validate(
            PRESETS["small_business"]().model_dump() | {"weekday_amplitude": 0.1}
        )
    with pytest.raises(ValueError, match="beyond the 56-day window"):
        daily_adstock("weibull_cdf", {"shape": 0.8, "scale": 0.3}, 8)
