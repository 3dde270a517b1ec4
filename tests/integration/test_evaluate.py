"""RL artifacts: a training scenario saves its policy, score, SB3 log and checkpoints; ``seqrl
evaluate`` reloads the policy and reproduces the stored score with ``evaluate_policy``."""

from __future__ import annotations

import importlib.util
import json
import re

import pandas as pd
import pytest
from conftest import run_cli

pytest.importorskip("stable_baselines3")

from seqrl.scenarios.evaluate import evaluate_run, load_policy, score_policy  # noqa: E402
from seqrl.scenarios.report import list_artifacts  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One quick dp-rl-learner task (1024 PPO steps, 20 evaluation episodes) with checkpoints."""
    out = tmp_path_factory.mktemp("rl") / "run"
    completed = run_cli("run", "dp-rl-learner", "--quick", "--set", "checkpoint_freq=512",
                        "--out", out)  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    return out


def test_training_keeps_policy_score_log_and_checkpoints(trained):
    results = pd.read_parquet(trained / "results.parquet")
    (task_id,) = results["task_id"]
    directory = trained / "artifacts" / task_id
    record = json.loads((directory / "policy.json").read_text())
    assert record["algorithm"] == "PPO" and record["n_eval_episodes"] == 20
    # The stored score is the task's own PPO accuracy (one reward per right guess of 20 agents).
    assert record["mean_reward"] == pytest.approx(results["ppo_accuracy"].iloc[0] * 20)
    log = pd.read_csv(directory / "logs" / "progress.csv")
    assert log["time/total_timesteps"].tolist() == [512, 1024]
    assert {"train/value_loss", "rollout/ep_rew_mean"} <= set(log.columns)
    if importlib.util.find_spec("tensorboard"):  # installed by the dev extra
        assert list((directory / "logs").glob("events.out.tfevents.*"))
    checkpoints = sorted(p.name for p in (directory / "checkpoints").iterdir())
    assert checkpoints == ["policy_1024_steps.zip", "policy_512_steps.zip"]
    listed = list_artifacts(trained)[task_id]
    assert f"artifacts/{task_id}/policy.zip" in listed
    assert f"[policy.zip](artifacts/{task_id}/policy.zip)" in (trained / "summary.md").read_text()


def test_seqrl_evaluate_reproduces_the_stored_score(trained):
    completed = run_cli("evaluate", trained)
    assert completed.returncode == 0, completed.stderr
    (line,) = completed.stdout.splitlines()
    mean, std = map(float, re.search(r"mean reward (\S+) \+/- (\S+) \(std\)", line).groups())
    (evaluation,) = evaluate_run(trained)
    record = evaluation.record
    assert evaluation.mean == record.mean_reward and evaluation.std == record.std_reward
    assert mean == pytest.approx(record.mean_reward, rel=1e-5)
    assert std == pytest.approx(record.std_reward, rel=1e-5)
    assert "over 20 episodes" in line


def test_the_reloaded_policy_is_the_trained_one_not_any_policy(trained):
    (evaluation,) = evaluate_run(trained)
    directory = trained / "artifacts" / evaluation.task_id
    (model,), record = load_policy(directory)
    # The first checkpoint (512 steps) is another policy: scored on the same episodes, it need not
    # match, while the final model must, episode by episode.
    final = score_policy(model, record.env_id, record.env_kwargs, record.seed, 20)
    assert final.tolist() == evaluation.rewards.tolist()
    five = evaluate_run(trained, task=evaluation.task_id, episodes=5)[0]
    assert five.rewards.size == 5 and five.rewards.tolist() == final[:5].tolist()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--task", "nope"], "--task nope: no saved policy"),
        (["--episodes", "0"], "--episodes must be >= 1"),
        (["--video"], "cannot render rgb_array frames"),
    ],
)
def test_evaluate_bad_input_exits_2(trained, args, fragment):
    completed = run_cli("evaluate", trained, *args)
    assert completed.returncode == 2 and fragment in completed.stderr


def test_evaluate_a_run_without_policies_exits_2(tmp_path):
    out = tmp_path / "walk"
    assert (
        run_cli("run", "example-random-walk", "--quick", "--seeds", "1", "--out", out).returncode
        == 0
    )
    completed = run_cli("evaluate", out)
    assert completed.returncode == 2 and "no saved policy" in completed.stderr


@pytest.mark.slow
def test_an_ads_policy_reloads_with_its_score(tmp_path):
    pytest.importorskip("metaworld")
    out = tmp_path / "ads"
    completed = run_cli("run", "ads-toy", "--quick", "--set", "schedule=ads", "--set", "budget=480",
                        "--set", "eval_freq=240", "--set", "checkpoint_freq=240", "--out", out)  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    (evaluation,) = evaluate_run(out)
    assert (
        evaluation.record.algorithm == "SAC" and evaluation.record.env_id == "seqrl/FetchDeliver-v0"
    )
    assert evaluation.mean == evaluation.record.mean_reward
    directory = out / "artifacts" / evaluation.task_id
    assert (directory / "checkpoints" / "policy_480_steps.zip").is_file()
    assert pd.read_csv(directory / "logs" / "progress.csv")["time/total_timesteps"].max() <= 480


@pytest.mark.slow
def test_an_sbx_ads_policy_with_several_envs_reloads_with_its_score(tmp_path):
    pytest.importorskip("metaworld")
    pytest.importorskip("sbx")
    out = tmp_path / "ads-sbx"
    completed = run_cli("run", "ads-toy", "--quick", "--set", "schedule=ads", "--set", "budget=960",
                        "--set", "algorithm=SBX-SAC", "--set", "n_envs=4", "--set",
                        "eval_freq=480", "--out", out)  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    (evaluation,) = evaluate_run(out)
    assert evaluation.record.algorithm == "SBX-SAC"
    assert type(load_policy(out / "artifacts" / evaluation.task_id)[0][0]).__module__.startswith(
        "sbx."
    )
    assert evaluation.mean == evaluation.record.mean_reward


def test_a_batched_ads_task_saves_every_run_and_reloads_with_its_score(tmp_path):
    """SAC-batched: one task, three runs, their actors in policy.npz; the curves carry the run;
    seqrl evaluate scores each run again (numpy, no JAX) and reproduces the stored score."""
    pytest.importorskip("jax")
    out = tmp_path / "ads-batched"
    completed = run_cli("run", "ads-toy", "--quick", "--set", "schedule=ads", "--set", "budget=480",
                        "--set", "algorithm=SAC-batched", "--set", "runs=3", "--set",
                        "eval_freq=240", "--set", "eval_episodes=4", "--set", "checkpoint_freq=240",
                        "--out", out)  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    (evaluation,) = evaluate_run(out)
    assert evaluation.record.algorithm == "SAC-batched" and evaluation.record.runs == 3
    assert evaluation.rewards.size == 3 * 4
    assert evaluation.mean == evaluation.record.mean_reward
    directory = out / "artifacts" / evaluation.task_id
    assert (directory / "checkpoints" / "policy_480_steps.npz").is_file()
    assert pd.read_csv(directory / "logs" / "progress.csv")["eval/success_rate"].notna().all()
    curves = pd.read_parquet(out / "trajectories.parquet")
    assert sorted(curves["run"].unique()) == [0, 1, 2]
    finals = curves[(curves["metric"] == "success_rate") & (curves["step"] == curves["step"].max())]
    results = pd.read_parquet(out / "results.parquet")
    assert results["success_rate"].iloc[0] == pytest.approx(finals["value"].mean())


@pytest.mark.parametrize(
    "scenario, params",
    [
        ("dp-rl-learner", {"total_timesteps": 256}),
        ("marl-sequential", {}),
        ("ads-toy", {"budget": 240, "eval_freq": 120, "eval_episodes": 2}),
    ],
)
def test_training_in_memory_leaves_nothing_in_the_temp_directory(
    scenario, params, tmp_path, monkeypatch
):
    """SB3 without a logger of the caller's makes an empty SB3-<time> folder in the temp
    directory at every learn; a run kept in memory leaves none."""
    import tempfile

    import seqrl

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = seqrl.run(scenario, params, quick=True, seeds=1)
    assert len(result.results) >= 1  # it trained
    assert sorted(p.name for p in tmp_path.glob("SB3-*")) == []
