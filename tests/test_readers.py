"""Tests of the wide and MFF readers: round trips, one test per invalid input, real files."""

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from mmmlab import datasets
from mmmlab.data import (
    ColumnMap,
    DataFileError,
    DatasetError,
    MffMap,
    dataset_from_frame,
    read_dataset,
    read_mff,
)

REPO = Path(__file__).resolve().parents[1]
T = 16
COLUMNS = ColumnMap(
    date="date",
    target="sales",
    spend=["tv", "radio"],
    exposure={"tv": "tv_imps"},
    controls=["price"],
    categorical_controls=["season"],
)


def wide_frame(geos: tuple[str, ...] = ()) -> pd.DataFrame:
    """Weekly data from 2021-01-04, national (no geos) or one block of rows per geo."""
    rng = np.random.default_rng(1)
    parts = []
    for g, geo in enumerate(geos or ("",)):
        part = pd.DataFrame(
            {
                "date": pd.date_range("2021-01-04", periods=T, freq="7D").strftime("%Y-%m-%d"),
                "sales": np.round(rng.uniform(100, 200, T), 2),
                "tv": np.round(rng.uniform(0, 50, T), 2),
                "radio": np.round(rng.uniform(0, 5, T), 2),
                "tv_imps": np.round(rng.uniform(1e3, 1e4, T)),
                "price": np.round(rng.uniform(9, 11, T), 2),
                "season": ["peak" if i % 4 == 0 else "base" for i in range(T)],
            }
        )
        if geo:
            part.insert(1, "region", geo)
            part["people"] = 1000.0 * (g + 1)
        parts.append(part)
    return pd.concat(parts, ignore_index=True).astype(object)


def write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


PANEL = COLUMNS.model_copy(update={"geo": "region", "population": "people"})


# --------------------------------------------------------------------------- wide files
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_reads_national_file_in_any_row_order(tmp_path, suffix):
    frame = wide_frame()
    path = write(frame.sample(frac=1, random_state=3), tmp_path / f"shop{suffix}")
    before = digest(path)
    path.chmod(0o444)
    ds = read_dataset(path, COLUMNS)
    assert digest(path) == before == ds.source["sha256"]
    assert ds.name == "shop" and ds.frequency == "weekly" and ds.geos == ("national",)
    assert ds.channels == ("tv", "radio")
    assert ds.control_names == ("price", "season=peak")  # base is the most frequent level
    assert ds.source["reference_levels"] == {"season": "base"}
    np.testing.assert_allclose(ds.target[:, 0], frame["sales"].astype(float))
    np.testing.assert_allclose(ds.spend[:, 0, 0], frame["tv"].astype(float))
    np.testing.assert_allclose(ds.exposure[:, 0, 0], frame["tv_imps"].astype(float))
    np.testing.assert_allclose(ds.exposure[:, 0, 1], ds.spend[:, 0, 1])  # radio: no exposure
    np.testing.assert_array_equal(ds.controls[:, 0, 1], frame["season"].eq("peak").astype(float))


def test_csv_and_parquet_give_the_same_dataset(tmp_path):
    frame = wide_frame(("north", "south"))
    a = read_dataset(write(frame, tmp_path / "a.csv"), PANEL)
    b = read_dataset(write(frame, tmp_path / "b.parquet"), PANEL)
    assert a.fingerprint == b.fingerprint


def test_reads_geo_panel(tmp_path):
    frame = wide_frame(("south", "north"))
    ds = read_dataset(write(frame.iloc[::-1], tmp_path / "panel.csv"), PANEL, name="p")
    assert ds.geos == ("north", "south") and ds.n_time == T and ds.name == "p"
    np.testing.assert_array_equal(ds.population, [2000.0, 1000.0])
    north = frame[frame["region"] == "north"]
    np.testing.assert_allclose(ds.target[:, 0], north["sales"].astype(float))
    np.testing.assert_allclose(ds.spend[:, 0, 1], north["radio"].astype(float))


def test_fill_missing_spend_zero(tmp_path):
    frame = wide_frame()
    frame.loc[4, "radio"] = ""
    path = write(frame, tmp_path / "gaps.csv")
    with pytest.raises(DataFileError, match=r"column 'radio', line 6: missing spend"):
        read_dataset(path, COLUMNS)
    with pytest.warns(UserWarning, match=r"column 'radio'.*1 missing spend value.*line 6"):
        ds = read_dataset(path, COLUMNS, fill_missing_spend="zero")
    assert ds.spend[4, 0, 1] == 0.0


