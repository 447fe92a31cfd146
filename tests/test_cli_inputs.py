"""Bad input to `mmmlab fit`, `synth` and `sbc` stops before any work with a message naming
the option, file or key; inputs are never written over; every JSON written is strict."""

from __future__ import annotations

import hashlib
import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mmmlab.cli import app
from mmmlab.files import check_output_dir, strict_json

pytestmark = pytest.mark.xdist_group("fit")
runner = CliRunner()
MAP = ["--method", "map", "--no-progress"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A simulated world written as a user would have it: data.csv, columns.yaml, truth.json."""
    out = tmp_path_factory.mktemp("world")
    result = runner.invoke(app, ["synth", "small_business", "--seed", "0", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _fit(world, *args: str, data=None):
    data = world / "data.csv" if data is None else data
    return runner.invoke(app, ["fit", str(data), "--columns", str(world / "columns.yaml"), *args])


def _text(output: str) -> str:
    """The output as one line, without the borders of Typer's error box."""
    return " ".join(output.replace("│", " ").split())


def _strict(text: str):
    def refuse(name: str):
        raise AssertionError(f"bare {name} in JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--chains", "0"),
        ("--chains", "-1"),
        ("--samples", "0"),
        ("--samples", "-5"),
        ("--warmup", "-5"),
        ("--target-accept", "1.5"),
        ("--target-accept", "0"),
        ("--seed", "-1"),
        ("--data-seed", "-2"),
    ],
)
def test_out_of_range_options_are_named_before_any_work(world, tmp_path, option, value):
    out = tmp_path / "out"
    result = _fit(world, option, value, "--out", str(out))
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.output
    assert not out.exists()  # stopped before the data were read or anything compiled


def test_sampler_settings_are_checked_by_the_python_api_too(world):
    from mmmlab import example_dataset, fit

    dataset, _ = example_dataset()
    for bad, name in (
        ({"num_chains": 0}, "num_chains"),
        ({"seed": -1}, "seed"),
        ({"target_accept": 1.0}, "target_accept"),
    ):
        with pytest.raises(ValueError, match=name):
            fit(dataset, **bad)


def test_exposure_without_a_column_is_named(world, tmp_path):
    result = runner.invoke(
        app,
        ["fit", str(world / "data.csv"), "--date", "date", "--target", "target"]
        + ["--spend", "search_ads_spend", "--exposure", "x1", "--out", str(tmp_path / "o")],
    )
    assert result.exit_code == 2
    assert "--exposure 'x1': give channel=column pairs" in _text(result.output)


