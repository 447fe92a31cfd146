"""Benchmark specs are strict, and the grid names and seeds its cells canonically."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mmmlab.bench.grid.cells import cell_name, excluded_cells, expand, seed_of
from mmmlab.bench.grid.spec import SpecError, load_spec, parse_spec, spec_hash

ROOT = Path(__file__).resolve().parents[1]
BASE = {
    "name": "t",
    "datasets": [{"preset": "small_business"}],
    "models": [{"name": "m"}, {"name": "h", "params": {"saturation": "hill"}}],
    "seeds": 2,
}


def test_misspelled_keys_are_errors_that_name_them():
    for bad, key in (
        ({"sedes": 3}, "sedes"),
        ({"variants": {"dimension": {"adstock": ["geometric"]}}}, "dimension"),
        ({"inference": {"num_sample": 10}}, "num_sample"),
        ({"split": {"trian": 0.7}}, "trian"),
    ):
        with pytest.raises(SpecError, match=f"unknown key '{key}'"):
            parse_spec(BASE | bad)


def test_a_variant_that_would_be_a_no_op_is_an_error():
    spec = parse_spec(BASE | {"variants": {"dimensions": {"adstok": ["geometric", "delayed"]}}})
    with pytest.raises(SpecError, match=r"models\.m with variant \[adstok=geometric\]: adstok"):
        expand(spec)
    bad_model = parse_spec(BASE | {"models": [{"name": "m", "params": {"saturaton": "hill"}}]})
    with pytest.raises(SpecError, match="saturaton"):
        expand(bad_model)


def test_reference_model_must_exist_and_names_are_unique():
    with pytest.raises(SpecError, match="reference_model"):
        parse_spec(BASE | {"reference_model": "nope"})
    with pytest.raises(SpecError, match="duplicate"):
        parse_spec(BASE | {"models": [{"name": "m"}, {"name": "m"}]})


def test_exclusions_name_their_cells_and_reason_and_keep_the_spec_hash():
    base = BASE | {
        "datasets": [{"preset": "small_business", "params": {"noise": [0.05, 0.1]}}],
        "seeds": 1,
    }
    rule = {"datasets": ["small_business"], "models": ["h"], "reason": "too slow "}
    spec = parse_spec(base | {"exclude": [rule]})
    out = excluded_cells(spec, expand(spec))
    assert out == {  # a dataset name covers its parameter grid
        "small_business(noise=0.05)/h/seed=0": "excluded by the spec: too slow",
        "small_business(noise=0.1)/h/seed=0": "excluded by the spec: too slow",
    }
    assert spec_hash(spec) == spec_hash(parse_spec(base))  # editing exclusions keeps the run
    with pytest.raises(SpecError, match=r"exclude\.0\.models: \['x'\] are not models"):
        parse_spec(base | {"exclude": [rule | {"models": ["x"]}]})
    with pytest.raises(SpecError, match=r"exclude\.0: names no datasets and no models"):
        parse_spec(base | {"exclude": [{"reason": "all"}]})
    with pytest.raises(SpecError, match=r"exclude\.0\.reason"):
        parse_spec(base | {"exclude": [{"models": ["h"]}]})
    typo = parse_spec(base | {"exclude": [rule | {"datasets": ["small_busines"]}]})
    with pytest.raises(SpecError, match=r"exclude\.0\.datasets: 'small_busines' is not in"):
        excluded_cells(typo, expand(typo))


def test_grid_order_names_and_hashed_seeds():
    cells = expand(parse_spec(BASE))
    assert [c.name for c in cells] == [
        "small_business/m/seed=0",
        "small_business/m/seed=1",
        "small_business/h/seed=0",
        "small_business/h/seed=1",
    ]
    assert all(c.cell_seed == seed_of(c.name) for c in cells)
    assert len({c.cell_seed for c in cells}) == 4
    assert seed_of("small_business/m/seed=0") == seed_of("small_business/m/seed=0")
    assert cell_name("d", "m", "adstock=weibull_cdf", 3) == "d/m[adstock=weibull_cdf]/seed=3"


def test_one_at_a_time_and_cartesian_variants():
    dims = {
        "adstock": ["geometric", "weibull_cdf", "weibull_pdf"],
        "likelihood": ["normal", "student_t"],
    }
    one = expand(parse_spec(BASE | {"seeds": 1, "variants": {"dimensions": dims}}))
    labels = sorted({c.variant for c in one})
    assert len(labels) == 1 + 2 + 1  # base, two other adstocks, the other likelihood
    assert "adstock=geometric,likelihood=normal" in labels
    cart = parse_spec(BASE | {"seeds": 1, "variants": {"mode": "cartesian", "dimensions": dims}})
    assert len({c.variant for c in expand(cart)}) == 6
    capped = parse_spec(
        BASE | {"variants": {"mode": "cartesian", "max_combinations": 5, "dimensions": dims}}
    )
    with pytest.raises(SpecError, match="6 combinations"):
        expand(capped)


def test_mapping_variants_override_split_and_inference():
    spec = parse_spec(
        BASE
        | {
            "seeds": 1,
            "variants": {
                "dimensions": {
                    "window": [
                        {"label": "80/20", "split": {"train": 0.8}},
                        {"label": "70/15/15", "split": {"train": 0.7, "validation": 0.15}},
                    ]
                }
            },
        }
    )
    cells = [c for c in expand(spec) if c.model == "m"]
    assert [c.variant for c in cells] == ["window=80/20", "window=70/15/15"]
    assert cells[1].split == {"train": 0.7, "validation": 0.15}


def test_preset_parameter_grid_and_file_groups(tmp_path):
    spec = parse_spec(
        BASE | {"datasets": [{"preset": "small_business", "params": {"noise": [0.03, 0.1]}}]}
    )
    names = sorted({c.dataset.name for c in expand(spec)})
    assert names == ["small_business(noise=0.03)", "small_business(noise=0.1)"]
    for org in ("org_a", "org_b"):
        (tmp_path / f"{org}.csv").write_text("date,y,x\n")
    (tmp_path / "cols.yaml").write_text("date: date\ntarget: y\nspend: [x]\n")
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(
        yaml.safe_dump(BASE | {"datasets": [{"files": "org_*.csv", "columns": "cols.yaml"}]})
    )
    spec, text = load_spec(spec_file)
    assert "org_*.csv" in text
    assert sorted({c.dataset.name for c in expand(spec)}) == ["org_a", "org_b"]
    assert all(Path(c.dataset.file).is_absolute() for c in expand(spec))


def test_example_specs_are_valid():
    for path in sorted((ROOT / "examples" / "specs").glob("*.yaml")):
        spec, _ = load_spec(path)
        missing = [d.file for d in spec.datasets if d.file and not Path(d.file).exists()]
        assert not missing, (path, missing)  # public data: the copies in mmmlab/datasets/
        assert expand(spec), path


def test_a_dataset_source_that_cannot_load_is_an_error_naming_its_key(tmp_path):
    csv = tmp_path / "shop.csv"
    csv.write_text("date,y,x\n")
    columns = {"date": "date", "target": "y", "spend": ["x"]}
    for dataset, message in (
        ({"file": str(tmp_path / "nope.csv"), "columns": columns}, r"file: .*nope\.csv: no such"),
        ({"files": str(tmp_path / "org_*.csv"), "columns": columns}, r"files: no file matches"),
        ({"file": str(csv), "columns": str(tmp_path / "c.yaml")}, r"columns: .*c\.yaml: no such"),
        ({"file": str(csv), "columns": columns | {"targte": "y"}}, r"columns: .*targte"),
        ({"preset": "small_busines"}, r"preset: 'small_busines' is not .*'small_business'\?"),
        ({"preset": "small_business", "params": {"noize": [0.1]}}, r"params: 'noize' is not"),
        ({"preset": "small_business", "params": {"noise": ["loud"]}}, r"params\.noise: 'loud'"),
        ({"preset": "hill_single", "params": {"noise": [0.1]}}, r": params and frequency apply"),
    ):
        # the second dataset is at fault: its index is in the key path
        spec = parse_spec(BASE | {"datasets": [{"preset": "small_business"}, dataset]})
        with pytest.raises(SpecError, match=r"^datasets\.1\.?" + message):
            expand(spec)


def test_a_method_the_metrics_cannot_score_is_an_error():
    with pytest.raises(SpecError, match=r"inference\.method: 'map' .*'loo'"):
        parse_spec(BASE | {"inference": {"method": "map"}})  # the default metrics hold loo
    assert expand(parse_spec(BASE | {"inference": {"method": "map"}, "metrics": ["predictive"]}))
    assert expand(parse_spec(BASE | {"inference": {"method": "svi"}}))  # svi draws: loo scores
    fits = [{"label": "nuts"}, {"label": "quick", "inference": {"method": "map"}}]
    spec = parse_spec(BASE | {"variants": {"dimensions": {"fit": fits}}})
    with pytest.raises(SpecError, match=r"^variants\.dimensions\.fit \[quick\]: .*'map'.*'loo'"):
        expand(spec)
    typo = [{"label": "short", "inference": {"num_sampels": 10}}]
    spec = parse_spec(BASE | {"variants": {"dimensions": {"fit": typo}}})
    with pytest.raises(SpecError, match=r"fit \[short\]: inference\.num_sampels: unknown key"):
        expand(spec)
    split = [{"label": "long", "split": {"train": 1.5}}]
    spec = parse_spec(BASE | {"variants": {"dimensions": {"window": split}}})
    with pytest.raises(SpecError, match=r"window \[long\]: split\.train: "):
        expand(spec)


def test_two_cells_of_one_name_and_an_empty_seed_list_are_errors():
    for dimension, values, label in (
        ("adstock", ["geometric", "geometric"], "geometric"),
        ("w", [{"label": "a", "split": {"train": 0.7}}, {"label": "a"}], "a"),
    ):
        spec = parse_spec(BASE | {"variants": {"dimensions": {dimension: values}}})
        with pytest.raises(
            SpecError, match=rf"dimensions\.{dimension}: values 0 and 1 .*'{label}'"
        ):
            expand(spec)
    for seeds, message in (
        (0, "seeds: 0 gives no cells"),
        ([], "seeds: an empty list gives no cells"),
        ([3, 1, 3], r"seeds: \[3\] given twice"),
        ([-1], r"seeds: \[-1\] are negative"),
        (-2, "seeds: -2 gives no cells"),
    ):
        with pytest.raises(SpecError, match=message):
            parse_spec(BASE | {"seeds": seeds})


def test_dry_run_refuses_a_bad_spec_naming_the_spec_file(tmp_path):
    from typer.testing import CliRunner

    from mmmlab.cli_bench import bench_app as app

    columns = {"date": "date", "target": "y", "spend": ["x"]}
    for change, message in (
        ({"datasets": [{"file": "data/shop.csv", "columns": columns}]}, "datasets.0.file: /"),
        ({"seeds": 0}, "seeds: 0 gives no cells"),
    ):
        path = tmp_path / "spec.yaml"
        path.write_text(yaml.safe_dump(BASE | change))
        result = CliRunner().invoke(app, ["run", str(path), "--dry-run"])
        flat = " ".join(result.output.split())
        assert result.exit_code == 2 and flat.startswith(f"error: {path}: "), flat
        assert message in flat, flat


# The built-in suites' hashes: a run directory of one is resumed only under the same hash, so a
# change here would strand every existing run of the suite (their paths are not machine-bound).
SUITE_HASHES = {
    "quick": "912ac34898701b2a",
    "hill-mixture": "e61d0e34f4e7a799",
    "param-recovery": "c255a36a3c487235",
}


def test_the_built_in_suites_keep_their_spec_hashes():
    from mmmlab.cli_bench import _spec_source

    assert {name: spec_hash(_spec_source(name)[0]) for name in SUITE_HASHES} == SUITE_HASHES


def test_metric_groups_and_dataset_kinds_come_from_their_registries():
    from mmmlab.bench.grid.sources.registry import DATASET_KINDS
    from mmmlab.bench.grid.spec import SOURCES
    from mmmlab.bench.score.groups import METRIC_GROUPS

    assert parse_spec(BASE).metrics == list(METRIC_GROUPS)  # every group by default
    with pytest.raises(SpecError, match=r"metrics: \['lo'\] are not metric groups; choose"):
        parse_spec(BASE | {"metrics": ["predictive", "lo"]})
    assert set(DATASET_KINDS) == set(SOURCES)
    assert {k for k, kind in DATASET_KINDS.items() if kind.reads_files} == {
        "file",
        "files",
        "conjura",
    }
