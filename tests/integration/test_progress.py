"""Progress: lines off a terminal, nested bars on one, task reports from every executor."""

import io

import pytest
from conftest import run_cli

import seqrl
from seqrl.scenarios.progress import ProgressDisplay

STEPS_SCENARIO = """
import time

from seqrl.scenarios import Param, report_progress, scenario


@scenario(name="steps", description="Reports its progress.", params=[Param("x", int, 1, low=0)],
          grid={"x": [0, 1, 2]})
def steps(params, rng):
    for step in range(1, 11):
        time.sleep(0.05)
        report_progress(step, 10, "steps")
    return {"y": float(rng.random())}
"""


@pytest.fixture
def steps_file(tmp_path):
    path = tmp_path / "steps.py"
    path.write_text(STEPS_SCENARIO)
    return path


def test_piped_process_run_prints_task_and_run_lines(tmp_path, steps_file):
    completed = run_cli("run", f"{steps_file}:steps", "--seeds", "1", "--workers", "2",
                        "--progress-every", "0.01", "--out", tmp_path / "o")  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    lines = completed.stderr.splitlines()
    task_lines = [line for line in lines if line.startswith("steps:   task ")]
    finished = {line.split()[2] for line in task_lines if "10/10 steps (100%)" in line}
    assert len(finished) == 3  # every task's last report reached the main process
    assert lines[-1].startswith("steps: 3/3 tasks (100%), ") and "tasks/s" in lines[-1]


def test_quiet_prints_no_progress(tmp_path, steps_file):
    completed = run_cli("--quiet", "run", f"{steps_file}:steps", "--seeds", "1",
                        "--out", tmp_path / "o")  # fmt: skip
    assert completed.returncode == 0 and completed.stderr == ""


def test_progress_of_a_ray_task_reaches_the_main_process(steps_file):
    pytest.importorskip("ray")
    reports = []
    result = seqrl.run(f"{steps_file}:steps", seeds=1, executor="ray", workers=2,
                       task_progress=lambda *report: reports.append(report))  # fmt: skip
    assert len(result.results) == 3
    last = {task_id: (done, total, unit) for task_id, done, total, unit in reports}
    assert last == {task_id: (10, 10, "steps") for task_id in result.results["task_id"]}


def test_serial_reports_are_throttled_but_keep_the_last(steps_file):
    reports = []
    seqrl.run(f"{steps_file}:steps", seeds=1, task_progress=lambda *r: reports.append(r))
    per_task = {}
    for task_id, done, _, _ in reports:
        per_task.setdefault(task_id, []).append(done)
    assert len(per_task) == 3
    for dones in per_task.values():  # 10 reports in 0.5 s: the first, then at most one in 0.5 s
        assert dones[0] == 1 and dones[-1] == 10 and len(dones) <= 3


def test_terminal_mode_draws_a_bar_per_running_task_and_closes_them():
    stream = io.StringIO()
    display = ProgressDisplay("demo", stream=stream, terminal=True)
    display.task("a", 5, 10, "steps")
    display.task("b", 1, 4, "turns")
    assert set(display._task_bars) == {"a", "b"}
    display.task("a", 10, 10, "steps")
    display.tasks(1, 2)
    assert set(display._task_bars) == {"b"}
    display.close()
    assert "demo" in stream.getvalue() and "turns" in stream.getvalue()
