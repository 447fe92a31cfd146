"""Executors run cells in real worker processes: results, failures, timeouts, deaths, Ctrl-C."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from bench_tasks import ctrl_c_as_in_a_terminal  # tests/ is on sys.path (pytest rootdir)
from mmmlab.bench.run import worker
from mmmlab.bench.run.executor import Outcome, Task
from mmmlab.bench.run.executors import make_executor
from mmmlab.bench.run.local import LocalExecutor
from mmmlab.bench.run.ray_executor import RayExecutor
from mmmlab.bench.run.runner import worker_env
from mmmlab.bench.run.worker import resolve
from mmmlab.runtime import MIN_HOST_DEVICES, host_device_count

TASKS_FN = "bench_tasks:act"
TESTS_DIR = Path(__file__).parent


def _tasks(*payloads: tuple) -> list[Task]:
    return [Task(f"cell-{i}", payload) for i, payload in enumerate(payloads)]


def _alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (Linux /proc; else signal 0)."""
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc").is_dir():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (FileNotFoundError, ProcessLookupError):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_results_come_back_in_task_order_and_failures_stay_in_their_cell():
    tasks = _tasks(
        ("return", 1),
        ("raise", "boom-123"),
        ("return", {"a": [2]}),
        ("return", threading.Lock()),
        ("unpicklable", None),
        ("allocate", 2**60),
        ("return", 6),
    )
    outcomes = LocalExecutor(n_workers=2).run(tasks, TASKS_FN)

    assert [o.name for o in outcomes] == [t.name for t in tasks]
    status = [o.status for o in outcomes]
    assert status == ["done", "failed", "done", "failed", "failed", "failed", "done"]
    assert [outcomes[i].result for i in (0, 2, 6)] == [1, {"a": [2]}, 6]
    assert all(o.error == "" for o in outcomes if o.status == "done")
    assert "Traceback" in outcomes[1].error and "ValueError: boom-123" in outcomes[1].error
    assert "payload could not be pickled" in outcomes[3].error
    assert "result could not be pickled" in outcomes[4].error
    assert "MemoryError" in outcomes[5].error
    assert all(o.worker.startswith("local-") and o.seconds >= 0 for o in outcomes)
    assert {o.worker for o in outcomes} <= {"local-1", "local-2"}  # no failure cost a worker


def test_a_worker_serves_every_cell_in_one_process_with_the_given_env():
    key = "MMMLAB_EXECUTOR_TEST_VAR"
    assert key not in os.environ
    tasks = _tasks(
        ("pid", None), ("env", key), ("env_at_import", key), ("pid", None), ("pid", None)
    )
    outcomes = LocalExecutor(n_workers=1, env={key: "from-the-driver"}).run(tasks, TASKS_FN)

    assert outcomes[1].result == outcomes[2].result == "from-the-driver"  # set before imports
    pids = {outcomes[i].result for i in (0, 3, 4)}
    assert len(pids) == 1 and os.getpid() not in pids
    assert key not in os.environ  # the driver's own environment is left as it was


def test_a_timeout_kills_the_worker_and_the_next_cell_gets_a_fresh_one():
    started: list[tuple[str, str, float]] = []
    finished: list[tuple[Outcome, float]] = []
    tasks = _tasks(("pid", None), ("sleep", 60), ("pid", None))
    executor = LocalExecutor(n_workers=1, timeout_s=1.5)
    outcomes = executor.run(
        tasks,
        TASKS_FN,
        on_start=lambda name, worker: started.append((name, worker, time.monotonic())),
        on_outcome=lambda outcome: finished.append((outcome, time.monotonic())),
    )
    run_ended = time.monotonic()

    first, slow, last = outcomes
    assert slow.status == "failed" and slow.error == "timed out after 1.5 s"
    assert 1.5 <= slow.seconds < 5
    assert first.status == last.status == "done"
    assert first.result != last.result and first.worker != last.worker
    # callbacks fire as cells progress, each start before its outcome, outcomes before the end
    assert [name for name, _, _ in started] == [t.name for t in tasks]
    assert [worker for _, worker, _ in started] == [o.worker for o in outcomes]
    assert [outcome for outcome, _ in finished] == outcomes
    for (_, _, t_start), (_, t_done) in zip(started, finished, strict=True):
        assert t_start <= t_done
    assert run_ended - finished[0][1] > 1.0


def test_a_dead_worker_fails_its_cell_with_the_exit_code_and_the_rest_complete():
    tasks = _tasks(("exit", 3), ("sigkill", None), ("return", "after"))
    outcomes = LocalExecutor(n_workers=2).run(tasks, TASKS_FN)

    died, killed, after = outcomes
    assert died.error == "worker process died (exit code 3) while running this cell"
    assert killed.error == "worker process died (signal SIGKILL) while running this cell"
    assert died.status == killed.status == "failed"
    assert after.status == "done" and after.result == "after"


def test_workers_that_cannot_start_stop_the_run_with_a_clear_error():
    env = {"BENCH_TASKS_EXIT_ON_IMPORT": "5"}
    with pytest.raises(RuntimeError, match=r"before they are ready \(exit code 5\)"):
        LocalExecutor(n_workers=1, env=env).run(_tasks(("return", 1)), TASKS_FN)