def test_all_zero_channel_warns(tmp_path):
    frame = wide_frame()
    frame["radio"] = 0
    with pytest.warns(UserWarning, match=r"column 'radio'.*channel 'radio' has zero spend"):
        ds = read_dataset(write(frame, tmp_path / "zero.csv"), COLUMNS)
    assert ds.spend[:, 0, 1].sum() == 0


def test_spend_as_mapping_and_dates_with_format(tmp_path):
    frame = wide_frame()
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%d/%m/%Y")
    columns = ColumnMap(date="date", target="sales", spend={"TV": "tv"}, date_format="%d/%m/%Y")
    ds = read_dataset(write(frame, tmp_path / "eu.csv"), columns)
    assert ds.channels == ("TV",) and ds.dates[1] == pd.Timestamp("2021-01-11")
    assert ds.exposure is None and ds.n_controls == 0


def test_in_memory_frame_counts_rows_from_one():
    frame = wide_frame()
    frame["date"] = pd.to_datetime(frame["date"])
    frame["tv"] = frame["tv"].astype(float)
    ds = dataset_from_frame(frame, COLUMNS)
    assert ds.n_time == T and ds.source["path"] == "<DataFrame>"
    frame.loc[2, "tv"] = -1.0
    with pytest.raises(DataFileError, match=r"<DataFrame>, column 'tv', row 3: negative"):
        dataset_from_frame(frame, COLUMNS)


# ----------------------------------------------------------------- invalid wide inputs
def _set(column, row, value):
    def mutate(frame):
        frame.loc[row, column] = value
        return frame

    return mutate


