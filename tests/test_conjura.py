"""Tests of the Conjura-schema reader on real files written to tmp_path."""

import hashlib
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conjura_sample import OTHER_TERRITORY, SPEND_COLUMNS, write_conjura_sample
from mmmlab.data.conjura import organisations, read_conjura
from mmmlab.data.dataset import DatasetError
from mmmlab.data.validation import DataFileError

ALL = "All Territories"


def text(path: Path) -> pd.DataFrame:
    """The CSV's cells exactly as written; frame row i is file line i + 2."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def rewrite(path: Path, edit, name: str = "edited.csv") -> Path:
    """A copy of the CSV at `path` with `edit(frame)` applied (the original is left alone)."""
    frame = text(path)
    edited = edit(frame)
    frame = frame if edited is None else edited
    target = path.with_name(name)
    frame.to_csv(target, index=False)
    return target


def rows_of(path: Path, territory: str = ALL) -> pd.DataFrame:
    """The file's numbers for one territory, parsed independently of the reader."""
    frame = pd.read_csv(path, dtype={"organisation_id": str}, parse_dates=["date_day"])
    return frame[frame["territory_name"] == territory].sort_values(["organisation_id", "date_day"])


def ranked_ids(path: Path) -> list[str]:
    days = rows_of(path).groupby("organisation_id")["date_day"].nunique()
    return sorted(days.index, key=lambda org: (-days[org], org))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def at(frame: pd.DataFrame, org: str, day: int) -> int:
    """Frame row of `org`'s All Territories row on its `day`-th date (0-based)."""
    mine = frame[(frame["organisation_id"] == org) & (frame["territory_name"] == ALL)]
    return int(mine.index[day])


@pytest.fixture
def sample(tmp_path) -> Path:
    return write_conjura_sample(tmp_path / "conjura.csv")


