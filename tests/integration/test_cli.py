"""The CLI contract of DESIGN.md, end to end through real subprocesses."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import SEQRL, run_cli

from seqrl.scenarios.cli import main
from seqrl.scenarios.library.example import ruin_probability

TIMING_COLUMNS = ["elapsed_s"]


def test_list_shows_builtin_example():
    completed = run_cli("list")
    assert completed.returncode == 0
    assert any(line.startswith("example-random-walk ") for line in completed.stdout.splitlines())
    detail = run_cli("list", "example-random-walk")
    assert "n_walks (int, default 2000" in detail.stdout


def test_quick_run_writes_results_manifest_summary_and_plot(tmp_path):
    out = tmp_path / "walk"
    completed = run_cli("run", "example-random-walk", "--quick", "--seeds", "3", "--out", out)
    assert completed.returncode == 0, completed.stderr
    results = pd.read_parquet(out / "results.parquet")
    assert len(results) == 5 * 3
    assert {"scenario", "task_id", "p", "seed_index", "seed", "ruin_rate"} <= set(results.columns)
    # The engine must not distort the simulation: simulated ruin rates match the closed form.
    for p, group in results.groupby("p"):
        n = group["seed_index"].size * 500
        expected = ruin_probability(p, 5, 10)
        standard_error = (expected * (1 - expected) / n) ** 0.5
        assert abs(group["ruin_rate"].mean() - expected) < 4 * standard_error
    trajectories = pd.read_parquet(out / "trajectories.parquet")
    assert {"task_id", "seed_index", "p", "step", "absorbed"} <= set(trajectories.columns)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["identity"]["n_seeds"] == 3
    assert manifest["versions"]["numpy"] and manifest["finished"]
    summary = (out / "summary.md").read_text()
    assert "| p | seeds | ruin_rate |" in summary  # one table, metrics as columns
    assert "![ruin_probability](ruin_probability.png)" in summary
    assert (out / "ruin_probability.png").stat().st_size > 1000
    assert (out / "ruin_probability.svg").stat().st_size > 1000


def test_grid_from_set_and_report_regenerates_summary(tmp_path):
    out = tmp_path / "grid"
    completed = run_cli(
        "run", "example-random-walk", "--set", "p=0.3,0.7", "--set", "n_walks=50",
        "--seeds", "2", "--out", out,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert sorted(pd.read_parquet(out / "results.parquet")["p"].unique()) == [0.3, 0.7]
    (out / "summary.md").unlink()
    report = run_cli("report", out)
    assert report.returncode == 0, report.stderr
    text = (out / "summary.md").read_text()
    assert "| p | seeds | ruin_rate |" in text and "no confidence interval" in text  # 2 seeds


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "no-such-scenario"], "unknown scenario 'no-such-scenario'"),
        (["run", "example-random-walk", "--set", "bogus=1"], "unknown parameter 'bogus'"),
        (
            ["run", "example-random-walk", "--set", "n_walks=many"],
            "n_walks='many': expected an integer",
        ),
        (
            ["run", "example-random-walk", "--set", "p=1.5"],
            "p=1.5: expected a finite number > 0 and < 1",
        ),
        (["run", "example-random-walk", "--set", "start=20"], "start must be in [1, target)"),
        (["run", "example-random-walk", "--set", "p"], "expected KEY=VALUE"),
        (["run", "example-random-walk", "--seeds", "0"], "seeds must be an integer >= 1, got 0"),
        (["run", "example-random-walk", "--executor", "gpu"], "invalid choice: 'gpu'"),
        (["run", "example-random-walk", "--ray-address", "x:1"], "ray_address needs executor ray"),
        (["run", "missing_file.py:thing"], "does not exist"),
        (["report"], "the following arguments are required: directory"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, args, fragment):
    out = tmp_path / "out"
    assert main([*args, "--out", str(out)] if args[0] == "run" else args) == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and fragment in stderr
    assert not out.exists()


def test_bad_input_exit_status_reaches_the_shell(tmp_path):
    completed = run_cli("run", "example-random-walk", "--set", "p=-1", "--out", tmp_path / "o")
    assert completed.returncode == 2
    assert completed.stderr == "seqrl: error: p=-1.0: expected a finite number > 0 and < 1\n"
    assert not (tmp_path / "o").exists()


def test_unloadable_file_and_unwritable_out_exit_2(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def oops(:\n")
    completed = run_cli("run", f"{broken}:x", "--out", tmp_path / "o")
    assert completed.returncode == 2 and "failed to load: SyntaxError" in completed.stderr
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    completed = run_cli("run", "example-random-walk", "--quick", "--out", blocker / "sub")
    assert completed.returncode == 2 and "is not a directory" in completed.stderr
    assert blocker.read_text() == ""


def test_different_grid_into_existing_run_is_refused(tmp_path):
    out = tmp_path / "run"
    assert (
        run_cli("run", "example-random-walk", "--quick", "--seeds", "1", "--out", out).returncode
        == 0
    )
    before = sorted(p.name for p in out.rglob("*"))
    completed = run_cli("run", "example-random-walk", "--quick", "--seeds", "1",
                        "--set", "p=0.2", "--out", out)  # fmt: skip
    assert (
        completed.returncode == 2 and "holds a different run (differs in grid)" in completed.stderr
    )
    assert sorted(p.name for p in out.rglob("*")) == before


def test_user_file_scenario_runs(tmp_path, user_file, log_env):
    completed = run_cli("run", f"{user_file}:slow-sum", "--seeds", "2", "--out", tmp_path / "u",
                        env=log_env)  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    results = pd.read_parquet(tmp_path / "u" / "results.parquet")
    assert sorted(results["x"]) == [0, 0, 1, 1, 2, 2, 3, 3]


def _count_runs(log: Path) -> pd.Series:
    lines = [line.split() for line in log.read_text().splitlines()]
    return pd.Series([float(total) for _, total in lines]).round(9).value_counts()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_interrupted_run_resumes_without_losing_or_repeating_tasks(
    tmp_path, user_file, log_env, stop
):
    out = tmp_path / "r"
    args = ["run", f"{user_file}:slow-sum", "--set", "delay=0.3", "--seeds", "4", "--out", str(out)]
    process = subprocess.Popen([*SEQRL, *args], env={**os.environ, **log_env},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while len(list((out / "tasks").glob("*.parquet"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=60)
    saved_before = {p.name for p in (out / "tasks").glob("*.parquet")}
    assert 3 <= len(saved_before) < 16
    if stop != signal.SIGKILL:
        assert process.returncode == 128 + stop and "run the same command to resume" in stderr
        assert len(pd.read_parquet(out / "results.parquet")) == len(saved_before)

    resumed = run_cli(*args, env=log_env)
    assert resumed.returncode == 0, resumed.stderr
    results = pd.read_parquet(out / "results.parquet")
    assert len(results) == 16 and results["task_id"].is_unique
    runs = _count_runs(Path(log_env["SEQRL_TEST_LOG"]))
    saved_totals = pd.concat(pd.read_parquet(out / "tasks" / n) for n in saved_before)["total"]
    assert (runs[saved_totals.round(9)] == 1).all(), "a task finished before the stop ran again"


def test_crashed_worker_loses_nothing_finished(tmp_path, user_file, log_env):
    out = tmp_path / "c"
    args = ["run", f"{user_file}:slow-sum", "--seeds", "3", "--workers", "2", "--out", str(out)]
    crashed = run_cli(*args, env={**log_env, "SEQRL_TEST_CRASH": "2"})
    assert crashed.returncode == 1 and "tasks failed" in crashed.stderr
    kept = pd.read_parquet(out / "results.parquet")
    assert 2 not in set(kept["x"])
    resumed = run_cli(*args, env=log_env)
    assert resumed.returncode == 0, resumed.stderr
    results = pd.read_parquet(out / "results.parquet")
    assert len(results) == 12
    pd.testing.assert_frame_equal(
        results[results["task_id"].isin(kept["task_id"])].reset_index(drop=True),
        kept.reset_index(drop=True),
    )


def test_serial_process_and_ray_give_identical_results(tmp_path):
    common = ["run", "example-random-walk", "--quick", "--seeds", "2", "--seed", "11"]
    frames = {}
    for executor, extra in [("serial", []), ("process", ["--workers", "2"]),
                            ("ray", ["--workers", "2"])]:  # fmt: skip
        out = tmp_path / executor
        completed = run_cli(*common, "--executor", executor, *extra, "--out", out)
        assert completed.returncode == 0, completed.stderr
        frames[executor] = pd.read_parquet(out / "results.parquet").drop(columns=TIMING_COLUMNS)
    assert len(frames["serial"]) == 10
    pd.testing.assert_frame_equal(frames["serial"], frames["process"])
    pd.testing.assert_frame_equal(frames["serial"], frames["ray"])
