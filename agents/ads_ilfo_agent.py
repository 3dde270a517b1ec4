"""Imitation from observation on stable-baselines3 off-policy algorithms, with ADS as a callback.

The agent is an SB3 SAC / TD3 / DDPG learner, or SBX's JAX SAC / CrossQ (same API, same replay
buffer), whose stored rewards are replaced, at the end of each episode, by the optimal-transport
proxy reward against observation-only demos (:mod:`seqrl.mechanisms.ads_ot_reward`). Training is
done once per episode (``train_freq=(1, "episode")``), so every transition is relabelled before it
can be sampled, as in the official ADS code which stores whole episodes. With ``n_envs`` fixed-horizon
envs in a VecEnv the episodes run side by side and end together; by default there is one gradient
step per vector step, i.e. ``1 / n_envs`` per environment step.

:class:`DiscountScheduleCallback` evaluates the policy every ``eval_freq`` steps with SB3's
``evaluate_policy``, updates the run's :class:`~seqrl.agents.ads_imitation.DiscountSchedule` and writes the discount
into every copy SB3 keeps. The reward and the schedule are :mod:`seqrl.agents.ads_imitation`'s,
shared with the batched JAX SAC.
"""

from __future__ import annotations

import inspect
import logging
from collections import defaultdict
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from stable_baselines3 import DDPG, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from seqrl.agents.ads_imitation import (
    ALGORITHMS,
    BATCHED_ALGORITHM,
    SBX_ALGORITHMS,
    DiscountSchedule,
    LearnerConfig,
    OTRewarder,
    passed_multiple,
)
from seqrl.mechanisms.ads_ot_reward import OTRewardParams

logger = logging.getLogger(__name__)

SB3_CLASSES = {"SAC": SAC, "TD3": TD3, "DDPG": DDPG}


def algorithm_class(name: str) -> type[OffPolicyAlgorithm]:
    """The learner class of ``name``: an SB3 class, or ``sbx.<class>`` for ``SBX-<class>``."""
    if name in SB3_CLASSES:
        return SB3_CLASSES[name]
    if name == BATCHED_ALGORITHM:
        raise ValueError(f"{name} is no SB3 class: train it with BatchedImitationAgent")
    if name not in SBX_ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {name!r}")
    import sbx

    return getattr(sbx, name.removeprefix("SBX-"))


def set_discount(model: BaseAlgorithm, gamma: float) -> list[str]:
    """Write ``gamma`` to every copy SB3 keeps; return the names of the copies written.

    SAC / TD3 / DDPG read ``model.gamma`` on every gradient step; an n-step replay buffer keeps
    its own ``gamma`` (and ``replay_buffer_kwargs`` keeps the value a rebuilt buffer would get);
    on-policy algorithms copy it into their rollout buffer.

    Raises:
        TypeError: ``model`` is neither an off-policy nor an on-policy SB3 algorithm.
    """
    if not isinstance(model, OffPolicyAlgorithm | OnPolicyAlgorithm):
        raise TypeError(f"model must be an SB3 RL algorithm, got {type(model).__name__}")
    written = ["model.gamma"]
    model.gamma = float(gamma)
    buffer_kwargs = getattr(model, "replay_buffer_kwargs", None)
    if isinstance(buffer_kwargs, dict) and "gamma" in buffer_kwargs:
        buffer_kwargs["gamma"] = float(gamma)
        written.append("replay_buffer_kwargs['gamma']")
    for name in ("replay_buffer", "rollout_buffer"):
        buffer = getattr(model, name, None)
        if buffer is not None and hasattr(buffer, "gamma"):
            buffer.gamma = float(gamma)
            written.append(f"{name}.gamma")
    return written


def _episode_rollouts(env: gymnasium.Env | VecEnv) -> tuple[int, str]:
    """SB3's ``train_freq`` of one episode per env: ``(1, "episode")`` for one env; SB3 allows that
    only with one env, so with several it is ``(horizon, "step")`` (their ``horizon`` attribute)."""
    if not isinstance(env, VecEnv) or env.num_envs == 1:
        return 1, "episode"
    horizons = set(env.get_attr("horizon"))
    if len(horizons) != 1:
        raise ValueError(f"the envs need one common horizon, got {sorted(horizons)}")
    return int(horizons.pop()), "step"


