"""System 3 scenarios: parameter checks (exit-2 errors), a tiny end-to-end run, plots."""

from __future__ import annotations

import subprocess
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest

from seqrl.agents.ads_expert_demos import ExpertDemos, save_demos
from seqrl.scenarios.cli import main
from seqrl.scenarios.core import BadInput
from seqrl.scenarios.library.ads import ads_demos, ads_metaworld, ads_toy
from seqrl.scenarios.runner import execute_task, plan

matplotlib.use("Agg")


def _params(scenario, **overrides):
    return {**{p.name: p.default for p in scenario.params}, **overrides}


def test_alpha_outside_unit_interval_is_bad_input() -> None:
    with pytest.raises(BadInput, match="alpha=1.5: expected a number > 0 and < 1"):
        ads_toy.param("alpha").parse("1.5")


def test_unknown_task_is_bad_input() -> None:
    with pytest.raises(BadInput, match="task='juggle-v3'"):
        ads_metaworld.param("task").parse("juggle-v3")


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((3, 23, 3), "demo length must equal the horizon 24"),
        ((1, 24, 3), "n_demos must be >= 2"),
        ((3, 24, 5), "dim must match"),
    ],
)
def test_bad_demos_rejected_by_check(tmp_path, shape, message) -> None:
    path = save_demos(tmp_path / "demos.npz", ExpertDemos(np.zeros(shape, dtype=np.float32)))
    with pytest.raises(ValueError, match=message):
        ads_toy.check(_params(ads_toy, demos=str(path)))


def test_cli_exits_2_on_bad_input(tmp_path, capsys) -> None:
    path = save_demos(tmp_path / "demos.npz", ExpertDemos(np.zeros((3, 12, 5), dtype=np.float32)))
    for setting in ("alpha=1.5", f"demos={path}", "schedule=cosine"):
        code = main(["run", "ads-toy", "--set", setting, "--out", str(tmp_path / "out")])
        assert code == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    # The same through the installed entry point, once.
    result = subprocess.run(
        [sys.executable, "-m", "seqrl.scenarios.cli", "run", "ads-metaworld", "--set", "alpha=0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "alpha=0" in result.stderr


def test_toy_run_end_to_end_with_saved_demos(tmp_path) -> None:
    # Through the runner, so that the engine's checks on metric names apply too.
    [task] = plan([_params(ads_demos, n_demos=3)], n_seeds=1, root_seed=0)
    result = execute_task("ads-demos", task, str(tmp_path))
    assert result.error is None, result.error
    assert result.row["demo_horizon"] == 24 and result.row["observation_dim"] == 3
    assert 0 < result.row["expert_success_rate"] <= 1
    params = _params(
        ads_toy,
        budget=48,
        eval_freq=24,
        eval_episodes=2,
        n_demos=3,
        demos=str(tmp_path / task.task_id / "demos.npz"),
    )
    ads_toy.check(params)
    output = ads_toy.run(params, np.random.default_rng(1))
    assert set(output.metrics) >= {"success_rate", "final_gamma", "final_progress"}
    assert 0.0 <= output.metrics["success_rate"] <= 1.0
    # ADS: gamma = alpha^(1 / p) with the recognizer's progress.
    assert output.metrics["final_gamma"] == pytest.approx(
        0.2 ** (1 / output.metrics["final_progress"])
    )
    curves = output.trajectories
    assert set(curves["metric"]) == {"success_rate", "gamma", "progress"}
    assert sorted(curves["step"].unique()) == [24, 48]
    results = pd.DataFrame([{**params, "seed_index": 0, **output.metrics}])
    figures = ads_toy.plot(
        results, curves.assign(**{k: params[k] for k in ("schedule", "gamma")}, seed_index=0)
    )
    assert set(figures) == {"ads_toy_success_rate", "ads_toy_gamma", "ads_toy_progress"}


@pytest.mark.slow
def test_metaworld_run_end_to_end() -> None:
    params = _params(
        ads_metaworld,
        task="hammer-v3",
        budget=126,
        eval_freq=63,
        eval_episodes=1,
        n_demos=2,
        schedule="fixed",
    )
    ads_metaworld.check(params)
    output = ads_metaworld.run(params, np.random.default_rng(0))
    assert output.metrics["final_gamma"] == 0.99
    assert output.metrics["horizon"] == 63
    assert sorted(output.trajectories["step"].unique()) == [63, 126]
