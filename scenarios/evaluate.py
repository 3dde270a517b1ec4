"""Saved policies of a run: what training writes, and ``seqrl evaluate DIR`` that scores them again.

A scenario that trains a Stable-Baselines3 policy keeps, under its task's artifact directory
(``DIR/artifacts/<task id>/``, see :func:`seqrl.artifact_dir`):

    policy.zip          the final model (``model.save``), reloadable with ``PPO.load`` / ``SAC.load``;
                        a task that trains several runs as one batched model (``SAC-batched``)
                        keeps their actors in policy.npz instead, scored one after another
    policy.json         how it was scored: algorithm, Gymnasium env id and kwargs, evaluation seed,
                        episodes, and the mean and std episode reward that ``evaluate_policy`` gave
    logs/progress.csv   SB3's own training log (and TensorBoard event files when tensorboard is
                        installed)
    checkpoints/        ``CheckpointCallback`` snapshots, when the scenario's checkpoint_freq > 0

:func:`score_policy` is the one scoring procedure: the env is built by ``gymnasium.make`` (wrapped in
SB3's Monitor), reset once with the evaluation seed, and handed to ``evaluate_policy``; training and
``seqrl evaluate`` both call it, so reloading reproduces the stored score exactly.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqrl.scenarios.core import BadInput, report_progress

POLICY_FILE = "policy.zip"
BATCHED_POLICY_FILE = "policy.npz"
RECORD_FILE = "policy.json"
LOG_DIR = "logs"
CHECKPOINT_DIR = "checkpoints"
VIDEO_DIR = "videos"


@dataclass(frozen=True)
class PolicyRecord:
    """How a saved policy was scored (``policy.json``).

    Attributes:
        algorithm: SB3 class name (``PPO``, ``SAC``, ``TD3``, ``DDPG``), ``SBX-<class>``, or
            ``SAC-batched`` (the actors of ``runs`` runs in ``policy.npz``).
        env_id: Gymnasium id of the evaluation env.
        env_kwargs: Its keyword arguments.
        seed: Seed of the evaluation env's first reset.
        n_eval_episodes: Episodes of ``evaluate_policy``.
        deterministic: Whether actions were deterministic.
        mean_reward: Mean episode reward found at training time (over every run's episodes).
        std_reward: Its standard deviation over episodes.
        runs: Policies in the file, each scored on ``n_eval_episodes`` episodes from ``seed``.
    """

    algorithm: str
    env_id: str
    env_kwargs: dict[str, Any]
    seed: int
    n_eval_episodes: int
    deterministic: bool = True
    mean_reward: float = float("nan")
    std_reward: float = float("nan")
    runs: int = 1


def make_eval_env(
    env_id: str, env_kwargs: dict[str, Any], seed: int, video: Path | None = None
) -> Any:
    """``gymnasium.make(env_id, **env_kwargs)`` in a Monitor, reset once with ``seed``; with
    ``video``, recorded by Gymnasium's RecordVideo into that folder (``rgb_array`` rendering).

    Raises:
        BadInput: ``video`` for an env that cannot render ``rgb_array``, or without moviepy.
    """
    import gymnasium
    from stable_baselines3.common.monitor import Monitor

    import seqrl.envs  # noqa: F401  (registers the seqrl/ ids)

    env = gymnasium.make(env_id, **env_kwargs)
    if video is not None:
        modes = env.metadata.get("render_modes", [])
        env.close()
        if "rgb_array" not in modes:
            raise BadInput(f"--video: {env_id} cannot render rgb_array frames "
                           f"(render modes: {', '.join(modes) or 'none'})")  # fmt: skip
        if importlib.util.find_spec("moviepy") is None:
            raise BadInput("--video needs moviepy: pip install moviepy")
        env = gymnasium.make(env_id, render_mode="rgb_array", **env_kwargs)
        env = gymnasium.wrappers.RecordVideo(env, str(video), episode_trigger=lambda _: True,
                                             disable_logger=True)  # fmt: skip
    env = Monitor(env)
    env.reset(seed=seed)
    return env


def score_policy(
    model: Any, env_id: str, env_kwargs: dict[str, Any], seed: int, n_episodes: int,
    deterministic: bool = True, video: Path | None = None,
) -> np.ndarray:  # fmt: skip
    """The episode rewards of ``model`` by SB3's ``evaluate_policy`` on :func:`make_eval_env`."""
    from stable_baselines3.common.evaluation import evaluate_policy

    env = make_eval_env(env_id, env_kwargs, seed, video)
    try:
        rewards, _ = evaluate_policy(model, env, n_eval_episodes=n_episodes,
                                     deterministic=deterministic, return_episode_rewards=True)  # fmt: skip
    finally:
        env.close()
    return np.asarray(rewards, dtype=float)


def training_logger(directory: Path | None) -> Any:
    """SB3's logger writing ``directory/logs/progress.csv`` (and TensorBoard files if installed);
    with no directory a logger that writes nothing (SB3's default would leave an empty
    ``SB3-<time>`` folder in the temp directory at every ``learn``)."""
    from stable_baselines3.common.logger import Logger, configure

    if directory is None:
        return Logger(folder=None, output_formats=[])
    formats = ["csv"] + (["tensorboard"] if importlib.util.find_spec("tensorboard") else [])
    return configure(str(directory / LOG_DIR), formats)


def training_callbacks(
    directory: Path | None, checkpoint_freq: int, total_timesteps: int
) -> list[Any]:
    """The callbacks of a scenario's SB3 training: progress of ``total_timesteps`` through
    :func:`seqrl.report_progress`, and a ``CheckpointCallback`` into ``directory/checkpoints``
    every ``checkpoint_freq`` steps (none when it is 0 or there is no artifact directory)."""
    from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback

    class ReportProgress(BaseCallback):
        def _on_step(self) -> bool:
            report_progress(min(self.num_timesteps, total_timesteps), total_timesteps, "steps")
            return True

    callbacks: list[Any] = [ReportProgress()]
    if directory is not None and checkpoint_freq > 0:
        callbacks.append(
            CheckpointCallback(checkpoint_freq, str(directory / CHECKPOINT_DIR), "policy")
        )
    return callbacks


def save_policy(model: Any, directory: Path, record: PolicyRecord) -> None:
    """Write ``policy.zip`` (``model.save``) and ``policy.json`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / POLICY_FILE)
    write_record(directory, record)


def write_record(directory: Path, record: PolicyRecord) -> None:
    """Write ``policy.json`` into ``directory``."""
    (directory / RECORD_FILE).write_text(json.dumps(asdict(record), indent=2) + "\n")


def score_policies(
    models: list[Any], env_id: str, env_kwargs: dict[str, Any], seed: int, n_episodes: int,
    deterministic: bool = True, video: Path | None = None,
) -> np.ndarray:  # fmt: skip
    """:func:`score_policy` of each model on the same env and seed, the rewards one after another."""
    return np.concatenate([score_policy(model, env_id, env_kwargs, seed, n_episodes, deterministic,
                                        video) for model in models])  # fmt: skip


@dataclass(frozen=True)
class Evaluation:
    """One saved policy scored again."""

    task_id: str
    record: PolicyRecord
    rewards: np.ndarray = field(repr=False)
    videos: list[Path] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return float(self.rewards.mean())

    @property
    def std(self) -> float:
        return float(self.rewards.std())

    def describe(self) -> str:
        """One line: the score, the episodes, and the score stored at training time."""
        text = (f"{self.task_id}: mean reward {self.mean:.6g} +/- {self.std:.6g} (std) over "
                f"{self.rewards.size} episodes of {self.record.env_id} "
                f"(stored: {self.record.mean_reward:.6g} +/- {self.record.std_reward:.6g} over "
                f"{self.record.n_eval_episodes * self.record.runs})")  # fmt: skip
        return text + (f"; videos in {self.videos[0].parent}" if self.videos else "")


def saved_policies(run_dir: Path) -> Iterator[tuple[str, Path]]:
    """(task id, artifact directory) of every task of ``run_dir`` with a saved policy."""
    root = run_dir / "artifacts"
    if root.is_dir():
        for directory in sorted(root.iterdir()):
            policy = (directory / POLICY_FILE).is_file() or (
                directory / BATCHED_POLICY_FILE
            ).is_file()
            if policy and (directory / RECORD_FILE).is_file():
                yield directory.name, directory


def load_policy(directory: Path) -> tuple[list[Any], PolicyRecord]:
    """The policies saved in ``directory`` and their :class:`PolicyRecord`: one SB3 model
    (``SBX-<class>``: SBX's JAX ``<class>``, ``sbx-rl``, the same API), or a ``SAC-batched``
    task's :class:`~seqrl.agents.ads_batched_sac.MemberPolicy` per run."""
    import stable_baselines3

    record = PolicyRecord(**json.loads((directory / RECORD_FILE).read_text()))
    if record.algorithm == "SAC-batched":
        import gymnasium

        import seqrl.envs  # noqa: F401  (registers the seqrl/ ids)
        from seqrl.agents.ads_batched_sac import MemberPolicy

        env = gymnasium.make(record.env_id, **record.env_kwargs)
        space = env.action_space
        env.close()
        return MemberPolicy.load_members(directory / BATCHED_POLICY_FILE, space), record
    if record.algorithm.startswith("SBX-"):
        if importlib.util.find_spec("sbx") is None:
            raise BadInput(f"{directory}: the policy is {record.algorithm}; pip install sbx-rl")
        import sbx

        return [
            getattr(sbx, record.algorithm.removeprefix("SBX-")).load(directory / POLICY_FILE)
        ], record
    algorithm = getattr(stable_baselines3, record.algorithm)
    return [algorithm.load(directory / POLICY_FILE, device="cpu")], record


def evaluate_run(
    run_dir: Path, task: str | None = None, episodes: int | None = None, video: bool = False
) -> list[Evaluation]:
    """Reload each saved policy of ``run_dir`` (or only ``task``) and score it with
    :func:`score_policy` on its env and seed; ``episodes`` defaults to the stored count.

    Raises:
        BadInput: no run, no saved policy, an unknown task, or episodes < 1.
    """
    from seqrl.scenarios.extras import require_extras

    if not (run_dir / "manifest.json").is_file():
        raise BadInput(f"{run_dir}: no manifest.json here; not a seqrl run directory")
    if episodes is not None and episodes < 1:
        raise BadInput(f"--episodes must be >= 1, got {episodes}")
    found = dict(saved_policies(run_dir))
    if not found:
        raise BadInput(f"{run_dir}: no saved policy under artifacts/ (no task trained one)")
    if task is not None and task not in found:
        raise BadInput(f"--task {task}: no saved policy; tasks with one: {', '.join(found)}")
    require_extras(["rl"], "seqrl evaluate")
    evaluations = []
    for task_id, directory in found.items():
        if task is not None and task_id != task:
            continue
        models, record = load_policy(directory)
        n = episodes or record.n_eval_episodes
        videos = directory / VIDEO_DIR if video else None
        rewards = score_policies(models, record.env_id, record.env_kwargs, record.seed, n,
                                 record.deterministic, videos)  # fmt: skip
        recorded = sorted(videos.glob("*.mp4")) if videos is not None else []
        evaluations.append(Evaluation(task_id, record, rewards, recorded))
    return evaluations
