"""Imitation from observation on stable-baselines3 off-policy algorithms, with ADS as a callback.

The agent is an SB3 SAC / TD3 / DDPG learner, or SBX's JAX SAC / CrossQ (same API, same replay
buffer), whose stored rewards are replaced, at the end of each episode, by the optimal-transport
proxy reward against observation-only demos (:mod:`seqrl.mechanisms.ads_ot_reward`). Training is
done once per episode (``train_freq=(1, "episode")``), so every transition is relabelled before it
can be sampled, as in the official ADS code which stores whole episodes. With ``n_envs`` fixed-horizon
envs in a VecEnv the episodes run side by side and end together; by default there is one gradient
step per vector step, i.e. ``1 / n_envs`` per environment step.

:class:`DiscountScheduleCallback` evaluates the policy every ``eval_freq`` steps with SB3's
``evaluate_policy``, updates the progress recognizer (:mod:`seqrl.mechanisms.ads_discount_scheduling`) and
writes the discount into every copy SB3 keeps.
"""

from __future__ import annotations

import inspect
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from stable_baselines3 import DDPG, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from seqrl.agents.ads_batched_sac import BatchedSAC, Replay, SACSettings, to_action_range
from seqrl.mechanisms.ads_discount_scheduling import (
    SCHEDULES,
    DiscountParams,
    ProgressParams,
    discount_from_progress,
    linear_discount,
    reference_scores,
    update_progress,
)
from seqrl.mechanisms.ads_ot_reward import (
    FeatureStandardizer,
    OTRewardParams,
    best_demo_rewards,
    cost_matrices,
    reward_scale,
)

logger = logging.getLogger(__name__)

SB3_ALGORITHMS = {"SAC": SAC, "TD3": TD3, "DDPG": DDPG}
SBX_ALGORITHMS = ("SBX-SAC", "SBX-CrossQ")
"""SBX (``sbx-rl``) classes, named ``SBX-<class>``; imported on first use (they pull JAX)."""
BATCHED_ALGORITHM = "SAC-batched"
"""The batched JAX SAC of :mod:`seqrl.agents.ads_batched_sac`: several runs trained as one model by
:class:`BatchedImitationAgent` (not an SB3 class)."""
ALGORITHMS = (*SB3_ALGORITHMS, *SBX_ALGORITHMS, BATCHED_ALGORITHM)


def algorithm_class(name: str) -> type[OffPolicyAlgorithm]:
    """The learner class of ``name``: an SB3 class, or ``sbx.<class>`` for ``SBX-<class>``."""
    if name in SB3_ALGORITHMS:
        return SB3_ALGORITHMS[name]
    if name == BATCHED_ALGORITHM:
        raise ValueError(f"{name} is no SB3 class: train it with BatchedImitationAgent")
    if name not in SBX_ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {name!r}")
    import sbx

    return getattr(sbx, name.removeprefix("SBX-"))


