"""Simulators: reproducible bytes, a consistent answer key, presets, scenarios, the CLI."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import mmmlab  # noqa: F401  (JAX settings)
from mmmlab.cli import app
from mmmlab.data import ColumnMap, read_dataset
from mmmlab.synth import SIMULATORS, Truth, WorldSpec, simulate, write_simulation
from mmmlab.synth.catalog import presets_markdown
from mmmlab.synth.presets import PRESETS
from mmmlab.synth.world import draw_inputs, respond, world_from_file

ROOT = Path(__file__).resolve().parents[1]


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("name", ["small_business", "growing_business", "confounded"])
def test_same_seed_gives_identical_files(tmp_path, name):
    first = write_simulation(*simulate(name, 7), tmp_path / "a")
    second = write_simulation(*simulate(name, 7), tmp_path / "b")
    assert _digest(first["data"].parent) == _digest(second["data"].parent)
    other = write_simulation(*simulate(name, 8), tmp_path / "c")
    assert other["data"].read_bytes() != first["data"].read_bytes()


@pytest.mark.parametrize("name", list(SIMULATORS))
def test_every_world_has_a_consistent_answer_key(name):
    dataset, truth = simulate(name, 1)
    T, G, C = dataset.spend.shape
    assert SIMULATORS[name].shape == (T, G, C)
    assert truth.contributions.shape == (T, G, C) == truth.counterfactual.shape
    parts = sum(truth.baseline.values()) + truth.contributions.sum(axis=-1) + truth.noise
    np.testing.assert_allclose(parts, dataset.target, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(
        truth.counterfactual + truth.contributions,
        np.broadcast_to(dataset.target[..., None], (T, G, C)),
        rtol=1e-12,
    )
    spend = dataset.spend.sum(axis=(0, 1))
    np.testing.assert_allclose(truth.roas * spend, truth.contributions.sum(axis=(0, 1)))
    assert np.all(np.isfinite(dataset.target)) and np.all(dataset.spend >= 0)
    back = Truth.from_json(truth.to_json())
    np.testing.assert_array_equal(back.contributions, truth.contributions)
    assert back.named() == truth.named()


def test_switching_a_channel_off_removes_exactly_its_contribution():
    spec = PRESETS["small_business"]()
    rng = np.random.default_rng(4)
    draw = draw_inputs(spec, rng)
    full, truth = respond(spec, draw, copy.deepcopy(rng), 4)
    spend = draw.spend.copy()
    spend[:, :, 1] = 0.0
    off, _ = respond(spec, draw._replace(spend=spend), copy.deepcopy(rng), 4)
    np.testing.assert_allclose(off.target, truth.counterfactual[..., 1], rtol=1e-10)
    assert truth.contributions[..., 1].sum() > 0


def test_spend_patterns_follow_the_preset():
    dataset, _ = simulate("medium_business", 0)
    video_2 = dataset.channels.index("video_2")
    spend = dataset.spend[:, :, video_2]
    assert np.all(spend[:75] == 0) and np.all(spend[125:] == 0), "start and end honoured"
    assert np.all(spend[75:125] > 0)
    video = dataset.spend[:, :, dataset.channels.index("video")]
    ramp = video[25:35].mean(axis=1)
    assert np.all(video[:25] == 0) and ramp[:3].mean() < ramp[-3:].mean()
    email = simulate("small_business", 0)[0].spend[:, 0, 3]
    assert 0.05 < np.mean(email > 0) < 0.4, "email is bought in short bursts"
    on = np.flatnonzero(email > 0)
    assert np.all(np.diff(on) >= 2), "single-period flights with an idle period between"


def test_geo_panels_vary_in_size_and_effect():
    dataset, truth = simulate("medium_business", 2)
    size = dataset.spend.sum(axis=(0, 2))
    assert size.max() / size.min() > 1.5
    effect = truth.params["effect"]  # (G, C)
    assert truth.dims["effect"] == ("geo", "channel") and effect.shape == (8, 8)
    per_unit = effect / dataset.spend.mean(axis=0)
    assert np.std(np.log(per_unit[:, 0])) > 0.02


def test_large_business_delayed_channels_stop():
    dataset, truth = simulate("large_business", 0)
    assert dataset.spend.shape == (208, 50, 30)
    assert 0.15 < truth.facts["media_share"] < 0.5
    delayed = [c for c in PRESETS["large_business"]().channels if c.pattern == "delayed_start"]
    ends = [c for c in delayed if c.end_period is not None and c.end_period < 208]
    assert ends, "some delayed channels stop"
    for c in ends:
        k = dataset.channels.index(c.name)
        assert np.all(dataset.spend[c.end_period :, :, k] == 0)


def test_docs_list_the_preset_true_values():
    text = (ROOT / "docs" / "synth.md").read_text()
    assert presets_markdown() in text, "regenerate docs/synth.md with presets_markdown()"


# --------------------------------------------------------------------------- scenarios
def test_scenarios_really_break_their_assumption():
    facts = {name: simulate(name, 0)[1] for name in SIMULATORS if SIMULATORS[name].breaks}
    assert facts["confounded"].facts["confounder_spend_corr"] > 0.5
    assert facts["confounded"].baseline["confounder"].std() > 0
    assert facts["collinear"].facts["spend_corr_search_social"] > 0.95
    assert facts["misspecified_transforms"].facts["tv_adstock_peak_lag"] >= 1
    assert facts["drifting_effect"].facts["tv_effect_last_over_first_quarter"] > 2
    heavy = facts["heavy_tails"].facts
    assert heavy["noise_kurtosis"] > 6 and heavy["outliers_beyond_5sd"] >= 4
    step = facts["structural_break"].baseline["break"][:, 0]
    assert step[: int(0.6 * 156)].max() == 0 and step[-1] > 0
    zero = facts["zero_effect"]
    display = zero.channels.index("display")
    assert np.all(zero.contributions[..., display] == 0) and zero.roas[display] == 0
    for name, truth in facts.items():
        assert truth.breaks, f"{name} says which assumption it breaks"
    assert facts["hill_mixture_k3"].labels is not None


def test_confounded_search_spend_tracks_sales_beyond_its_effect():
    dataset, truth = simulate("confounded", 0)
    search = dataset.channels.index("search")
    base = simulate("collinear", 0)[1]  # same seed, no confounder on the target
    residual = dataset.target[:, 0] - truth.contributions[:, 0].sum(axis=-1)
    corr = np.corrcoef(np.log(dataset.spend[:, 0, search]), residual)[0, 1]
    assert corr > 0.3, "without the confounder the non-media sales would not track search"
    assert "confounder" not in base.baseline


# --------------------------------------------------------------------------- specs and CLI
def test_world_spec_from_yaml_and_its_errors(tmp_path):
    spec = world_from_file(ROOT / "examples" / "world.yaml")
    assert isinstance(spec, WorldSpec) and spec.name == "my_shop"
    dataset, truth = simulate(ROOT / "examples" / "world.yaml", 1)
    assert dataset.channels == ("tv", "search")
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "examples" / "world.yaml").read_text().replace("growth:", "grwth:"))
    with pytest.raises(ValueError, match=r"(?s)bad.yaml.*grwth"):
        world_from_file(bad)
    with pytest.raises(ValueError, match="small_business"):
        simulate("no_such_world", 0)
    wrong = spec.channels[0].model_dump() | {"adstock_params": {"decay": 0.3}}
    with pytest.raises(ValueError, match="takes parameters"):
        type(spec.channels[0]).model_validate(wrong)


def test_cli_synth_writes_data_that_reads_back(tmp_path):
    runner = CliRunner()
    listed = runner.invoke(app, ["synth", "--list"])
    assert listed.exit_code == 0
    for name in ("small_business", "hill_mixture_k5", "zero_effect"):
        assert name in listed.output
    out = tmp_path / "sb"
    result = runner.invoke(app, ["synth", "small_business", "--seed", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {
        "data.csv",
        "columns.yaml",
        "truth.json",
        "spend_target.png",
    }
    back = read_dataset(out / "data.csv", ColumnMap.from_yaml(out / "columns.yaml"))
    dataset, truth = simulate("small_business", 2)
    np.testing.assert_allclose(back.target, dataset.target, rtol=1e-9)
    np.testing.assert_allclose(Truth.load(out / "truth.json").roas, truth.roas)
    bad = runner.invoke(app, ["synth", "nope"])
    assert bad.exit_code == 2 and "small_business" in bad.output


def test_the_stored_example_is_the_simulation():
    """`example_dataset()` reads example.npz; a fresh simulation gives the same data and
    answer key (to float rounding: op-by-op XLA may differ in the last bits across CPUs)."""
    from dataclasses import fields

    from mmmlab.synth.example import STORED, example_dataset, simulate_example

    assert STORED.exists()
    stored, stored_truth = example_dataset()
    dataset, truth = simulate_example()
    assert stored.dates.equals(dataset.dates)
    for f in fields(dataset):
        a, b = getattr(stored, f.name), getattr(dataset, f.name)
        if isinstance(b, np.ndarray):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, err_msg=f.name)
        elif f.name != "dates":
            assert a == b, f.name
    for f in fields(truth):
        a, b = getattr(stored_truth, f.name), getattr(truth, f.name)
        if isinstance(b, dict) and f.name != "dims":
            assert a.keys() == b.keys(), f.name
            for key in b:
                np.testing.assert_allclose(a[key], b[key], rtol=1e-12, err_msg=f"{f.name} {key}")
        elif isinstance(b, np.ndarray):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9, err_msg=f.name)
        else:
            assert a == b, f.name
    # one extra period or geo is simulated, not read
    assert example_dataset(n_weeks=157)[0].n_time == 157