INVALID = {
    "missing column": (
        lambda f: f,
        {"target": "sale"},
        ["column 'sale'", "line 1", "date, sales, tv", "Did you mean 'sales'"],
    ),
    "non-numeric": (_set("tv", 3, "12abc"), {}, ["column 'tv'", "line 5", "'12abc'"]),
    "missing spend": (_set("radio", 4, ""), {}, ["column 'radio'", "line 6", "missing spend"]),
    "missing target": (_set("sales", 2, ""), {}, ["column 'sales'", "line 4", "missing target"]),
    "missing control": (_set("price", 7, "NA"), {}, ["column 'price'", "line 9", "missing"]),
    "missing category": (_set("season", 7, ""), {}, ["column 'season'", "line 9", "missing"]),
    "negative spend": (_set("tv", 5, -3), {}, ["column 'tv'", "line 7", "negative spend -3"]),
    "negative exposure": (
        _set("tv_imps", 6, -1),
        {},
        ["column 'tv_imps'", "line 8", "negative exposure"],
    ),
    "bad date": (_set("date", 8, "2021-13-45"), {}, ["column 'date'", "line 10", "2021-13-45"]),
    "duplicate date": (
        _set("date", 9, "2021-03-01"),
        {},
        ["column 'date'", "line 11", "duplicate date 2021-03-01", "line 10"],
    ),
    "gap": (
        lambda f: f.drop(index=6),
        {},
        ["column 'date'", "line 8", "2021-02-08 is followed by 2021-02-22"],
    ),
    "too few rows": (lambda f: f.head(8), {}, ["column 'date'", "lines 2-9", "only 8"]),
    "constant target": (_set("sales", slice(None), 5), {}, ["column 'sales'", "constant"]),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_wide_input_names_file_column_and_row(tmp_path, case):
    mutate, overrides, fragments = INVALID[case]
    path = write(mutate(wide_frame()), tmp_path / "bad.csv")
    before = digest(path)
    columns = COLUMNS.model_copy(update=overrides)
    with pytest.raises(DataFileError) as caught:
        read_dataset(path, columns)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    for fragment in fragments:
        assert fragment in message, message
    assert digest(path) == before


PANEL_INVALID = {
    "duplicate per geo": (
        _set("date", 17, "2021-01-04"),
        ["column 'date'", "line 19", "duplicate date 2021-01-04 for geo 'south'"],
    ),
    "geo lacks a date": (
        lambda f: f.drop(index=20),
        ["column 'region'", "line 6", "geo 'south' has no row for 2021-02-01"],
    ),
    "constant per geo": (
        _set("sales", slice(16, 31), 7),
        ["column 'sales'", "lines 18-33", "for geo 'south'"],
    ),
    "population varies": (
        _set("people", 20, 5),
        ["column 'people'", "line 22", "population of geo 'south'"],
    ),
}


@pytest.mark.parametrize("case", list(PANEL_INVALID))
def test_invalid_panel_names_file_column_and_row(tmp_path, case):
    mutate, fragments = PANEL_INVALID[case]
    path = write(mutate(wide_frame(("north", "south"))), tmp_path / "panel.csv")
    with pytest.raises(DataFileError) as caught:
        read_dataset(path, PANEL)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    for fragment in fragments:
        assert fragment in message, message


def test_parquet_errors_count_rows_from_one(tmp_path):
    frame = wide_frame()
    frame["tv"] = frame["tv"].astype(float)
    frame.loc[5, "tv"] = -3.0
    path = write(frame, tmp_path / "bad.parquet")
    with pytest.raises(DataFileError, match=r"bad\.parquet, column 'tv', row 6: negative spend"):
        read_dataset(path, COLUMNS)


def test_unknown_extension_and_missing_file(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"x")
    with pytest.raises(DatasetError, match=r"data\.xlsx: unknown file type '\.xlsx'"):
        read_dataset(path, COLUMNS)
    with pytest.raises(DatasetError, match="file not found"):
        read_dataset(tmp_path / "none.csv", COLUMNS)


# --------------------------------------------------------------------------- column map
def test_column_map_rejects_unknown_keys_and_role_clashes(tmp_path):
    with pytest.raises(ValidationError, match="spendd"):
        ColumnMap(date="d", target="y", spend=["tv"], spendd=["x"])
    with pytest.raises(ValidationError, match="not spend channels"):
        ColumnMap(date="d", target="y", spend=["tv"], exposure={"radio": "radio_imps"})
    with pytest.raises(ValidationError, match="used twice"):
        ColumnMap(date="d", target="y", spend=["tv", "y"])
    path = tmp_path / "map.yaml"
    path.write_text("date: d\ntarget: y\nspend: [tv]\ncontrol: [price]\n")
    with pytest.raises(DatasetError, match=r"map\.yaml: unknown key 'control'"):
        ColumnMap.from_yaml(path)
    path.write_text("date: d\nspend: [tv]\n")
    with pytest.raises(DatasetError, match=r"map\.yaml: key 'target' is required"):
        ColumnMap.from_yaml(path)


# ---------------------------------------------------------------------------------- MFF
def mff_frame(geos: tuple[str, ...] = ("-",)) -> pd.DataFrame:
    """Long rows: sales, tv spend and impressions split by Outlet, and a price control."""
    rows = []
    for i, period in enumerate(pd.date_range("2021-01-04", periods=T, freq="7D")):
        for g, geo in enumerate(geos):
            base = {"Period": period.strftime("%Y-%m-%d"), "Geography": geo, "Product": "-"}
            base |= {"Campaign": "-", "Outlet": "-", "Creative": "-"}
            rows.append(base | {"VariableName": "sales", "VariableValue": 100 + i + g})
            rows.append(base | {"VariableName": "price", "VariableValue": 5 + i % 3})
            for o, outlet in enumerate(("Linear", "BVOD")):
                media = base | {"Outlet": outlet}
                rows.append(media | {"VariableName": "tv_spend", "VariableValue": 10 + i + o})
                rows.append(media | {"VariableName": "tv_imps", "VariableValue": 1e3 * (i + 1)})
    return pd.DataFrame(rows).astype(object)


MFF = MffMap(
    target="sales", spend={"tv": "tv_spend"}, exposure={"tv": "tv_imps"}, controls=["price"]
)


def test_mff_national_sums_levels(tmp_path):
    path = write(mff_frame(), tmp_path / "mff.csv")
    before = digest(path)
    ds = read_mff(path, MFF)
    assert digest(path) == before
    assert ds.geos == ("national",) and ds.channels == ("tv",) and ds.control_names == ("price",)
    np.testing.assert_allclose(ds.spend[:, 0, 0], 2 * (10 + np.arange(T)) + 1)
    np.testing.assert_allclose(ds.exposure[:, 0, 0], 2e3 * (np.arange(T) + 1))
    np.testing.assert_allclose(ds.target[:, 0], 100 + np.arange(T))
    assert ds.source["format"] == "mff" and ds.source["mff_map"]["target"] == "sales"


def test_mff_channel_levels_and_geos(tmp_path):
    path = write(mff_frame(("west", "east")).sample(frac=1, random_state=0), tmp_path / "m.parquet")
    split = MFF.model_copy(update={"channel_levels": ["Outlet"]})
    ds = read_mff(path, split)
    assert ds.geos == ("east", "west") and ds.channels == ("tv/BVOD", "tv/Linear")
    np.testing.assert_allclose(ds.spend[:, 0, 0], 11 + np.arange(T))
    np.testing.assert_allclose(ds.target[:, 0], 101 + np.arange(T))
    national = read_mff(path, MFF.model_copy(update={"geos": "sum"}))
    np.testing.assert_allclose(national.target[:, 0], 201 + 2 * np.arange(T))
    np.testing.assert_allclose(national.controls[:, 0, 0], 5 + np.arange(T) % 3)  # mean


def test_mff_missing_spend_period(tmp_path):
    frame = mff_frame()
    frame = frame.drop(index=frame.index[(frame["VariableName"] == "tv_spend")][4:6])
    path = write(frame, tmp_path / "holes.csv")
    with pytest.raises(DataFileError) as caught:
        read_mff(path, MFF)
    message = str(caught.value)
    for fragment in ("holes.csv", "VariableName 'tv_spend'", "line 14", "Period 2021-01-18"):
        assert fragment in message, message
    with pytest.warns(UserWarning, match="1 period"):
        ds = read_mff(path, MFF, fill_missing_spend="zero")
    assert ds.spend[2, 0, 0] == 0


MFF_INVALID = {
    "unknown variable": (
        lambda f: f,
        {"target": "sale"},
        ["column 'VariableName'", "'sale'", "Did you mean 'sales'"],
    ),
    "missing MFF column": (lambda f: f.drop(columns="Outlet"), {}, ["column 'Outlet'", "line 1"]),
    "non-numeric": (_set("VariableValue", 5, "1.2.3"), {}, ["column 'VariableValue'", "line 7"]),
    "negative spend": (
        _set("VariableValue", 2, -4),
        {},
        ["column 'VariableValue' (VariableName 'tv_spend')", "line 4", "negative spend"],
    ),
    "missing target": (
        _set("VariableValue", 6, ""),
        {},
        ["(VariableName 'sales')", "line 8", "missing target"],
    ),
    "bad period": (_set("Period", 9, "someday"), {}, ["column 'Period'", "line 11", "someday"]),
}


@pytest.mark.parametrize("case", list(MFF_INVALID))
def test_invalid_mff_names_file_column_and_row(tmp_path, case):
    mutate, overrides, fragments = MFF_INVALID[case]
    path = write(mutate(mff_frame()), tmp_path / "bad_mff.csv")
    with pytest.raises(DataFileError) as caught:
        read_mff(path, MFF.model_copy(update=overrides))
    message = str(caught.value)
    assert message.startswith(str(path)), message
    for fragment in fragments:
        assert fragment in message, message


def test_mff_map_rejects_unknown_keys():
    with pytest.raises(ValidationError, match="outlet"):
        MffMap(target="sales", spend=["tv"], outlet=True)
    with pytest.raises(ValidationError, match="both target and spend"):
        MffMap(target="sales", spend=["sales"])


# ------------------------------------------------------------------- public data files
def test_robyn_simulated_weekly():
    path = datasets.path("robyn_simulated")
    ds = read_dataset(path, ColumnMap.from_yaml(REPO / "examples" / "robyn_columns.yaml"))
    raw = pd.read_csv(path)
    assert (ds.n_time, ds.frequency) == (208, "weekly")
    assert ds.dates[0] == pd.Timestamp("2015-11-23") and ds.dates[-1] == pd.Timestamp("2019-11-11")
    assert ds.channels == ("tv_S", "ooh_S", "print_S", "search_S", "facebook_S")
    assert ds.control_names == (
        "competitor_sales_B",
        "newsletter",
        "events=event1",
        "events=event2",
    )
    np.testing.assert_allclose(ds.exposure[:, 0, 4], raw["facebook_I"])
    np.testing.assert_allclose(ds.exposure[:, 0, 3], raw["search_clicks_P"])
    np.testing.assert_allclose(ds.exposure[:, 0, 0], raw["tv_S"])
    np.testing.assert_allclose(ds.target[:, 0], raw["revenue"])


def test_meridian_national_all_channels():
    path = datasets.path("meridian_national")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = read_dataset(path, ColumnMap.from_yaml(REPO / "examples" / "meridian_columns.yaml"))
    raw = pd.read_csv(path)
    assert (ds.n_time, ds.n_channels, ds.frequency) == (156, 5, "weekly")
    assert ds.control_names == ("competitor_sales_control", "sentiment_score_control", "Promo")
    np.testing.assert_allclose(ds.spend[:, 0, 2], raw["Channel2_spend"])
    np.testing.assert_allclose(ds.exposure[:, 0, 2], raw["Channel2_impression"])
    np.testing.assert_allclose(ds.target[:, 0], raw["conversions"])
