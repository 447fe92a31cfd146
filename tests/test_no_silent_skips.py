"""tests/conftest.py fails a run with any skip outside tests/peers, and names each one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SKIPPING = """import pytest
def test_runs(): pass
def test_skips(): pytest.skip("inner reason")
@pytest.mark.skipif(True, reason="marked reason")
def test_marked(): pass
@pytest.mark.xfail(reason="a known bug")
def test_xfails(): assert False
"""
PEER = 'import pytest\ndef test_peer(): pytest.skip("peer library missing")\n'


def _run(root: Path, files: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """pytest on `files` under root/tests, with this suite's conftest.py and no other config."""
    (root / "tests" / "peers").mkdir(parents=True)
    shutil.copy(TESTS / "conftest.py", root / "tests" / "conftest.py")
    (root / "pytest.ini").write_text("[pytest]\n")
    for name, text in files.items():
        (root / "tests" / name).write_text(text)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests", *args]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)


def test_a_skip_outside_peers_fails_the_run_and_is_named(tmp_path):
    module = 'import pytest\npytest.importorskip("no_such_module_here")\ndef test_x(): pass\n'
    files = {"test_a.py": SKIPPING, "test_m.py": module, "peers/test_p.py": PEER}
    done = _run(tmp_path, files, "-n", "2")  # workers, as `make test` runs
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert "skipped outside tests/peers: the run fails" in done.stdout
    assert "tests/test_a.py::test_skips: Skipped: inner reason" in done.stdout
    assert "tests/test_a.py::test_marked: Skipped: marked reason" in done.stdout
    assert "tests/test_m.py: Skipped: could not import 'no_such_module_here'" in done.stdout
    assert "1 passed, 4 skipped, 1 xfailed" in done.stdout  # pytest's own line counts them
    assert "test_peer" not in done.stdout and "test_xfails" not in done.stdout


def test_skips_under_peers_and_xfails_pass(tmp_path):
    xfail = '@__import__("pytest").mark.xfail\ndef test_x(): assert False\n'
    done = _run(tmp_path, {"test_a.py": xfail, "peers/test_p.py": PEER})
    assert done.returncode == pytest.ExitCode.OK, done.stdout + done.stderr
    assert "1 skipped, 1 xfailed" in done.stdout and "the run fails" not in done.stdout
