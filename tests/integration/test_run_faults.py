"""Faults a run directory must survive: concurrent runs, damaged files, full disks, bad values,
signals, dead processes. Each test injects its fault and checks that nothing is mixed, lost or
corrupted, and that the user sees one line and a documented exit status."""

import errno
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import SEQRL, run_cli

from seqrl.scenarios import storage
from seqrl.scenarios.cli import main


def _start(args, env=None):
    return subprocess.Popen(
        [*SEQRL, *map(str, args)],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _runs_logged(log_env) -> int:
    log = Path(log_env["SEQRL_TEST_LOG"])
    return len(log.read_text().splitlines()) if log.exists() else 0


def _task_files(out: Path) -> list[Path]:
    return sorted(p for p in (out / "tasks").glob("*.parquet") if ".traj." not in p.name)


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("seqrl:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


# -- 1. two runs into one directory ------------------------------------------------------------


def test_second_run_into_a_locked_directory_is_refused(tmp_path, user_file, log_env):
    out = tmp_path / "d"
    first = _start(["run", f"{user_file}:slow-sum", "--set", "delay=1.5", "--seeds", "1",
                    "--out", out], log_env)  # fmt: skip
    deadline = time.monotonic() + 60
    while not (out / "manifest.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    # Another grid and the same grid, both while the first holds the lock.
    other = run_cli("run", f"{user_file}:slow-sum", "--set", "x=7", "--seeds", "1", "--out", out)
    same = run_cli("run", f"{user_file}:slow-sum", "--set", "delay=1.5", "--seeds", "1",
                   "--out", out, env=log_env)  # fmt: skip
    _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    for refused in (other, same):
        assert refused.returncode == 2
        line = _one_line(refused.stderr)
        assert f"is in use by pid {first.pid}" in line and "slow-sum" in line
    results = pd.read_parquet(out / "results.parquet")
    assert sorted(results["x"]) == [0, 1, 2, 3]  # one grid, each task once
    assert _runs_logged(log_env) == 4
    assert json.loads((out / "manifest.json").read_text())["n_tasks"] == 4


def test_runs_started_at_the_same_moment_never_mix(tmp_path, user_file):
    out = tmp_path / "race"
    grids = [["--set", "x=0,1"], ["--set", "x=5,6"], ["--set", "x=0,1"]]
    processes = [
        _start(
            [
                "run",
                f"{user_file}:slow-sum",
                *grid,
                "--set",
                "delay=0.5",
                "--seeds",
                "1",
                "--out",
                out,
            ],
            {"SEQRL_TEST_LOG": str(tmp_path / f"log{i}")},
        )  # fmt: skip
        for i, grid in enumerate(grids)
    ]
    codes = [p.wait(timeout=120) for p in processes]
    assert sorted(codes) == [0, 2, 2], [p.stderr.read() for p in processes]
    winner = grids[codes.index(0)]
    expected = [int(v) for v in winner[1].removeprefix("x=").split(",")]
    assert sorted(pd.read_parquet(out / "results.parquet")["x"]) == expected


def test_lock_of_a_killed_run_is_taken_over(tmp_path, user_file, log_env):
    out = tmp_path / "stale"
    args = ["run", f"{user_file}:slow-sum", "--set", "delay=2", "--seeds", "1", "--out", out]
    first = _start(args, log_env)
    deadline = time.monotonic() + 60
    while not (out / "manifest.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    assert json.loads((out / ".lock").read_text())["pid"] == first.pid  # the stale holder
    resumed = run_cli(*args, env=log_env)
    assert resumed.returncode == 0, resumed.stderr


# -- 2. damaged task files and manifests ---------------------------------------------------------


@pytest.fixture
def finished_run(tmp_path, user_file, log_env):
    out = tmp_path / "done"
    args = ["run", f"{user_file}:slow-sum", "--seeds", "2", "--out", out]
    completed = run_cli(*args, env=log_env)
    assert completed.returncode == 0, completed.stderr
    return out, args


def test_damaged_task_files_are_quarantined_and_recomputed(finished_run, log_env):
    out, args = finished_run
    truncated, garbage, foreign, *_ = _task_files(out)
    truncated.write_bytes(truncated.read_bytes()[:100])
    garbage.write_bytes(b"not parquet at all")
    # A valid Parquet file that is not this task: another task's row under this task's name.
    foreign.write_bytes(_task_files(out)[-1].read_bytes())

    report = run_cli("report", out)
    assert report.returncode == 0, report.stderr
    warnings = [line for line in report.stderr.splitlines() if "quarantine" in line]
    assert len(warnings) == 3
    assert len(pd.read_parquet(out / "results.parquet")) == 5
    assert sorted(p.name for p in (out / "quarantine").iterdir()) == sorted(
        p.name for p in (truncated, garbage, foreign)
    )

    before = _runs_logged(log_env)
    resumed = run_cli(*args, env=log_env)
    assert resumed.returncode == 0, resumed.stderr
    assert _runs_logged(log_env) - before == 3  # exactly the three damaged tasks ran again
    results = pd.read_parquet(out / "results.parquet")
    assert len(results) == 8 and results["task_id"].is_unique


@pytest.mark.parametrize("damage", ["truncated", "empty object", "array", "old schema"])
def test_damaged_manifest_is_one_line_and_repairable(finished_run, log_env, damage):
    out, args = finished_run
    manifest = out / "manifest.json"
    text = manifest.read_text()
    manifest.write_text(
        {
            "truncated": text[: len(text) // 2],
            "empty object": "{}",
            "array": "[1, 2]",
            "old schema": json.dumps({**json.loads(text), "schema": 1}),
        }[damage]
    )
    for attempt in (run_cli(*args, env=log_env), run_cli("report", out)):
        assert attempt.returncode == 2
        line = _one_line(attempt.stderr)
        assert str(manifest) in line and "--repair" in line and "--fresh" in line
    before = _runs_logged(log_env)
    repaired = run_cli(*args, "--repair", env=log_env)
    assert repaired.returncode == 0, repaired.stderr
    assert _runs_logged(log_env) == before  # every task file verified; nothing recomputed
    assert json.loads(manifest.read_text())["status"] == "complete"
    assert len(pd.read_parquet(out / "results.parquet")) == 8


def test_fresh_clears_a_run_whose_manifest_is_damaged(finished_run, log_env):
    out, args = finished_run
    (out / "manifest.json").write_text("{")
    fresh = run_cli(*args, "--fresh", env=log_env)
    assert fresh.returncode == 0, fresh.stderr
    assert len(pd.read_parquet(out / "results.parquet")) == 8


# -- 3. bad input that used to write or trace back -------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--seed", "-5"], "seed must be an integer >= 0, got -5"),
        (["--out", ""], "--out must name a directory"),
        (["--out", "/proc/seqrl-test/x"], "cannot write /proc/seqrl-test"),
        (["--set", "n_walks=600", "--workers", "0"], "workers must be an integer >= 1"),
    ],
)
def test_bad_run_options_exit_2_and_write_nothing(tmp_path, extra, fragment):
    completed = run_cli("run", "example-random-walk", "--quick", *extra, cwd=tmp_path)
    assert completed.returncode == 2
    assert fragment in _one_line(completed.stderr)
    assert list(tmp_path.iterdir()) == []


def test_scenario_file_that_exits_at_import_is_one_line(tmp_path):
    script = tmp_path / "exits.py"
    script.write_text("import sys\nsys.exit(3)\n")
    completed = run_cli("run", f"{script}:x", "--out", tmp_path / "o")
    assert completed.returncode == 2
    assert "failed to load: called sys.exit(3)" in _one_line(completed.stderr)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("scenario", "assignment"),
    [
        ("irl-mce-wrong-discount", "temperature=inf"),
        ("irl-perturbation", "scale=inf"),
        ("dp-hitting-time", "bound=inf"),
        ("dp-heterogeneous", "budget_high=nan"),
        ("example-random-walk", "p=-inf"),
    ],
)
def test_infinite_and_nan_values_are_refused_where_unusable(tmp_path, capsys, scenario, assignment):
    out = tmp_path / "o"
    assert main(["run", scenario, "--quick", "--set", assignment, "--out", str(out)]) == 2
    name = assignment.partition("=")[0]
    assert f"seqrl: error: {name}=" in capsys.readouterr().err
    assert not out.exists()


def test_infinite_epsilon_still_means_no_privacy(tmp_path, capsys):
    assert main(["run", "dp-binary-cascade", "--dry-run", "--set", "epsilon=inf"]) == 0


def test_messages_name_their_parameter(tmp_path, capsys):
    cases = [
        (["dp-heterogeneous", "--set", "budget_low=2", "--set", "budget_high=1"], "budget_high"),
        (["vad-dialogue", "--set", "backend=openai", "--set", "openai_base_url=notaurl"],
         "openai_base_url='notaurl'"),
    ]  # fmt: skip
    for args, name in cases:
        assert main(["run", *args, "--out", str(tmp_path / "o")]) == 2
        assert name in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# -- 4. a full disk ------------------------------------------------------------------------------


def test_full_disk_mid_run_is_one_line_and_loses_nothing(tmp_path, capsys, monkeypatch, user_file):
    out = tmp_path / "full"
    args = ["run", f"{user_file}:slow-sum", "--seeds", "2", "--out", str(out)]
    monkeypatch.setenv("SEQRL_TEST_LOG", str(tmp_path / "log"))
    written = []
    real_write = storage.pq.write_table

    def filling_disk(table, path, **kwargs):
        if len(written) >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(path)
        return real_write(table, path, **kwargs)

    monkeypatch.setattr(storage.pq, "write_table", filling_disk)
    assert main(args) == 2
    line = _one_line(capsys.readouterr().err)
    assert "No space left on device (ENOSPC)" in line and str(out / "tasks") in line
    assert len(_task_files(out)) == 3
    assert not list((out / "tasks").glob(".*.tmp"))  # no half-written file is left behind

    monkeypatch.setattr(storage.pq, "write_table", real_write)
    assert main(args) == 0
    assert len(pd.read_parquet(out / "results.parquet")) == 8


def test_internal_error_keeps_the_traceback_off_the_terminal(tmp_path):
    script = tmp_path / "bad_plot.py"
    script.write_text(
        "from seqrl.scenarios import Param, scenario\n"
        "def plot(results, trajectories):\n"
        "    raise RuntimeError('plot bug')\n"
        "@scenario(name='bad-plot', description='d', params=[Param('x', int, 1)], plot=plot)\n"
        "def bad_plot(params, rng):\n"
        "    return {'y': 1.0}\n"
    )
    out = tmp_path / "o"
    completed = run_cli("run", f"{script}:bad-plot", "--seeds", "1", "--out", out)
    assert completed.returncode == 1
    line = _one_line(completed.stderr)
    assert "internal error: RuntimeError: plot bug" in line
    (kept,) = (out / "errors").glob("seqrl-*.txt")
    assert "Traceback" in kept.read_text() and str(kept) in line
    assert len(_task_files(out)) == 1  # the finished task is kept
    debug = run_cli("--debug", "run", f"{script}:bad-plot", "--seeds", "1", "--out", out)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


# -- 8. dead processes ----------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state


def _descendants(pid: int) -> set[int]:
    found, frontier = set(), [pid]
    while frontier:
        parent = frontier.pop()
        for path in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = path.read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if int(fields[1]) == parent:
                child = int(path.parent.name)
                found.add(child)
                frontier.append(child)
    return found


def test_no_worker_outlives_a_killed_main_process(tmp_path, user_file, log_env):
    out = tmp_path / "orphans"
    main_process = _start(["run", f"{user_file}:slow-sum", "--set", "delay=30", "--seeds", "2",
                           "--workers", "2", "--out", out], log_env)  # fmt: skip
    deadline = time.monotonic() + 60
    children: set[int] = set()
    while len(children) < 3 and time.monotonic() < deadline:  # 2 workers + resource tracker
        time.sleep(0.2)
        children = _descendants(main_process.pid)
    assert len(children) >= 3
    main_process.send_signal(signal.SIGKILL)  # the main process only, not its group
    main_process.wait(timeout=30)
    deadline = time.monotonic() + 15
    while any(map(_alive, children)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)], "workers outlived the main process"


def test_dead_worker_fails_only_its_own_task_and_errors_clear(tmp_path, user_file, log_env):
    out = tmp_path / "dead"
    args = ["run", f"{user_file}:slow-sum", "--seeds", "2", "--workers", "2", "--out", out]
    crashed = run_cli(*args, env={**log_env, "SEQRL_TEST_CRASH": "1"})
    assert crashed.returncode == 1
    manifest = json.loads((out / "manifest.json").read_text())
    results = pd.read_parquet(out / "results.parquet")
    assert sorted(results["x"]) == [0, 0, 2, 2, 3, 3]  # only x=1 (its two seeds) failed
    assert len(manifest["failed_tasks"]) == 2
    for task in manifest["failed_tasks"]:
        assert "exited with status 3" in (out / "errors" / f"{task}.txt").read_text()
    resumed = run_cli(*args, env=log_env)
    assert resumed.returncode == 0, resumed.stderr
    assert not list((out / "errors").glob("*.txt"))


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 200 KiB tmpfs (needs the privilege to mount; skipped, and reported so, without)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", mount_point],
                             capture_output=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", mount_point], check=True)


def test_a_really_full_disk_is_one_line_and_keeps_finished_tasks(tiny_disk):
    out = tiny_disk / "run"
    completed = run_cli("run", "example-random-walk", "--quick", "--set", "n_walks=600",
                        "--out", out)  # fmt: skip
    assert completed.returncode == 2
    line = _one_line(completed.stderr)
    assert "No space left on device (ENOSPC)" in line and str(out) in line
    assert not [p for p in out.rglob("*.tmp")]
    for task in _task_files(out):  # what was written before the disk filled up reads back whole
        assert len(pd.read_parquet(task)) == 1