def read_quiet(path: Path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return read_conjura(path, **kwargs)


def test_picks_the_organisations_with_most_days(sample):
    ranked = ranked_ids(sample)
    days = rows_of(sample).groupby("organisation_id")["date_day"].nunique()
    two = read_conjura(sample, n_organisations=2)
    assert [d.source["organisation_id"] for d in two] == ranked[:2]
    for d in two:
        org = d.source["organisation_id"]
        assert d.name == f"org_{org}"
        assert (d.n_time, d.geos, d.channels, d.frequency) == (
            days[org],
            (ALL,),
            ("spend",),
            "daily",
        )
        assert d.spend.shape == (d.n_time, 1, 1) and d.target.shape == (d.n_time, 1)
        assert d.n_controls == 0
        assert d.source["file"] == str(sample) and d.source["schema"] == "conjura"
    every = read_quiet(sample)
    assert [d.source["organisation_id"] for d in every] == ranked
    listing = organisations(sample)
    assert listing["organisation_id"].tolist() == ranked
    assert listing["n_days"].tolist() == [days[org] for org in ranked]


def test_ties_go_to_the_smaller_organisation_id(sample):
    first, second = ranked_ids(sample)[:2]  # 120 and 105 days: cut the first to 105

    def cut(frame):
        late = (frame["organisation_id"] == first) & (frame["date_day"] > "2023-04-16")
        return frame[~late]

    tied = rewrite(sample, cut)
    assert organisations(tied)["n_days"].tolist()[:2] == [105, 105]
    picked = read_conjura(tied, n_organisations=1)
    assert picked[0].source["organisation_id"] == min(first, second)


def test_other_territories_never_leak(sample):
    reference, country = rows_of(sample), rows_of(sample, OTHER_TERRITORY)

    def spoil_country_rows(frame):
        uk = frame.index[frame["territory_name"] == OTHER_TERRITORY]
        frame.loc[uk[0], "all_purchases"] = "lots"
        frame.loc[uk[1], "tiktok_spend"] = "-50"

    spoiled = rewrite(sample, spoil_country_rows)
    for d in read_quiet(spoiled, sum_channels=False):
        org = d.source["organisation_id"]
        mine = reference[reference["organisation_id"] == org]
        theirs = country[country["organisation_id"] == org]
        spend = mine[list(SPEND_COLUMNS)].fillna(0.0).to_numpy()
        np.testing.assert_array_equal(d.spend[:, 0, :], spend)
        np.testing.assert_array_equal(d.target[:, 0], mine["all_purchases"].to_numpy())
        assert not np.allclose(d.target[:, 0], theirs["all_purchases"].to_numpy())
    uk = read_quiet(sample, territory=OTHER_TERRITORY)
    for d in uk:
        org = d.source["organisation_id"]
        theirs = country[country["organisation_id"] == org]
        assert d.geos == (OTHER_TERRITORY,)
        np.testing.assert_allclose(
            d.spend[:, 0, 0], theirs[list(SPEND_COLUMNS)].fillna(0.0).sum(axis=1).to_numpy()
        )
        np.testing.assert_array_equal(d.target[:, 0], theirs["all_purchases"].to_numpy())


def test_sum_channels_or_one_channel_per_column(sample):
    summed = read_quiet(sample)
    split = read_quiet(sample, sum_channels=False)
    for one, many in zip(summed, split, strict=True):
        assert one.channels == ("spend",)
        assert many.channels == ("google_paid_search", "meta_facebook", "tiktok")
        np.testing.assert_allclose(one.spend[..., 0], many.spend.sum(axis=-1))
        np.testing.assert_array_equal(one.target, many.target)


def test_blank_spend_cells_read_as_zero(sample):
    frame = text(sample)
    blank = frame[(frame["territory_name"] == ALL) & (frame["meta_facebook_spend"] == "")]
    assert len(blank) > 0
    org, day = blank.iloc[0][["organisation_id", "date_day"]]
    no_tiktok = frame[(frame["tiktok_spend"] == "")]["organisation_id"].iloc[0]
    with pytest.warns(UserWarning, match=rf"'{no_tiktok}' has zero spend on every day in tiktok"):
        (d,) = read_conjura(sample, organisations=[org, no_tiktok], sum_channels=False)[:1]
    t = d.dates.get_loc(pd.Timestamp(day))
    assert d.spend[t, 0, d.channels.index("meta_facebook")] == 0.0
    assert np.isfinite(d.spend).all()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_input_file_is_only_read(tmp_path, suffix):
    path = write_conjura_sample(tmp_path / f"conjura{suffix}")
    before = digest(path)
    datasets = read_quiet(path, n_organisations=2)
    organisations(path)
    assert digest(path) == before
    assert datasets[0].source["sha256"] == before


def test_parquet_reads_like_csv(tmp_path):
    csv = read_quiet(write_conjura_sample(tmp_path / "conjura.csv"), sum_channels=False)
    parquet = read_quiet(write_conjura_sample(tmp_path / "conjura.parquet"), sum_channels=False)
    assert [d.fingerprint for d in csv] == [d.fingerprint for d in parquet]


def test_rows_may_come_in_any_order(sample):
    shuffled = rewrite(sample, lambda frame: frame.sample(frac=1.0, random_state=3))
    assert [d.fingerprint for d in read_quiet(shuffled)] == [
        d.fingerprint for d in read_quiet(sample)
    ]


def drop_target(frame):
    return frame.drop(columns="all_purchases"), r"column 'all_purchases', line 1: not a Conjura"


def drop_spend(frame):
    return frame.drop(columns=list(SPEND_COLUMNS)), r"missing column\(s\) <channel>_spend"


def text_in_spend(frame):
    i = at(frame, frame["organisation_id"].iloc[0], 2)
    frame.loc[i, "meta_facebook_spend"] = "12,50"
    return frame, rf"column 'meta_facebook_spend', line {i + 2}: non-numeric value '12,50'"


def text_in_target(frame):
    i = at(frame, frame["organisation_id"].iloc[0], 5)
    frame.loc[i, "all_purchases"] = "n.a."
    return frame, rf"column 'all_purchases', line {i + 2}: non-numeric value 'n.a.'"


def negative_spend(frame):
    i = at(frame, frame["organisation_id"].iloc[0], 7)
    frame.loc[i, "google_paid_search_spend"] = "-5"
    return frame, rf"column 'google_paid_search_spend', line {i + 2}: negative spend -5"


def duplicate_date(frame):
    org = frame["organisation_id"].iloc[0]
    i = at(frame, org, 3)
    line = len(frame) + 2
    day = frame.loc[i, "date_day"]
    frame = pd.concat([frame, frame.loc[[i]]], ignore_index=True)
    return frame, (
        rf"column 'date_day', line {line}: organisation '{org}' has a second row for {day} in "
        rf"territory 'All Territories' \(the first is at line {i + 2}\)"
    )


@pytest.mark.parametrize(
    "case",
    [drop_target, drop_spend, text_in_spend, text_in_target, negative_spend, duplicate_date],
)
def test_invalid_file_names_file_column_and_line(sample, case):
    captured = {}

    def edit(frame):
        frame, captured["pattern"] = case(frame)
        return frame

    bad = rewrite(sample, edit, name="bad.csv")
    with pytest.raises(DataFileError, match=r"bad\.csv, ") as info:
        read_quiet(bad)
    assert re.search(captured["pattern"], str(info.value)), str(info.value)


def test_missing_columns_are_all_named_with_the_schema(sample):
    bad = rewrite(sample, lambda f: f.drop(columns=["date_day", "all_purchases"]), "bad.csv")
    with pytest.raises(DataFileError) as info:
        read_conjura(bad)
    message = str(info.value)
    assert "missing column(s) date_day, all_purchases" in message
    assert "<channel>_spend" in message and "The file has: organisation_id" in message


def test_unknown_organisation_lists_the_known_ids(sample):
    ranked = ranked_ids(sample)
    with pytest.raises(DataFileError, match="unknown organisation id") as info:
        read_conjura(sample, organisations=[ranked[1], "nope"])
    assert "'nope' in territory 'All Territories'. Known ids (4, most days first)" in str(
        info.value
    )
    assert ", ".join(ranked) in str(info.value)
    picked = read_quiet(sample, organisations=[ranked[2], ranked[0]])
    assert [d.source["organisation_id"] for d in picked] == [ranked[2], ranked[0]]


def test_selection_arguments_are_checked(sample):
    with pytest.raises(DatasetError, match="not both"):
        read_conjura(sample, n_organisations=1, organisations=["x"])
    with pytest.raises(DatasetError, match="at least 1"):
        read_conjura(sample, n_organisations=0)
    with pytest.raises(DataFileError, match=r"no rows for territory 'France'.*All Territories"):
        read_conjura(sample, territory="France")


def test_short_organisations_are_left_out_with_a_warning(sample):
    ranked = ranked_ids(sample)
    with pytest.warns(UserWarning, match=rf"fewer than min_days=100.*'{ranked[2]}' \(90 days\)"):
        kept = read_conjura(sample, min_days=100)
    assert [d.source["organisation_id"] for d in kept] == ranked[:2]
    with pytest.raises(DataFileError, match=r"no organisation left .* has 120\)"):
        read_quiet(sample, min_days=500)


def test_few_missing_days_are_interpolated_with_a_warning(sample):
    org = ranked_ids(sample)[0]  # 120 days: 2 missing is 1.7%
    frame = text(sample)
    gone, blank = at(frame, org, 10), at(frame, org, 20)
    day = frame.loc[gone, "date_day"]

    def edit(frame):
        frame.loc[blank, "all_purchases"] = ""
        return frame.drop(index=gone)

    gappy = rewrite(sample, edit)
    pattern = (
        rf"column 'all_purchases': organisation '{org}': 2 of 120 days \(1\.7%\) have no "
        rf"all_purchases \(1 without a row, 1 blank\), the first on {day}; filled by linear"
    )
    with pytest.warns(UserWarning, match=pattern):
        (d,) = read_conjura(gappy, organisations=[org])
    (full,) = read_conjura(sample, organisations=[org])
    assert d.n_time == 120 and np.isfinite(d.target).all()
    for t in (10, 20):
        assert d.target[t, 0] == pytest.approx((full.target[t - 1, 0] + full.target[t + 1, 0]) / 2)
    assert d.spend[10, 0, 0] == 0.0
    np.testing.assert_array_equal(d.spend[20], full.spend[20])


def test_many_missing_days_fail(sample):
    org = ranked_ids(sample)[0]  # 3 of 120 days is 2.5%
    frame = text(sample)
    rows = [at(frame, org, day) for day in (30, 31, 50)]
    day = frame.loc[rows[0], "date_day"]
    gappy = rewrite(sample, lambda frame: frame.drop(index=rows))
    with pytest.raises(
        DataFileError,
        match=rf"column 'all_purchases': organisation '{org}': 3 of 120 days \(2\.5%\) have no "
        rf"all_purchases \(3 without a row, 0 blank\), the first on {day}\. At most 2%",
    ):
        read_conjura(gappy, organisations=[org])

    def blanks(frame):
        frame.loc[rows, "all_purchases"] = ""

    blanked = rewrite(sample, blanks, name="blank.csv")
    with pytest.raises(DataFileError, match=rf"all_purchases', line {rows[0] + 2}: organisation"):
        read_conjura(blanked, organisations=[org])


def test_datasets_split_ready_to_fit(sample):
    for d in read_quiet(sample, n_organisations=2):
        train, _, test = d.split(train=0.75)
        assert train.n_time == round(0.75 * d.n_time)
        assert train.n_time + test.n_time == d.n_time
        assert test.history_spend.shape == (train.n_time, 1, 1)
        np.testing.assert_array_equal(test.history_spend, train.spend)
        assert np.isfinite(d.target).all() and (d.spend >= 0).all() and d.spend.sum() > 0