def test_out_that_holds_the_input_is_refused_and_the_input_kept(world, tmp_path):
    data = tmp_path / "contributions.csv"  # the name of one of fit's outputs
    shutil.copy(world / "data.csv", data)
    before = hashlib.sha256(data.read_bytes()).hexdigest()
    result = _fit(world, *MAP, "--out", str(tmp_path), data=data)
    assert result.exit_code == 2
    assert f"--out {tmp_path}: holds the input {data}" in result.output
    assert hashlib.sha256(data.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contributions.csv"]


def test_out_that_is_a_file_or_cannot_be_written_is_refused(world, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    for out, says in (
        (afile, "is a file, not a folder"),
        (afile / "sub", f"{afile} is a file, so the folder cannot be made"),
        ("/proc/mmmlab-out", "cannot write in /proc"),  # unwritable even for root
    ):
        result = _fit(world, *MAP, "--out", str(out))
        assert result.exit_code == 2, result.output
        assert says in result.output
    assert afile.read_text() == "keep me"


def test_synth_and_sbc_refuse_an_out_that_holds_their_input(tmp_path):
    from pathlib import Path

    spec = tmp_path / "world.yaml"
    shutil.copy(Path(__file__).resolve().parents[1] / "examples" / "world.yaml", spec)
    result = runner.invoke(app, ["synth", str(spec), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "holds the input" in result.output
    config = tmp_path / "model.yaml"
    config.write_text("adstock: geometric\n")
    result = runner.invoke(app, ["sbc", "--model", str(config), "--n", "2", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "holds the input" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.yaml", "world.yaml"]


def test_check_output_dir_accepts_new_and_existing_folders(tmp_path):
    check_output_dir(tmp_path / "new" / "deeper", [tmp_path / "data.csv"])
    check_output_dir(tmp_path, [None])
    assert not (tmp_path / "new").exists()  # the check creates nothing


def test_a_prior_with_a_non_positive_scale_is_refused_when_the_config_is_read(world, tmp_path):
    config = tmp_path / "model.yaml"
    config.write_text(
        "priors:\n  effect: {dist: half_normal, scale: -1}\n"
        "  geometric_alpha: {dist: beta, a: 0, b: 3}\n"
        "  delayed_theta: {dist: uniform, lower: 3, upper: 1}\n"
    )
    result = _fit(world, *MAP, "--config", str(config), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    text = _text(result.output)
    assert "priors.effect.scale: must be > 0 for the half_normal family, got -1" in text
    assert "priors.geometric_alpha.a: must be > 0 for the beta family, got 0" in text
    assert "priors.delayed_theta: a uniform prior needs lower < upper" in text
    assert not (tmp_path / "o").exists()


def test_a_truth_of_another_world_exits_non_zero_before_fitting(world, tmp_path):
    other = tmp_path / "other"
    made = runner.invoke(app, ["synth", "small_business", "--seed", "1", "--out", str(other)])
    assert made.exit_code == 0, made.output
    result = _fit(world, *MAP, "--truth", str(other / "truth.json"), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert "another target than this truth implies" in result.output
    assert not (tmp_path / "o").exists()


def test_magnitudes_beyond_the_limit_are_refused_with_the_line(world, tmp_path):
    frame = pd.read_csv(world / "data.csv")
    frame.loc[3, "social_media_spend"] = 1e300
    data = tmp_path / "huge.csv"
    frame.to_csv(data, index=False)
    result = _fit(world, *MAP, "--out", str(tmp_path / "o"), data=data)
    assert result.exit_code == 2
    text = _text(result.output)
    assert "column 'social_media_spend', line 5: value" in text
    assert "too large" in text


def test_a_zero_channel_map_fit_writes_strict_json_and_shows_no_interval(world, tmp_path):
    frame = pd.read_csv(world / "data.csv")
    frame["email_spend"] = 0.0
    data = tmp_path / "zero.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "out"
    result = _fit(world, *MAP, "--out", str(out), data=data)
    assert result.exit_code == 0, result.output
    summary = _strict((out / "summary.json").read_text())
    _strict((out / "fit" / "fit.json").read_text())
    email = next(r for r in summary["roas"] if r["channel"] == "email")
    assert email["roas_mean"] is None and email["mroas_mean"] is None
    assert any("no spend on email" in w for w in summary["warnings"])
    assert all(r["roas_lo"] is None for r in summary["roas"])  # a point fit has no interval
    assert "posterior mode: a point fit has no interval" in result.output
    assert "[1." not in result.output.split("ROAS per channel")[1].split("warning")[0]
    roas = pd.read_csv(out / "roas.csv", index_col="channel")
    assert roas["roas_lo"].isna().all() and np.isfinite(roas.loc["search_ads", "roas_mean"])


def test_strict_json_writes_null_for_non_finite_numbers_and_says_where():
    with pytest.warns(UserWarning, match=r"2 value\(s\) not finite .*: a, b\[1\]"):
        text = strict_json({"a": math.nan, "b": [1.0, np.float32("inf")], "c": np.arange(2)})
    assert _strict(text) == {"a": None, "b": [1.0, None], "c": [0, 1]}


def test_a_shipped_dataset_fits_by_name_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing beside: the data come from the package
    result = runner.invoke(app, ["fit", "pymc_example", *MAP, "--out", "out"])
    assert result.exit_code == 0, result.output
    summary = _strict((tmp_path / "out" / "summary.json").read_text())
    assert summary["dataset"]["periods"] == 179
    assert [r["channel"] for r in summary["roas"]] == ["x1", "x2"]
    result = runner.invoke(app, ["fit", "pymc_exampel", *MAP, "--out", "out2"])
    assert result.exit_code == 2
    assert "no such file, nor a shipped dataset (robyn_simulated" in _text(result.output)