def test_nothing_to_run_and_bad_arguments_are_clear():
    start = time.monotonic()
    assert LocalExecutor().run([], TASKS_FN) == []
    assert time.monotonic() - start < 0.5
    with pytest.raises(ValueError, match="no_such_module_xyz"):
        LocalExecutor().run(_tasks(("return", 1)), "no_such_module_xyz:fn")
    with pytest.raises(ValueError, match="package.module:function"):
        resolve("bench_tasks.act")
    with pytest.raises(ValueError, match="nope"):
        resolve("bench_tasks:nope")
    assert resolve(TASKS_FN)(("return", 5)) == 5
    with pytest.raises(ValueError, match="n_workers"):
        LocalExecutor(n_workers=0)
    with pytest.raises(ValueError, match="timeout_s"):
        LocalExecutor(timeout_s=0)
    with pytest.raises(ValueError, match="'local', 'ray'|local, ray"):
        make_executor("dask")
    with pytest.raises(ValueError, match="address"):
        make_executor("local", address="head:6379")
    assert isinstance(make_executor("local", n_workers=2), LocalExecutor)
    assert isinstance(make_executor("ray", timeout_s=5), RayExecutor)


def test_the_worker_file_imports_the_standard_library_alone():
    """A local worker runs `worker.py` by path, before it imports mmmlab (and JAX) for its
    worker function: an import of anything else there would load it into every worker."""
    tree = ast.parse(Path(worker.__file__).read_text())
    found = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    }
    assert found and found <= set(sys.stdlib_module_names) | {"__future__"}, found
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]


_DRIVER = """
import sys
sys.path.insert(0, {tests_dir!r})
from mmmlab.bench.run.executor import Task
from mmmlab.bench.run.local import LocalExecutor
tasks = [Task("long", ("pid_file_sleep", ({pid_file!r}, 60)))]
LocalExecutor(n_workers=1).run(
    tasks, "bench_tasks:act", on_outcome=lambda o: print("outcome", o.name, flush=True)
)
print("returned", flush=True)
"""


def _start_driver(tmp_path: Path) -> tuple[subprocess.Popen, int]:
    pid_file = tmp_path / "worker.pid"
    script = _DRIVER.format(tests_dir=str(TESTS_DIR), pid_file=str(pid_file))
    driver = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )
    deadline = time.monotonic() + 40
    while not (pid_file.exists() and pid_file.read_text()):
        if driver.poll() is not None or time.monotonic() > deadline:
            driver.kill()
            pytest.fail(f"the worker never started the task:\n{driver.communicate()[1]}")
        time.sleep(0.1)
    return driver, int(pid_file.read_text())


def test_ctrl_c_stops_the_workers_reports_nothing_and_raises(tmp_path):
    driver, worker_pid = _start_driver(tmp_path)
    assert _alive(worker_pid)
    interrupted = time.monotonic()
    driver.send_signal(signal.SIGINT)
    try:  # seconds on an idle machine; the margin is for a loaded one
        stdout, stderr = driver.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        driver.kill()
        pytest.fail("the driver did not exit within 30 s of Ctrl-C")
    assert time.monotonic() - interrupted < 30
    assert driver.returncode != 0
    assert "KeyboardInterrupt" in stderr
    assert "outcome" not in stdout and "returned" not in stdout
    assert _gone_within(worker_pid, 5)


def test_workers_exit_when_the_driver_is_killed(tmp_path):
    driver, worker_pid = _start_driver(tmp_path)
    driver.kill()
    driver.communicate()
    assert _gone_within(worker_pid, 5)


# ---------------------------------------------------------------------------------------------
# Ray: one local instance for the module
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_instance():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.xdist_group("ray")
def test_ray_runs_cells_and_maps_errors_timeouts_and_deaths(ray_instance):
    started: list[str] = []
    finished: list[Outcome] = []
    tasks = _tasks(  # the slow cell first: its timeout runs while the others go through
        ("sleep", 600),
        ("return", 1),
        ("raise", "ray-boom-7"),
        ("exit", 3),
        ("env", "MMMLAB_EXECUTOR_TEST_VAR"),
    )
    env = {
        "MMMLAB_EXECUTOR_TEST_VAR": "on-ray",
        "PYTHONPATH": str(TESTS_DIR),
    }  # Ray workers get no sys.path
    # Each cell's clock starts as it is submitted, so a worker's start-up counts: on a loaded
    # 2-core machine (a fresh-clone CI run beside a benchmark) that passed 30 s.
    executor = RayExecutor(timeout_s=90, env=env)
    outcomes = executor.run(
        tasks,
        TASKS_FN,
        on_start=lambda name, worker: started.append(name),
        on_outcome=finished.append,
    )

    assert [o.name for o in outcomes] == [t.name for t in tasks]
    assert sorted(started) == sorted(t.name for t in tasks)
    assert sorted(finished) == sorted(outcomes)
    slow, value, error, died, env_value = outcomes
    assert value.status == "done", value.error
    assert value.result == 1 and value.worker.startswith("ray-")
    assert error.status == "failed" and "ValueError: ray-boom-7" in error.error
    assert slow.status == "failed" and slow.error == "timed out after 90 s"
    assert died.status == "failed" and died.error.startswith("worker process died")
    assert env_value.status == "done" and env_value.result == "on-ray"
    assert ray_instance.is_initialized()  # it was not this executor's to shut down


def test_worker_env_gives_each_worker_its_cores_and_at_least_four_devices():
    assert host_device_count(2) == MIN_HOST_DEVICES == 4
    assert host_device_count(16) == 16
    cores = os.cpu_count() or 1
    flag = worker_env(1)["XLA_FLAGS"]
    assert flag == f"--xla_force_host_platform_device_count={max(cores, 4)}"
    assert worker_env(10 * cores)["XLA_FLAGS"].endswith("=4")
