"""benchmarks/gpu.py, the one script a lent GPU machine runs, works end to end on a CPU
(`--quick`: every section on small_business with short chains), so it has not rotted by the
time a device is lent."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu.py"


def test_the_gpu_script_runs_every_section_on_a_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["environment"]["backend"] == "cpu"
    assert figures["gradient"]["ms_per_call"]["cpu"] > 0
    fit = figures["fit"]
    assert fit["preset"] == "small_business" and fit["chains"] == 2
    assert fit["sample_s"] > 0 and math.isfinite(fit["max_rhat"])
    assert fit["leapfrog_steps_per_draw"] >= 1 and fit["peak_memory_gib"] > 0
    batched = figures["batched"]
    assert batched["seeds"] == 2 and batched["ratio"] > 0
    assert batched["one_at_a_time"]["per_min"] > 0 and batched["fit_many"]["per_min"] > 0
    # figures are never replaced: a second run to the same file stops before any work
    again = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode != 0 and "exists" in again.stderr
    assert json.loads(out.read_text()) == figures
