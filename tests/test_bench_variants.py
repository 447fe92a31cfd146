"""Configuration dimensions: every value of every dimension changes what is fitted, and a
value that cannot apply or would change nothing is skipped with the reason — never a no-op."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mmmlab.bench.grid.cells import expand, expand_variants
from mmmlab.bench.grid.spec import SpecError, parse_spec
from mmmlab.bench.grid.variants import (
    NotApplicable,
    apply_data,
    data_option,
    exposure_channels,
    split_option,
)
from mmmlab.bench.run.fit_cell import fit_inputs
from mmmlab.data import ColumnMap, read_dataset

DAYS = 2 * 365 + 10


@pytest.fixture(scope="module")
def daily_file(tmp_path_factory):
    """Two years and ten days of daily data: tv (spend and GRPs), search (spend and clicks),
    radio (spend only)."""
    rng = np.random.default_rng(0)
    dates = pd.date_range("2022-01-03", periods=DAYS, freq="D")
    day = np.arange(DAYS)
    tv = rng.gamma(4.0, 25.0, DAYS)
    search = rng.gamma(6.0, 10.0, DAYS)
    clicks = search / rng.lognormal(0.0, 0.3, DAYS) * 2.0  # CPC varies day to day
    grps = tv / rng.lognormal(0.0, 0.2, DAYS) / 10.0
    radio = rng.gamma(3.0, 10.0, DAYS)
    y = 1000 + 80 * np.sin(2 * np.pi * day / 365.25) + 0.5 * tv + 2.0 * search + radio
    y = y + rng.normal(0, 20, DAYS)
    frame = pd.DataFrame(
        {
            "date": dates,
            "sales": y,
            "tv": tv,
            "tv_grps": grps,
            "search": search,
            "search_clicks": clicks,
            "radio": radio,
        }
    )
    path = tmp_path_factory.mktemp("variants") / "daily.csv"
    frame.to_csv(path, index=False)
    return path


COLUMNS = {
    "date": "date",
    "target": "sales",
    "spend": ["tv", "search", "radio"],
    "exposure": {"tv": "tv_grps", "search": "search_clicks"},
}


@pytest.fixture(scope="module")
def daily(daily_file):
    return read_dataset(daily_file, ColumnMap(**COLUMNS), name="daily")


def _spec(daily_file, dimensions: dict, mode: str = "one_at_a_time") -> dict:
    return {
        "name": "variants",
        "datasets": [{"file": str(daily_file), "columns": COLUMNS, "name": "shop"}],
        "models": [{"name": "mmm", "params": {"l_max": 4}}],
        "variants": {"mode": mode, "dimensions": dimensions},
        "seeds": 1,
        "split": {"train": 0.8},
    }


DIMENSIONS = {
    "adstock": ["geometric", "weibull_cdf", "weibull_pdf"],
    "media_variable": [
        "spend_to_spend",
        "spend_to_exposure",
        {"funnel": {"tv": "upper", "search": "lower"}},
    ],
    "split": ["80/0/20", "70/20/10", {"train": 0.6, "validation": 0.2}],
    "time_aggregation": ["daily", "weekly", "monthly"],
    "seasonality_window": ["aligned", "extended", {"mode": "extended", "history": 200}],
}


def _fitted(cell) -> tuple:
    """What a cell fits: the training data's content and the model's structure."""
    from mmmlab.models import ModelConfig
    from mmmlab.models.mmm import bind

    (train, validation, _), _ = fit_inputs(cell)
    structure = bind(train, ModelConfig(**cell.params))[1]
    n_val = 0 if validation is None else validation.n_time
    return train.fingerprint, structure.key, n_val


@pytest.mark.parametrize("dimension", list(DIMENSIONS))
def test_every_value_of_a_dimension_changes_what_is_fitted(daily_file, dimension):
    spec = parse_spec(_spec(daily_file, {dimension: DIMENSIONS[dimension]}))
    cells = expand(spec)
    assert len(cells) == len(DIMENSIONS[dimension])
    fitted = [_fitted(c) for c in cells]
    assert len(set(fitted)) == len(fitted), f"a {dimension} value changed nothing: {fitted}"


def test_data_dimensions_do_what_they_say(daily):
    assert exposure_channels(daily) == ["tv", "search"]
    spend_only = apply_data(daily, {"media_variable": "spend_to_spend"}, {"train": 0.8})
    assert spend_only.exposure is None
    np.testing.assert_array_equal(spend_only.media, daily.spend)
    _, data = data_option("media_variable", {"funnel": {"tv": "lower", "search": "upper"}})
    mixed = apply_data(daily, data, {"train": 0.8})
    np.testing.assert_array_equal(mixed.media[..., 0], daily.spend[..., 0])
    np.testing.assert_array_equal(mixed.media[..., 1], daily.exposure[..., 1])
    np.testing.assert_array_equal(mixed.media[..., 2], daily.spend[..., 2])
    weekly = apply_data(daily, {"time_aggregation": "weekly"}, {"train": 0.8})
    assert (
        weekly.frequency == "weekly" and weekly.n_time == DAYS // 7
    )  # from a Monday: 105 whole weeks
    assert weekly.spend.sum() == pytest.approx(daily.spend.sum(), rel=0.02)
    _, data = data_option("seasonality_window", "extended")
    extended = apply_data(daily, data, {"train": 0.8})
    assert extended.n_time == DAYS - 365 and extended.control_names[-1] == "seasonality"
    season = extended.controls[:, 0, -1]
    assert np.corrcoef(season, extended.target[:, 0])[0, 1] > 0.5


def test_seasonality_control_never_sees_the_test_window(daily):
    """Changing the target after the training window leaves the control unchanged."""
    _, data = data_option("seasonality_window", "extended")
    a = apply_data(daily, data, {"train": 0.7})
    from dataclasses import replace

    target = daily.target.copy()
    target[-100:] += 5000.0  # within the test window (the last 30% of the modelling window)
    b = apply_data(replace(daily, target=target), data, {"train": 0.7})
    np.testing.assert_allclose(a.controls[..., -1], b.controls[..., -1])


def test_a_variant_that_cannot_apply_or_changes_nothing_is_skipped(daily_file, daily):
    weekly = daily.aggregate("W")
    with pytest.raises(NotApplicable, match="needs daily or finer data"):
        apply_data(weekly, {"time_aggregation": "daily"}, {"train": 0.8})
    no_exposure = apply_data(daily, {"media_variable": "spend_to_spend"}, {"train": 0.8})
    with pytest.raises(NotApplicable, match="no exposure"):
        apply_data(no_exposure, {"media_variable": "spend_to_exposure"}, {"train": 0.8})
    # A file with no exposure columns: spend_to_exposure is skipped, not a silent copy.
    spec = parse_spec(
        _spec(daily_file, {"media_variable": ["spend_to_spend", "spend_to_exposure"]})
        | {
            "datasets": [
                {"file": str(daily_file), "name": "plain"} | {"columns": COLUMNS | {"exposure": {}}}
            ]
        }
    )
    cells = expand(spec)
    with pytest.raises(NotApplicable, match="no exposure"):
        fit_inputs(cells[1])
    # Data already weekly: the "weekly" value equals the base "daily"-less data -> skipped.
    spec = parse_spec(_spec(daily_file, {"time_aggregation": ["daily", "weekly"]}))
    cell = replace(
        expand(spec)[1],
        data_base={"time_aggregation": "weekly"},
        data={"time_aggregation": "weekly", "media_variable": "spend_to_exposure"},
    )
    with pytest.raises(NotApplicable, match="unchanged"):
        fit_inputs(cell)


def test_bad_dimension_values_are_spec_errors_naming_the_dimension(daily_file):
    bad = {
        "media_variable": ["spend_to_spend", "spend_to_impressions"],
        "time_aggregation": ["weekly", "quarterly"],
        "seasonality_window": ["aligned", {"mode": "extended", "histroy": 10}],
        "split": ["70/20/5"],
    }
    for dim, values in bad.items():
        with pytest.raises(SpecError, match=dim):
            expand_variants(parse_spec(_spec(daily_file, {dim: values})))
    assert split_option("70/20/10") == ("70/20/10", {"train": 0.7, "validation": 0.2})
    with pytest.raises(SpecError, match="funnel"):
        data_option("media_variable", {"funnel": {"tv": "middle"}})


def test_cartesian_mode_combines_data_model_and_split_dimensions(daily_file):
    spec = parse_spec(
        _spec(
            daily_file,
            {
                "adstock": ["geometric", "weibull_pdf"],
                "split": ["80/0/20", "70/20/10"],
                "time_aggregation": ["daily", "weekly"],
            },
            mode="cartesian",
        )
    )
    variants = expand_variants(spec)
    assert len(variants) == 8
    assert len({repr((v.model, v.split, v.data)) for v in variants}) == 8