class OTRelabelCallback(BaseCallback):
    """Replace the rewards of the episodes just collected by OT rewards (episode rollouts).

    With several envs every rollout must end on the last step of every env's episode (fixed
    horizon, envs reset together); the envs' trajectories are relabelled in one OT batch.
    """

    def __init__(self, rewarder: OTRewarder) -> None:
        super().__init__()
        self.rewarder = rewarder
        self.episode_returns: list[float] = []
        self._start = 0

    def _replay_buffer(self) -> ReplayBuffer:
        if not isinstance(self.model, OffPolicyAlgorithm) or self.model.replay_buffer is None:
            raise TypeError(
                f"OT relabelling needs an off-policy learner with a replay buffer, got "
                f"{type(self.model).__name__}"
            )
        return self.model.replay_buffer

    def _on_training_start(self) -> None:
        self._replay_buffer()  # fail before the first rollout, not after it

    def _on_rollout_start(self) -> None:
        self._start = self._replay_buffer().pos

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        buffer = self._replay_buffer()
        count = (buffer.pos - self._start) % buffer.buffer_size
        if count == 0:
            return
        positions = (self._start + np.arange(count)) % buffer.buffer_size
        if not buffer.dones[positions[-1]].all():
            raise ValueError(
                "OT relabelling needs the envs' episodes to end together (fixed horizon)"
            )
        # (count, n_envs, d) -> one trajectory per env, all relabelled in one batch
        rewards = self.rewarder.rewards(np.swapaxes(buffer.next_observations[positions], 0, 1))
        buffer.rewards[positions] = rewards.T
        self.episode_returns.extend(rewards.sum(axis=-1).tolist())


