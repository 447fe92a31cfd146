"""One run per run directory: a second `bench run` into a directory that a live run holds stops
and names that run's process; a lock left by a run that died is taken over with a note; the
read-only commands keep working while a run holds the directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bench_tasks import ctrl_c_as_in_a_terminal  # tests/ is on sys.path (pytest rootdir)
from mmmlab.bench.results.store import Store
from mmmlab.cli import app

pytestmark = pytest.mark.xdist_group("bench")
SLOW = {  # one cell that samples for a while: the live run to collide with
    "name": "held",
    "datasets": [{"preset": "hill_single"}],
    "models": [{"name": "m"}],
    "metrics": ["predictive"],
    "inference": {"num_warmup": 50000, "num_samples": 50000, "num_chains": 1},  # stopped early
}
NO_FIT = SLOW | {"exclude": [{"models": ["m"], "reason": "nothing to fit here"}]}


def _spec_file(tmp_path: Path, spec: dict) -> Path:
    path = tmp_path / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _running(out: Path, proc: subprocess.Popen, within: float = 120) -> None:
    """Wait until the run `proc` has a cell running in `out`."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "results.sqlite").exists():
            with Store.open(out, readonly=True) as store:
                if store.counts()["running"]:
                    return
        time.sleep(0.5)
    raise AssertionError(f"no cell running in {out}: {proc.stderr.read().decode()[-2000:]}")


def test_a_second_run_into_a_held_directory_stops_and_names_the_other_process(tmp_path):
    path, out = _spec_file(tmp_path, SLOW), tmp_path / "run"
    command = [sys.executable, "-m", "mmmlab.cli", "bench", "run", str(path), "--out", str(out)]
    first = subprocess.Popen(
        [*command, "--workers", "1", "--no-report"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )
    try:
        _running(out, first)
        second = CliRunner().invoke(app, ["bench", "run", str(path), "--out", str(out)])
        flat = " ".join(second.output.split())
        assert second.exit_code == 2, second.output
        assert f"pid {first.pid} on host {socket.gethostname()}" in flat, flat
        with Store.open(out, readonly=True) as store:  # the live run's cell is left alone
            assert store.counts()["running"] == 1
        assert (out / "run.lock").exists()
        for command in (["status"], ["summary"], ["export", "--format", "csv"], ["report"]):
            result = CliRunner().invoke(app, ["bench", *command, str(out)])
            assert result.exit_code == 0, (command, result.output)
    finally:
        os.killpg(first.pid, signal.SIGINT)
        first.wait(timeout=60)
    assert first.returncode == 130
    assert not (out / "run.lock").exists()  # released on Ctrl-C


HOLD_THEN_DIE = """
import os, signal, sys
from mmmlab.bench.results.lock import hold
with hold(sys.argv[1]):
    os.kill(os.getpid(), signal.SIGKILL)  # dies holding it: nothing runs the release
"""


def test_a_lock_left_by_a_dead_run_is_taken_over_with_a_note(tmp_path):
    out = tmp_path / "run"
    dead = subprocess.Popen([sys.executable, "-c", HOLD_THEN_DIE, str(out)])
    assert dead.wait(timeout=60) == -signal.SIGKILL and (out / "run.lock").exists()
    path = _spec_file(tmp_path, NO_FIT)
    result = CliRunner().invoke(app, ["bench", "run", str(path), "--out", str(out), "--no-report"])
    flat = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert f"pid {dead.pid} on host {socket.gethostname()}" in flat, flat
    assert "ended without releasing it" in flat, flat
    assert not (out / "run.lock").exists()  # released at the end
    other = _spec_file(tmp_path, NO_FIT | {"seeds": 2})  # another spec: refused, lock released
    refused = CliRunner().invoke(app, ["bench", "run", str(other), "--out", str(out)])
    assert refused.exit_code == 2 and "holds another spec" in refused.output
    assert not (out / "run.lock").exists()
