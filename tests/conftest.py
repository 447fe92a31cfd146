"""Import mmmlab before anything imports JAX, so tests see the same devices a user does.

No silent skips: a run in which any test outside ``peers/`` (the other libraries' MMMs, each in
its own environment) was skipped fails, naming each skipped test and its reason. The summary
line's skip count is the terminal reporter's, so this reads the same list."""

from pathlib import PurePath

import pytest

import mmmlab
from mmmlab.inference.programs import PROGRAMS

SKIPS_ALLOWED_UNDER = "peers"


def _skips_outside_peers(config: pytest.Config) -> list[str]:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    found = []
    for report in reporter.stats.get("skipped", []) if reporter else []:
        if SKIPS_ALLOWED_UNDER in PurePath(report.nodeid.split("::")[0]).parts:
            continue
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        found.append(f"{report.nodeid or report.fspath}: {reason}")
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller sees every report and decides
    if _skips_outside_peers(session.config) and exitstatus in (
        pytest.ExitCode.OK,
        pytest.ExitCode.NO_TESTS_COLLECTED,
    ):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    skips = _skips_outside_peers(config)
    if skips:
        terminalreporter.section("skipped outside tests/peers: the run fails", red=True)
        terminalreporter.line("A skip hides a check. Make the test run or remove it:", red=True)
        for line in skips:
            terminalreporter.line(f"  {line}", red=True)


@pytest.fixture(scope="module", autouse=True)
def _release_programs_after_each_module():
    """Free each module's compiled programs: a worker that keeps them all reaches Linux's
    limit on memory maps (65,530) and 10 GiB of memory by the suite's middle, and its next
    compile fails with "Cannot allocate memory"."""
    yield
    PROGRAMS.release()


@pytest.fixture(scope="session")
def small_example_fit():
    """A small NUTS fit of the example data, shared by the optimizer and scenario tests (one
    xdist group, so one worker fits it once)."""

    dataset, _ = mmmlab.example_dataset()
    return mmmlab.fit(dataset, seed=0, num_warmup=200, num_samples=100, num_chains=2)
