"""Helpers for driving the real ``seqrl`` command in a subprocess, and a real local
OpenAI-compatible server (llama-cpp-python's) for the tests of the openai backend."""

import os
import socket
import subprocess
import sys
import time
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    """A llama-cpp-python server of the embedded SmolLM2 model; yields its API root."""
    from seqrl.agents.vad_llm_backends import default_model_path

    port = _free_port()
    # The server logs every request: to a file, since an unread pipe would fill up and block it.
    log = (tmp_path_factory.mktemp("server") / "server.log").open("w+")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(default_model_path()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--model_alias",
            "smollm2",
            "--n_threads",
            "1",
            "--n_threads_batch",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(
                        f"llama_cpp.server did not start: {log.read()[-2000:]}"
                    ) from None
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