def evaluate_with_observations(
    model: BaseAlgorithm,
    env: gymnasium.Env | VecEnv,
    n_episodes: int,
    min_success_steps: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic evaluation with SB3's ``evaluate_policy``, keeping what the recognizer needs.

    Args:
        model: The learner.
        env: An evaluation env or VecEnv (fixed horizon, ``info["success"]``); a VecEnv with
            several envs runs episodes in parallel, one policy call per step for all of them.
        n_episodes: Episodes to run.
        min_success_steps: An episode succeeds when ``info["success"]`` holds on at least this
            many steps.

    Returns:
        ``(successes (E,) bool, observations (E, T, d))``; observations are ``o_1..o_T``.
    """
    episodes: list[np.ndarray] = []
    successes: list[bool] = []
    frames: dict[int, list[np.ndarray]] = defaultdict(list)
    success_steps: dict[int, int] = defaultdict(int)

    def record(local: dict[str, Any], _: dict[str, Any]) -> None:
        index, info, done = local["i"], local["info"], local["done"]
        frame = info["terminal_observation"] if done else local["new_observations"][index]
        frames[index].append(np.asarray(frame, dtype=np.float32))
        success_steps[index] += int(bool(info.get("success", False)))
        if done:
            episodes.append(np.stack(frames.pop(index)))
            successes.append(success_steps.pop(index) >= min_success_steps)

    evaluate_policy(
        model, env, n_eval_episodes=n_episodes, deterministic=True, callback=record, warn=False
    )
    return np.array(successes, dtype=bool), np.stack(episodes)


class DiscountScheduleCallback(BaseCallback):
    """Evaluate, update a :class:`DiscountSchedule` and set the discount of an SB3 learner.

    Attributes:
        schedule: The schedule; ``schedule.history`` holds one row per evaluation.
    """

    def __init__(
        self,
        eval_env: gymnasium.Env | VecEnv,
        schedule: DiscountSchedule,
        eval_freq: int = 5_000,
        n_eval_episodes: int = 10,
        min_success_steps: int = 1,
    ) -> None:
        """Configure the evaluations.

        Args:
            eval_env: Separate evaluation env, or a VecEnv of several to batch the episodes.
            schedule: The run's discount schedule (on the learner's rewarder).
            eval_freq: Evaluate each time the environment steps pass a multiple of this (and at
                the end).
            n_eval_episodes: Episodes per evaluation.
            min_success_steps: Steps with ``info["success"]`` for an episode to count as solved.
        """
        super().__init__()
        if eval_freq < 1 or n_eval_episodes < 1:
            raise ValueError(
                f"eval_freq and n_eval_episodes must be >= 1, got {eval_freq}, {n_eval_episodes}"
            )
        self.schedule = schedule
        self.eval_env = eval_env
        self.eval_freq = eval_freq
        self.n_eval_episodes = n_eval_episodes
        self.min_success_steps = min_success_steps
        self._last_eval_step = -1

    def _apply(self) -> None:
        """Write the discount the schedule prescribes now into the model."""
        set_discount(self.model, self.schedule.discount(self.num_timesteps))

    def _on_training_start(self) -> None:
        self._apply()

    def _on_step(self) -> bool:
        # With n envs the step count moves by n: evaluate when it passes a multiple of eval_freq.
        if passed_multiple(self._last_eval_step, self.num_timesteps, self.eval_freq):
            self.evaluate()
        return True

    def _on_rollout_end(self) -> None:
        if self.schedule.schedule == "linear":
            self._apply()

    def _on_training_end(self) -> None:
        if self._last_eval_step != self.num_timesteps:
            self.evaluate()

    def evaluate(self) -> dict[str, float]:
        """Run the evaluation episodes, update the schedule and the discount; return the schedule's
        new history row."""
        successes, observations = evaluate_with_observations(
            self.model, self.eval_env, self.n_eval_episodes, self.min_success_steps
        )
        row = self.schedule.record_evaluation(self.num_timesteps, successes, observations)
        self._apply()
        self._last_eval_step = self.num_timesteps
        return row


class ImitationFromObservationAgent:
    """An SB3 off-policy learner trained on the OT proxy reward of observation-only demos."""

    def __init__(
        self,
        env: gymnasium.Env | VecEnv,
        demos: np.ndarray,
        config: LearnerConfig | None = None,
        ot_params: OTRewardParams | None = None,
        gamma: float = 0.99,
        seed: int | None = None,
    ) -> None:
        """Build the learner.

        Args:
            env: Training env (fixed horizon), or a VecEnv of several reset together.
            demos: ``(N, T, d)`` expert observations, validated against ``env``.
            config: Base-learner hyperparameters.
            ot_params: OT reward parameters.
            gamma: Initial discount (a schedule callback may overwrite it).
            seed: Seed of SB3, torch and the env.
        """
        self.config = config or LearnerConfig()
        self.rewarder = OTRewarder(demos, ot_params)
        algorithm = algorithm_class(self.config.algorithm)
        train_freq = _episode_rollouts(env)
        gradient_steps = self.config.gradient_steps
        if gradient_steps == -1 and train_freq[1] == "step":
            gradient_steps = train_freq[0]  # SB3's -1 would be one per env step of all envs
        kwargs: dict[str, Any] = {
            "learning_rate": self.config.learning_rate,
            "buffer_size": self.config.buffer_size,
            "batch_size": self.config.batch_size,
            "learning_starts": self.config.learning_starts,
            "gamma": gamma,
            "train_freq": train_freq,
            "gradient_steps": gradient_steps,
            "policy_kwargs": {"net_arch": list(self.config.net_arch)},
            "seed": seed,
            "verbose": 0,
        }
        if self.config.algorithm in SB3_CLASSES:
            kwargs["device"] = self.config.device
        if self.config.algorithm.endswith(("SAC", "CrossQ")):
            kwargs["ent_coef"] = self.config.ent_coef
        else:
            if not isinstance(env.action_space, spaces.Box):  # TD3 / DDPG
                raise ValueError(f"TD3 and DDPG need a Box action space, got {env.action_space}")
            size = env.action_space.shape[0]
            kwargs["action_noise"] = NormalActionNoise(
                np.zeros(size), self.config.action_noise_std * np.ones(size)
            )
        if self.config.n_steps > 1:
            if "n_steps" not in inspect.signature(algorithm).parameters:
                raise ValueError("n_steps > 1 needs stable-baselines3 >= 2.7")
            kwargs["n_steps"] = self.config.n_steps
        self.model = algorithm("MlpPolicy", env, **kwargs)
        # A logger that writes nothing (a scenario sets its run directory's): SB3's default
        # leaves an empty SB3-<time> folder in the temp directory at every learn.
        self.model.set_logger(Logger(folder=None, output_formats=[]))
        self.relabel_callback = OTRelabelCallback(self.rewarder)

    def learn(self, total_timesteps: int, callbacks: list[BaseCallback] | None = None) -> None:
        """Train for ``total_timesteps`` environment steps with OT relabelling (none with
        ``reward="env"``) plus ``callbacks``."""
        relabel = [self.relabel_callback] if self.config.reward == "ot" else []
        self.model.learn(total_timesteps, callback=CallbackList([*relabel, *(callbacks or [])]))
