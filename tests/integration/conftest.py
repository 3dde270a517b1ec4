"""Helpers for driving the real ``seqrl`` command in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SEQRL = [sys.executable, "-m", "seqrl"]

# A user's scenario file: each task sleeps a little, then appends "x seed_index" to a log so that
# tests can count how often each task actually ran. SEQRL_TEST_CRASH=x makes the worker that runs
# parameter x die abruptly, like a crashed process.
USER_SCENARIO = """
import os
import time

from seqrl.scenarios import Param, scenario


@scenario(
    name="slow-sum",
    description="Sleeps, then sums uniform draws.",
    params=[Param("x", int, 1, "an integer", low=0), Param("delay", float, 0.0, low=0.0)],
    grid={"x": [0, 1, 2, 3]},
)
def slow_sum(params, rng):
    time.sleep(params["delay"])
    if os.environ.get("SEQRL_TEST_CRASH") == str(params["x"]):
        os._exit(3)
    total = float(rng.random(100).sum()) + params["x"]
    with open(os.environ["SEQRL_TEST_LOG"], "a") as log:
        log.write(f"{params['x']} {total:.12f}\\n")
    return {"total": total}
"""


def run_cli(
    *args: str,
    env: dict | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
    preexec=None,
):
    return subprocess.run(
        [*SEQRL, *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
        preexec_fn=preexec,
    )


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "user_scenarios.py"
    path.write_text(USER_SCENARIO)
    return path


@pytest.fixture
def log_env(tmp_path: Path) -> dict:
    return {"SEQRL_TEST_LOG": str(tmp_path / "runs.log")}