@dataclass(frozen=True)
class LearnerConfig:
    """Hyperparameters of the SB3 base learner.

    Attributes:
        algorithm: ``"SAC"`` (default), ``"TD3"``, ``"DDPG"``, ``"SBX-SAC"``, ``"SBX-CrossQ"``, or
            ``"SAC-batched"`` (:class:`BatchedImitationAgent`).
        learning_rate: Adam step size.
        buffer_size: Replay capacity in transitions.
        batch_size: Minibatch size.
        learning_starts: Random-action steps before the first update.
        net_arch: Hidden layer sizes of actor and critics.
        n_steps: n-step returns (needs an SB3 version with ``n_steps``; 1 = plain TD).
        action_noise_std: Gaussian exploration noise of TD3 / DDPG.
        ent_coef: SAC's entropy coefficient (``"auto_0.05"``: learned, starting at 0.05; the OT
            reward is scaled to about 10 per episode, so SAC's default start of 1 swamps it).
        gradient_steps: Gradient steps after each episode; -1: one per vector step (as many as
            environment steps with one env, ``1 / n_envs`` of them with ``n_envs``).
        device: Torch device; ``"auto"`` picks CUDA when present (SBX: JAX picks its device).
    """

    algorithm: str = "SAC"
    learning_rate: float = 3e-4
    buffer_size: int = 100_000
    batch_size: int = 256
    learning_starts: int = 1_000
    net_arch: tuple[int, ...] = (256, 256)
    n_steps: int = 1
    action_noise_std: float = 0.1
    ent_coef: str | float = "auto_0.05"
    gradient_steps: int = -1
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(
                f"algorithm must be one of {', '.join(ALGORITHMS)}, got {self.algorithm!r}"
            )
        for name in ("buffer_size", "batch_size", "n_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.gradient_steps == 0 or self.gradient_steps < -1:
            raise ValueError(f"gradient_steps must be >= 1 or -1, got {self.gradient_steps}")
        if self.learning_starts < 0:
            raise ValueError(f"learning_starts must be >= 0, got {self.learning_starts}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not self.action_noise_std >= 0:
            raise ValueError(f"action_noise_std must be >= 0, got {self.action_noise_std}")


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


class OTRewarder:
    """OT proxy reward against fixed demos, with the scale fixed after the first episode.

    Features are standardised with the demos' mean and standard deviation.
    """

    def __init__(self, demos: np.ndarray, params: OTRewardParams | None = None) -> None:
        """Prepare the demo features.

        Args:
            demos: ``(N, T, d)`` expert observations.
            params: OT reward parameters.
        """
        self.params = params or OTRewardParams()
        self.demos = np.asarray(demos, dtype=np.float64)
        self.standardizer = FeatureStandardizer.fit(demos)
        self.demo_features = self.standardizer(demos)
        self.scale: float | None = None

    def costs(self, observations: np.ndarray) -> np.ndarray:
        """Costs of trajectories ``(..., T_a, d)`` against every demo: ``(..., N, T_a, T)``."""
        features = self.standardizer(observations)[..., None, :, :]
        return cost_matrices(features, self.demo_features, self.params.cost)

    def demo_costs(self) -> np.ndarray:
        """Costs between every ordered pair of demos: ``(N, N, T, T)``."""
        return self.costs(self.demos)

    def raw_rewards(self, observations: np.ndarray) -> np.ndarray:
        """Unscaled best-of-N OT rewards ``(..., T_a)`` for trajectories ``(..., T_a, d)``, all
        solved in one Sinkhorn batch."""
        return best_demo_rewards(self.costs(observations), self.params)[0]

    def rewards(self, observations: np.ndarray) -> np.ndarray:
        """Scaled best-of-N OT rewards ``(..., T_a)`` for trajectories ``(..., T_a, d)`` (one
        Sinkhorn batch); the first trajectory ever seen fixes the scale."""
        return self.scaled(self.raw_rewards(observations))

    def scaled(self, raw: np.ndarray) -> np.ndarray:
        """``scale * raw`` for raw rewards ``(..., T_a)``; the first trajectory ever scaled fixes
        the scale (``scale_target / |sum of its rewards|``)."""
        if self.scale is None:
            self.scale = reward_scale(raw.reshape(-1, raw.shape[-1])[0], self.params.scale_target)
            logger.info("OT reward scale fixed at %.4g", self.scale)
        return self.scale * raw


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


class DiscountSchedule:
    """The discount of one run over its training: ADS or an ablation schedule.

    The progress recognizer runs under every schedule, so ``progress`` is reported for all of them;
    only ``schedule="ads"`` maps it to the discount (``gamma = alpha ** (1 / p)``). Serves the SB3
    callback below and the batched learner alike.

    Attributes:
        progress: The recognizer's current ``p``.
        history: One dict per evaluation: ``step``, ``success_rate``, ``gamma``, ``progress``.
    """

    def __init__(
        self,
        rewarder: OTRewarder,
        progress_params: ProgressParams,
        discount_params: DiscountParams | None = None,
        schedule: str = "ads",
        fixed_gamma: float = 0.99,
        linear_steps: int = 1,
    ) -> None:
        """Configure the schedule.

        Args:
            rewarder: Supplies the frame costs against the demos.
            progress_params: Recognizer parameters (horizon = demo length).
            discount_params: ``alpha`` of ``gamma = alpha ** (1 / p)``.
            schedule: ``"ads"``, ``"fixed"`` (``fixed_gamma``) or ``"linear"`` (from
                ``alpha ** (1 / p0)`` to ``alpha ** (1 / T)`` over ``linear_steps`` steps).
            fixed_gamma: Discount of the fixed schedule.
            linear_steps: Duration of the linear schedule in environment steps.
        """
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
        if not 0 < fixed_gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {fixed_gamma}")
        self.rewarder = rewarder
        self.progress_params = progress_params
        self.discount_params = discount_params or DiscountParams()
        self.schedule = schedule
        self.fixed_gamma = fixed_gamma
        self.linear_steps = linear_steps
        self.progress = progress_params.initial_progress
        self.reference = reference_scores(
            rewarder.demo_costs(), progress_params.reference_percentile
        )
        self.history: list[dict[str, float]] = []

    def discount(self, step: int) -> float:
        """The discount the schedule prescribes after ``step`` environment steps."""
        if self.schedule == "fixed":
            return float(self.fixed_gamma)
        if self.schedule == "linear":
            start = float(
                discount_from_progress(self.progress_params.initial_progress, self.discount_params)
            )
            end = float(discount_from_progress(self.progress_params.horizon, self.discount_params))
            return float(linear_discount(step, self.linear_steps, start, end))
        return float(discount_from_progress(self.progress, self.discount_params))

    def record_evaluation(
        self, step: int, successes: np.ndarray, observations: np.ndarray
    ) -> dict[str, float]:
        """Update the progress from evaluation rollouts; append and return the history row.

        Args:
            step: Environment steps so far.
            successes: ``(E,)`` whether each evaluation episode succeeded.
            observations: ``(E, T, d)`` their observations ``o_1..o_T``.
        """
        costs = self.rewarder.costs(observations)
        costs = costs.reshape(-1, *costs.shape[-2:])
        self.progress = update_progress(self.progress, costs, self.reference, self.progress_params)
        row = {
            "step": float(step),
            "success_rate": float(np.mean(successes)),
            "gamma": self.discount(step),
            "progress": float(self.progress),
        }
        self.history.append(row)
        logger.info("evaluation %s", row)
        return row


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


def passed_multiple(last_step: int, step: int, every: int) -> bool:
    """Whether the step count passed a multiple of ``every`` after ``last_step`` (negative: never
    counted) and up to ``step``."""
    return step // every > max(last_step, 0) // every


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
        if self.config.algorithm in SB3_ALGORITHMS:
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
        self.relabel_callback = OTRelabelCallback(self.rewarder)

    def learn(self, total_timesteps: int, callbacks: list[BaseCallback] | None = None) -> None:
        """Train for ``total_timesteps`` environment steps with OT relabelling (plus callbacks)."""
        self.model.learn(
            total_timesteps, callback=CallbackList([self.relabel_callback, *(callbacks or [])])
        )


def batched_settings(config: LearnerConfig) -> SACSettings:
    """The :class:`SACSettings` of a :class:`LearnerConfig` (``ent_coef`` must be learned:
    ``"auto"`` or ``"auto_<start>"``).

    Raises:
        ValueError: a fixed entropy coefficient or n-step returns, which the batched SAC lacks.
    """
    ent_coef = str(config.ent_coef)
    if not ent_coef.startswith("auto"):
        raise ValueError(f"{BATCHED_ALGORITHM} learns its entropy coefficient: ent_coef must be "
                         f"'auto' or 'auto_<start>', got {config.ent_coef!r}")  # fmt: skip
    if config.n_steps != 1:
        raise ValueError(f"{BATCHED_ALGORITHM} has no n-step returns, got n_steps={config.n_steps}")
    return SACSettings(
        learning_rate=config.learning_rate, buffer_size=config.buffer_size,
        batch_size=config.batch_size, net_arch=config.net_arch,
        ent_coef_init=float(ent_coef.removeprefix("auto").removeprefix("_") or 1.0),
    )  # fmt: skip


class BatchedImitationAgent:
    """``K`` imitation-from-observation runs trained as one batched SAC (``SAC-batched``).

    Member ``k`` has its own env, evaluation envs, demos (:class:`OTRewarder`), discount schedule
    (:class:`DiscountSchedule`) and SAC learner; what the SB3 path does with callbacks happens here
    in the loop, with the same pieces: after each episode (fixed horizon, all members in step) the
    members' trajectories are relabelled with OT rewards in one Sinkhorn batch and stored, then
    every member takes ``gradient_steps`` updates (-1: one per environment step, SB3's
    ``train_freq=(1, "episode")`` with ``gradient_steps=-1``) with its schedule's discount;
    random actions until ``learning_starts`` steps, as SB3. Evaluations (deterministic, every
    ``eval_freq`` steps and at the end) run all members' episodes side by side.

    Attributes:
        schedules: Member ``k``'s :class:`DiscountSchedule`; ``schedules[k].history`` its curve.
        sac: The :class:`BatchedSAC` learner.
    """

    def __init__(
        self,
        envs: gymnasium.vector.VectorEnv,
        eval_envs: gymnasium.vector.VectorEnv,
        rewarders: list[OTRewarder],
        schedules: list[DiscountSchedule],
        seeds: list[int],
        config: LearnerConfig | None = None,
        eval_freq: int = 5_000,
        min_success_steps: int = 1,
    ) -> None:
        """Build the members.

        Args:
            envs: One fixed-horizon env per member (``VectorEnv`` of ``K``; Gymnasium's
                ``SyncVectorEnv``, or ``AsyncVectorEnv`` for costly simulators).
            eval_envs: ``K * E`` evaluation envs, member ``k``'s at ``k*E .. (k+1)*E - 1``.
            rewarders: Member ``k``'s OT reward against its demos.
            schedules: Member ``k``'s discount schedule (on its rewarder).
            seeds: Member ``k``'s seed (its env's first reset, its eval envs' from ``seed + 1``,
                its random actions); the learner's parameters come from ``seeds[0]``.
            config: Learner hyperparameters (``algorithm`` is ignored).
            eval_freq: Evaluate each time the steps pass a multiple of this (and at the end).
            min_success_steps: Steps with ``info["success"]`` for an episode to count as solved.
        """
        self.config = config or LearnerConfig()
        n_members = envs.num_envs
        if not len(rewarders) == len(schedules) == len(seeds) == n_members:
            raise ValueError(f"one rewarder, schedule and seed per env: got {len(rewarders)}, "
                             f"{len(schedules)}, {len(seeds)} for {n_members} envs")  # fmt: skip
        if eval_envs.num_envs % n_members:
            raise ValueError(f"eval_envs must hold the same number of envs per member, got "
                             f"{eval_envs.num_envs} for {n_members} members")  # fmt: skip
        if eval_freq < 1:
            raise ValueError(f"eval_freq must be >= 1, got {eval_freq}")
        space = envs.single_action_space
        if not isinstance(space, spaces.Box):
            raise ValueError(f"{BATCHED_ALGORITHM} needs a Box action space, got {space}")
        self.envs, self.eval_envs = envs, eval_envs
        self.rewarders, self.schedules, self.seeds = rewarders, schedules, list(seeds)
        self.eval_freq, self.min_success_steps = eval_freq, min_success_steps
        self.horizon = int(envs.get_attr("horizon")[0])
        self.low, self.high = space.low, space.high
        obs_dim = int(np.prod(envs.single_observation_space.shape))
        self.sac = BatchedSAC(n_members, obs_dim, int(space.shape[0]),
                              batched_settings(self.config), self.seeds[0])  # fmt: skip
        self.num_timesteps = 0
        self._random = [np.random.default_rng(seed) for seed in self.seeds]
        self._seeded = False
        self._last_eval_step = -1

    @property
    def n_members(self) -> int:
        return self.sac.n_members

    def learn(
        self,
        total_timesteps: int,
        on_episode: Callable[[BatchedImitationAgent], None] | None = None,
    ) -> None:
        """Train every member for ``total_timesteps`` environment steps (whole episodes, like SB3
        with episode rollouts); ``on_episode(agent)`` runs after each episode."""
        horizon, n_members = self.horizon, self.n_members
        while self.num_timesteps < total_timesteps:
            observations, _ = self.envs.reset(seed=None if self._seeded else self.seeds)
            self._seeded = True
            obs, action = (self.sac.obs_dim,), (self.sac.action_dim,)
            episode = [np.empty((n_members, horizon, *shape), np.float32)
                       for shape in (obs, action, obs, ())]  # fmt: skip
            for t in range(horizon):
                if self.num_timesteps < self.config.learning_starts:
                    actions = np.stack([rng.uniform(-1.0, 1.0, self.low.shape)
                                        for rng in self._random])  # fmt: skip
                else:
                    actions = self.sac.act(observations)
                next_observations, _, terminated, _, _ = self.envs.step(
                    to_action_range(actions, self.low, self.high)
                )
                for array, value in zip(episode, (observations, actions, next_observations,
                                                  terminated), strict=True):  # fmt: skip
                    array[:, t] = value
                observations = next_observations
                self.num_timesteps += 1
                if passed_multiple(self._last_eval_step, self.num_timesteps, self.eval_freq):
                    self.evaluate()
            states, actions, next_states, dones = episode
            self.sac.add(Replay(states, actions, self.relabel(next_states), next_states, dones))
            if self.num_timesteps > self.config.learning_starts:
                steps = horizon if self.config.gradient_steps == -1 else self.config.gradient_steps
                gammas = [schedule.discount(self.num_timesteps) for schedule in self.schedules]
                self.sac.train(steps, np.array(gammas))
            if on_episode is not None:
                on_episode(self)
        if self._last_eval_step != self.num_timesteps:
            self.evaluate()

    def relabel(self, trajectories: np.ndarray) -> np.ndarray:
        """OT rewards ``(K, T)`` of the members' trajectories ``(K, T, d)``: member ``k``'s
        against its demos, all solved in one Sinkhorn batch, each scaled by its rewarder."""
        costs = np.stack([rewarder.costs(trajectory)
                          for rewarder, trajectory in zip(self.rewarders, trajectories,
                                                          strict=True)])  # fmt: skip
        raw, _ = best_demo_rewards(costs, self.rewarders[0].params)
        return np.stack([rewarder.scaled(row) for rewarder, row in zip(self.rewarders, raw,
                                                                        strict=True)])  # fmt: skip

    def evaluate(self) -> list[dict[str, float]]:
        """Run every member's evaluation episodes side by side (deterministic actions), update
        each member's progress; return the new history rows."""
        n_members, per_member = self.n_members, self.eval_envs.num_envs // self.n_members
        seeds = None
        if self._last_eval_step < 0:
            seeds = [seed + 1 + e for seed in self.seeds for e in range(per_member)]
        observations, _ = self.eval_envs.reset(seed=seeds)
        frames = np.empty((self.eval_envs.num_envs, self.horizon, self.sac.obs_dim), np.float32)
        success_steps = np.zeros(self.eval_envs.num_envs, dtype=int)
        for t in range(self.horizon):
            grouped = observations.reshape(n_members, per_member, -1)
            actions = self.sac.predict(grouped).reshape(self.eval_envs.num_envs, -1)
            observations, _, _, _, infos = self.eval_envs.step(
                to_action_range(actions, self.low, self.high)
            )
            frames[:, t] = observations
            success_steps += np.asarray(infos.get("success", False), dtype=bool)
        self._last_eval_step = self.num_timesteps
        solved = (success_steps >= self.min_success_steps).reshape(n_members, per_member)
        frames = frames.reshape(n_members, per_member, self.horizon, -1)
        return [schedule.record_evaluation(self.num_timesteps, solved[k], frames[k])
                for k, schedule in enumerate(self.schedules)]  # fmt: skip
