"""What a new process pays before it samples: `import mmmlab` sets up JAX and imports nothing a
command may not use; the public names still resolve; a fit's path leaves the decisions and the
benchmark engine alone."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import mmmlab

# Subpackages and libraries that `import mmmlab` must not import: what a fit does not need
# (decisions, benchmarks, backends, simulators, SBC) and the heavy libraries behind them.
NOT_ON_IMPORT = (
    "mmmlab.decisions",
    "mmmlab.bench",
    "mmmlab.backends",
    "mmmlab.synth",
    "mmmlab.inference",
    "mmmlab.analysis",
    "mmmlab.design",
    "scipy.stats",
    "arviz",
    "matplotlib",
    "pandas",
    "numpyro",
)
# Modules a fit (its code and the report it writes) must not import.
NOT_FOR_A_FIT = (
    "mmmlab.decisions",
    "mmmlab.bench",
    "mmmlab.backends",
    "mmmlab.design",
    "mmmlab.inference.calibration",
    "arviz",  # diagnostics (inference.rank_stats) and posterior.nc (xarray) need none of it
    "scipy.stats",
)


def _imported_after(code: str, names: tuple[str, ...]) -> list[str]:
    """Which of `names` a fresh interpreter has in sys.modules after running `code`."""
    found = f"[n for n in {list(names)!r} if n in sys.modules]"
    probe = f"{code}\nimport json, sys\nprint(json.dumps({found}))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_mmmlab_imports_no_heavy_subpackage() -> None:
    assert _imported_after("import mmmlab", NOT_ON_IMPORT) == []


def test_import_mmmlab_still_sets_up_jax() -> None:
    code = "import mmmlab, jax; print(jax.config.jax_enable_x64)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "True"


def test_a_fit_and_its_report_leave_decisions_and_bench_alone() -> None:
    code = "import mmmlab.inference.fit, mmmlab.analysis.outputs"
    assert _imported_after(code, NOT_FOR_A_FIT) == []


def test_the_command_line_imports_no_command_own_heavy_modules() -> None:
    heavy = ("mmmlab.inference.calibration", "mmmlab.synth", "mmmlab.analysis", "matplotlib")
    assert _imported_after("import mmmlab.cli", NOT_FOR_A_FIT + heavy) == []


def test_saving_and_loading_a_fit_leave_arviz_alone(tmp_path) -> None:
    code = (
        "import mmmlab\n"
        "fit = mmmlab.fit(mmmlab.example_dataset()[0], method='map')\n"
        f"fit.save({str(tmp_path / 'fit')!r})\n"
        f"mmmlab.load({str(tmp_path / 'fit')!r}).roas()"
    )
    assert _imported_after(code, ("arviz", "scipy.stats")) == []


def test_public_names_resolve_on_first_use() -> None:
    from mmmlab.data import ColumnMap
    from mmmlab.decisions import optimize
    from mmmlab.inference.fit import fit, load_fit

    assert mmmlab.fit is fit
    assert mmmlab.load is load_fit
    assert mmmlab.optimize is optimize
    assert mmmlab.ColumnMap is ColumnMap
    assert mmmlab.datasets.names()
    for name in mmmlab.__all__:
        assert getattr(mmmlab, name) is not None
    assert set(mmmlab.__all__) <= set(dir(mmmlab))
    assert sorted(mmmlab.__all__) == sorted(mmmlab._LAZY)
    from mmmlab import SamplerSettings, example_dataset  # noqa: F401  (from-imports work)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        mmmlab.no_such_name  # noqa: B018
    assert not hasattr(mmmlab, "no_such_name")


def test_inference_names_resolve() -> None:
    import mmmlab.inference as inference
    from mmmlab.inference.calibration import run_sbc

    assert inference.run_sbc is run_sbc
    assert callable(inference.fit) and not isinstance(inference.fit, type(sys))
