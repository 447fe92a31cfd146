"""The 40-geo `national_brand` preset (issue 21) and a world's reported populations."""

from __future__ import annotations

import numpy as np

import mmmlab
from mmmlab.data import ColumnMap, read_dataset
from mmmlab.synth.catalog import column_map, write_simulation
from mmmlab.synth.presets import shipped_world


def test_national_brand_is_a_40_geo_panel_with_populations():
    dataset, truth = mmmlab.simulate("national_brand", 0)
    assert dataset.target.shape == (156, 40)
    assert dataset.exposure is not None and dataset.population is not None
    assert {"organic_reach", "promotion"} <= set(dataset.control_names)
    means = dataset.target.mean(axis=0)
    assert means.max() / means.min() > 10  # per-geo baselines of very different size
    # The population is the world's people per geo times the geo's size (mean 1), no draw.
    world = shipped_world("national_brand")
    assert np.isclose(dataset.population.mean(), world.population, rtol=1e-6)


def test_population_takes_no_draw_and_reads_back(tmp_path):
    world = shipped_world("national_brand")
    with_pop, truth = mmmlab.simulate(world, 3)
    without, truth_without = mmmlab.simulate(world.model_copy(update={"population": None}), 3)
    assert without.population is None
    assert np.array_equal(with_pop.target, without.target)
    assert np.array_equal(with_pop.spend, without.spend)
    assert column_map(with_pop)["population"] == "population"
    assert "population" not in column_map(without)
    paths = write_simulation(with_pop, truth, tmp_path)
    back = read_dataset(paths["data"], ColumnMap.from_yaml(paths["columns"]))
    order = np.argsort(with_pop.geos)
    assert np.array_equal(back.population, with_pop.population[order])
