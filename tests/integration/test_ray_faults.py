"""The Ray executor under signals, an unreachable cluster and token authentication (real Ray)."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import SEQRL, run_cli
from test_run_faults import _alive, _descendants, _one_line, _start, _task_files

pytest.importorskip("ray")


@pytest.mark.parametrize(("stop", "to_group", "status"), [
    (signal.SIGINT, True, 130),   # Ctrl-C in a terminal: the whole process group
    (signal.SIGTERM, False, 143),  # a scheduler stopping the job
])  # fmt: skip
def test_signals_cancel_ray_tasks_keep_finished_ones_and_leave_no_process(
    tmp_path, user_file, log_env, stop, to_group, status
):
    out = tmp_path / "ray"
    args = ["run", f"{user_file}:slow-sum", "--set", "delay=1", "--seeds", "4",
            "--executor", "ray", "--out", out]  # fmt: skip
    main_process = _start(args, log_env)
    deadline = time.monotonic() + 120
    while len(_task_files(out)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_task_files(out)) >= 3
    ray_processes = _descendants(main_process.pid)
    (os.killpg if to_group else os.kill)(main_process.pid, stop)
    _, stderr = main_process.communicate(timeout=60)
    assert main_process.returncode == status, stderr
    assert "run the same command to resume" in _one_line(stderr)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert manifest["workers"] == os.cpu_count()  # --executor ray alone uses every local CPU
    saved = len(_task_files(out))
    assert 3 <= saved < 16 and len(pd.read_parquet(out / "results.parquet")) == saved
    deadline = time.monotonic() + 20
    while any(map(_alive, ray_processes)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in ray_processes if _alive(pid)], "Ray processes outlived the run"

    resumed = run_cli(*args, env=log_env)
    assert resumed.returncode == 0, resumed.stderr
    assert len(pd.read_parquet(out / "results.parquet")) == 16


def test_unreachable_cluster_fails_fast_and_writes_nothing(tmp_path):
    out = tmp_path / "o"
    started = time.monotonic()
    completed = run_cli("run", "example-random-walk", "--quick", "--executor", "ray",
                        "--ray-address", "127.0.0.1:1", "--out", out)  # fmt: skip
    assert completed.returncode == 2
    assert "cannot reach a Ray cluster there" in _one_line(completed.stderr)
    assert time.monotonic() - started < 15
    assert not out.exists()


@pytest.fixture
def token_cluster(tmp_path, log_env):
    """A real `ray start --head` cluster of one CPU with Ray's default token authentication, its
    token in ~/.ray/auth_token of a private HOME; its workers log to ``log_env``'s file."""
    ray_cli = shutil.which("ray", path=str(Path(SEQRL[0]).parent))
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), **log_env}
    for variable in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        env.pop(variable, None)
    # As on a machine where Ray made a token once: `ray start` then requires it by default.
    subprocess.run([ray_cli, "get-auth-token", "--generate"], env=env, check=True,
                   capture_output=True, timeout=60)  # fmt: skip
    port = 6500 + os.getpid() % 1000
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must be short
    subprocess.run([ray_cli, "start", "--head", f"--port={port}", "--num-cpus=1",
                    "--include-dashboard=false", f"--temp-dir={temp_dir}"],
                   env=env, check=True, capture_output=True, timeout=120)  # fmt: skip
    yield f"127.0.0.1:{port}", {"HOME": str(home)}
    subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True, timeout=120)
    shutil.rmtree(temp_dir, ignore_errors=True)


def test_token_authenticated_cluster_is_joined_or_refused_in_one_line(tmp_path, token_cluster):
    address, home = token_cluster
    assert (Path(home["HOME"]) / ".ray" / "auth_token").is_file()
    common = ["run", "example-random-walk", "--quick", "--seeds", "1", "--executor", "ray",
              "--ray-address", address]  # fmt: skip
    refused = run_cli(*common, "--out", tmp_path / "refused",
                      env={**home, "RAY_AUTH_TOKEN": "not-the-token"})  # fmt: skip
    assert refused.returncode == 2
    assert "set RAY_AUTH_TOKEN" in _one_line(refused.stderr)
    assert not (tmp_path / "refused").exists()
    joined = run_cli(*common, "--out", tmp_path / "joined", env=home)  # token from ~/.ray
    assert joined.returncode == 0, joined.stderr
    assert len(pd.read_parquet(tmp_path / "joined" / "results.parquet")) == 5


def test_a_stopped_run_leaves_no_task_running_on_the_cluster(tmp_path, user_file, log_env,
                                                             token_cluster):  # fmt: skip
    """The driver does not cancel its tasks (Ray's cancel can abort it); ending its job must."""
    address, home = token_cluster
    out = tmp_path / "cluster"
    args = ["run", f"{user_file}:slow-sum", "--set", "delay=4", "--seeds", "4", "--executor",
            "ray", "--ray-address", address, "--out", out]  # fmt: skip
    main_process = _start(args, {**log_env, **home})
    deadline = time.monotonic() + 120
    while not _task_files(out) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _task_files(out)  # the next task has just started its 4 s sleep
    os.kill(main_process.pid, signal.SIGTERM)
    _, stderr = main_process.communicate(timeout=60)
    assert main_process.returncode == 143, stderr
    time.sleep(6)  # a task left running would finish, and log its line, within 4 s
    logged = Path(log_env["SEQRL_TEST_LOG"]).read_text().splitlines()
    assert len(logged) == len(_task_files(out)) == len(pd.read_parquet(out / "results.parquet"))


def test_an_interrupted_api_run_ends_its_ray_and_its_running_tasks(tmp_path, user_file, log_env,
                                                                   monkeypatch):  # fmt: skip
    import ray

    import seqrl

    monkeypatch.setenv("SEQRL_TEST_LOG", log_env["SEQRL_TEST_LOG"])  # read by Ray's workers

    def interrupt(done, total):
        raise KeyboardInterrupt  # Ctrl-C in a notebook, after the first finished task

    out = tmp_path / "api"
    with pytest.raises(KeyboardInterrupt):
        seqrl.run(f"{user_file}:slow-sum", params={"delay": 3.0}, seeds=2, executor="ray",
                  workers=1, out=out, progress=interrupt)  # fmt: skip
    assert not ray.is_initialized()
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    time.sleep(5)  # the next task, 3 s long and just started, would have logged by now
    logged = Path(log_env["SEQRL_TEST_LOG"]).read_text().splitlines()
    assert len(logged) == len(_task_files(out)) == 1
