"""System 3 scenarios: typed parameters (exit-2 errors), a tiny end-to-end run, plots."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest

from seqrl.agents.ads_expert_demos import ExpertDemos, save_demos
from seqrl.mechanisms.ads_discount_scheduling import DiscountParams
from seqrl.mechanisms.ads_ot_reward import OTRewardParams
from seqrl.scenarios import extras
from seqrl.scenarios.cli import main
from seqrl.scenarios.core import BadInput
from seqrl.scenarios.library.ads import ALGORITHMS, CURVE_METRICS, ads_demos, ads_metaworld, ads_toy
from seqrl.scenarios.runner import execute_task, plan

matplotlib.use("Agg")


def _params(scenario, **overrides):
    return {**{p.name: p.default for p in scenario.params}, **overrides}


def test_mechanism_parameter_classes_are_groups() -> None:
    args = ads_toy.arguments({"alpha": 0.3, "iterations": 50})
    assert args.discount == DiscountParams(alpha=0.3)
    # The OT group is an OTRewardParams with the state-feature default cost (euclidean).
    assert isinstance(args.ot, OTRewardParams)
    assert (args.ot.cost, args.ot.iterations) == ("euclidean", 50)
    assert ads_metaworld.arguments({"cost": "cosine"}).ot.cost == "cosine"


def test_algorithm_choices_are_the_agents() -> None:
    from seqrl.agents.ads_imitation import ALGORITHMS as AGENT_ALGORITHMS

    assert tuple(AGENT_ALGORITHMS) == ALGORITHMS
    assert ads_toy.param("algorithm").choices == ALGORITHMS


def test_library_module_imports_without_the_ads_extra() -> None:
    # `seqrl list` in a core install imports every library module: none of the extra's modules.
    heavy = ("torch", "ot", "stable_baselines3", "metaworld")
    code = (
        f"import sys, seqrl.scenarios.library.ads; print([m for m in {heavy} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"


def test_alpha_outside_unit_interval_is_bad_input() -> None:
    with pytest.raises(BadInput, match=r"alpha must be in \(0, 1\), got 1.5"):
        ads_toy.arguments({"alpha": 1.5})


def test_unknown_task_is_bad_input() -> None:
    with pytest.raises(BadInput, match="task='juggle-v3'"):
        ads_metaworld.param("task").parse("juggle-v3")


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((3, 23, 3), "demo length must equal the horizon 24"),
        ((1, 24, 3), "n_demos must be >= 2"),
        ((3, 24, 5), "dim must match"),
        ((3, 24, 3), "n_demos=10: the demos file .* holds only 3"),
    ],
)
def test_bad_demos_rejected_by_arguments(tmp_path, shape, message) -> None:
    path = save_demos(tmp_path / "demos.npz", ExpertDemos(np.zeros(shape, dtype=np.float32)))
    with pytest.raises(BadInput, match=message):
        ads_toy.arguments({"demos": str(path)})


def test_demos_of_a_metaworld_task_need_the_ads_extra(monkeypatch) -> None:
    ads_demos.arguments({"task": "hammer-v3"})  # installed here
    monkeypatch.setattr(extras, "missing_modules", lambda extra: ["metaworld"])
    with pytest.raises(extras.MissingExtra, match="task=hammer-v3 needs the 'ads' extra"):
        ads_demos.arguments({"task": "hammer-v3"})
    assert ads_demos.arguments({"task": "fetch-deliver"}).task == "fetch-deliver"


def test_sbx_learner_needs_sbx_and_gradient_steps_are_checked(monkeypatch) -> None:
    with pytest.raises(BadInput, match="gradient_steps must be >= 1 or -1, got 0"):
        ads_toy.arguments({"gradient_steps": 0})
    with pytest.raises(BadInput, match="gradient_steps must be >= 1 or -1, got -2"):
        ads_toy.arguments({"gradient_steps": -2})
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "sbx" else real(name, *a)
    )
    with pytest.raises(BadInput, match="algorithm=SBX-SAC needs sbx-rl: pip install sbx-rl"):
        ads_toy.arguments({"algorithm": "SBX-SAC"})
    assert ads_toy.arguments({"algorithm": "SAC", "n_envs": 4}).n_envs == 4


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
    assert "alpha must be in (0, 1), got 0" in result.stderr


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
    output = ads_toy.run(ads_toy.arguments(params), np.random.default_rng(1))
    assert set(output.metrics) >= {"success_rate", "final_gamma", "final_progress"}
    assert 0.0 <= output.metrics["success_rate"] <= 1.0
    # ADS: gamma = alpha^(1 / p) with the recognizer's progress.
    assert output.metrics["final_gamma"] == pytest.approx(
        0.2 ** (1 / output.metrics["final_progress"])
    )
    curves = output.trajectories
    assert set(curves["metric"]) == {"success_rate", "gamma", "progress", "recognizer_margin"}
    assert sorted(curves["step"].unique()) == [24, 48]
    results = pd.DataFrame([{**params, "seed_index": 0, **output.metrics}])
    figures = ads_toy.plot(
        results, curves.assign(**{k: params[k] for k in ("schedule", "gamma")}, seed_index=0)
    )
    assert set(figures) == {
        "ads_toy_success_rate", "ads_toy_gamma", "ads_toy_progress", "ads_toy_recognizer_margin"
    }  # fmt: skip


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
    output = ads_metaworld.run(ads_metaworld.arguments(params), np.random.default_rng(0))
    assert output.metrics["final_gamma"] == 0.99
    assert output.metrics["horizon"] == 63
    assert sorted(output.trajectories["step"].unique()) == [63, 126]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"runs": 2}, "runs=2 needs algorithm=SAC-batched"),
        ({"async_envs": True}, "async_envs=true needs algorithm=SAC-batched"),
        ({"algorithm": "SAC-batched", "n_envs": 2}, "n_envs=2: algorithm=SAC-batched runs one env"),
    ],
)
def test_batched_options_are_checked(overrides, message) -> None:
    with pytest.raises(BadInput, match=message):
        ads_toy.arguments(overrides)


def test_batched_learner_needs_jax(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "jax" else real(name, *a)
    )
    with pytest.raises(BadInput, match="algorithm=SAC-batched needs JAX and optax"):
        ads_toy.arguments({"algorithm": "SAC-batched", "runs": 4})


def test_batched_runs_see_what_separate_seeds_would() -> None:
    """Run k of a SAC-batched task with seed s gets the generator (hence demos and learner seed)
    of seed s * K + k of the one-run-per-task plan (the pairing the throughput benchmark relies
    on), with the runner's own seeding on both sides."""
    pytest.importorskip("jax")
    import seqrl

    def generators(params: dict, seeds: int) -> list[np.random.Generator]:
        tasks = sorted(seqrl.plan_run("ads-toy", params, seeds=seeds, seed=7).tasks,
                       key=lambda task: task.seed_index)  # fmt: skip
        return [np.random.default_rng(task.seed_sequence()) for task in tasks]

    batched = generators({"schedule": "ads", "algorithm": "SAC-batched", "runs": 2}, seeds=2)
    lone = generators({"schedule": "ads"}, seeds=4)
    draws = [rng.integers(2**62, size=3).tolist() for rng in lone]
    folded = [rng.integers(2**62, size=3).tolist() for task_rng in batched
              for rng in seqrl.replicate_rngs(task_rng, 2)]  # fmt: skip
    assert folded == draws
    assert len({tuple(draw) for draw in draws}) == 4


def test_batched_runs_in_their_own_env_processes_learn_exactly_as_in_one() -> None:
    """async_envs only moves the env steps into processes: the curves are the same numbers."""
    pytest.importorskip("jax")
    import seqrl

    params = {"schedule": "ads", "budget": 576, "eval_freq": 288, "eval_episodes": 2,
              "n_demos": 2, "algorithm": "SAC-batched", "runs": 2, "width": 8}  # fmt: skip
    columns = ["run", "step", "metric", "value"]  # the task id and params name the flag
    curves = [seqrl.run("ads-toy", params | {"async_envs": flag}, seeds=1).trajectories[columns]
              for flag in (False, True)]  # fmt: skip
    assert len(curves[0]) == 2 * 2 * len(
        CURVE_METRICS
    )  # runs x evaluations (288, 576) x curves; 76 updates
    pd.testing.assert_frame_equal(curves[0], curves[1])
