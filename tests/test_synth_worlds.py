"""Shipped worlds are data: world files read by the users' loader, and the worlds they were."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import numpy as np
import pytest

import mmmlab  # noqa: F401  (JAX settings)
from mmmlab.synth import simulate
from mmmlab.synth.presets import BUSINESSES, PRESETS, WORLDS
from mmmlab.synth.scenarios import scenario_base
from mmmlab.synth.world import world_from_file

ROOT = Path(__file__).resolve().parents[1]

# Seed 0 of each world: target sum, noise sum, media contribution sum. Written when the
# presets moved from code to world files, from data byte-identical to the code's: a change
# here is a change of every dataset and figure built on these worlds.
SEED_0 = {
    "small_business": (623355.4554372672, -1471.6637210717176, 105259.10565784591),
    "growing_business": (1670143.1435307532, -692.8307516210591, 309076.36762876797),
    "medium_business": (21245726.18532794, 19924.8380689452, 4004808.4947323715),
    "large_business": (2396516703.95792, 1541121.5384817142, 828715017.8010046),
    "heavy_tails": (23797329.27670598, 161515.1147765522, 8047766.491543194),
    "structural_break": (25090205.02112498, -120609.14080444703, 8047766.491543194),
}


@pytest.mark.parametrize("name", list(SEED_0))
def test_worlds_are_the_worlds_they_were(name):
    dataset, truth = simulate(name, 0)
    sums = (dataset.target.sum(), truth.noise.sum(), truth.contributions.sum())
    np.testing.assert_allclose(sums, SEED_0[name], rtol=1e-9)


def test_every_shipped_world_is_a_world_file_users_can_simulate():
    files = sorted(p.stem for p in WORLDS.glob("*.yaml"))
    assert files == sorted([*BUSINESSES, "scenario_base"])
    for name in BUSINESSES:
        assert world_from_file(WORLDS / f"{name}.yaml") == PRESETS[name]()
    assert scenario_base().name == "scenario_base"
    by_name, _ = simulate("small_business", 3)
    by_path, _ = simulate(WORLDS / "small_business.yaml", 3)
    np.testing.assert_array_equal(by_path.target, by_name.target)


def test_world_files_ship_with_the_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["mmmlab"]
    package = ROOT / "src" / "mmmlab"
    for path in WORLDS.iterdir():
        relative = path.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), f"{relative} is not shipped"
