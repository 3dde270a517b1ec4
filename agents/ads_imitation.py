"""The learner-independent pieces of System 3's imitation from observation (no torch, no SB3).

A run has a learner configuration (:class:`LearnerConfig`), the OT proxy reward of its demos
(:class:`OTRewarder`, :mod:`seqrl.mechanisms.ads_ot_reward`) and a discount schedule
(:class:`DiscountSchedule`: ADS's progress recognizer of
:mod:`seqrl.mechanisms.ads_discount_scheduling`, or an ablation schedule). The SB3 learners of
:mod:`seqrl.agents.ads_ilfo_agent` and the batched JAX SAC of :mod:`seqrl.agents.ads_batched_sac`
share these, so both paths compute the same rewards and discounts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from seqrl.mechanisms.ads_discount_scheduling import (
    SCHEDULES,
    DiscountParams,
    ProgressParams,
    discount_from_progress,
    linear_discount,
    recognizer_margin,
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

SB3_ALGORITHMS = ("SAC", "TD3", "DDPG")
"""stable-baselines3's classes (:mod:`seqrl.agents.ads_ilfo_agent`)."""
SBX_ALGORITHMS = ("SBX-SAC", "SBX-CrossQ")
"""SBX (``sbx-rl``) classes, named ``SBX-<class>``; imported on first use (they pull JAX)."""
BATCHED_ALGORITHM = "SAC-batched"
"""The batched JAX SAC of :mod:`seqrl.agents.ads_batched_sac`: several runs trained as one model by
:class:`~seqrl.agents.ads_batched_sac.BatchedImitationAgent` (not an SB3 class)."""
ALGORITHMS = (*SB3_ALGORITHMS, *SBX_ALGORITHMS, BATCHED_ALGORITHM)
REWARDS = ("ot", "env")
"""The learner's reward: the OT proxy (imitation from observation) or the env's (oracle control)."""


@dataclass(frozen=True)
class LearnerConfig:
    """Hyperparameters of a run's learner (SB3 / SBX, or the batched SAC).

    Attributes:
        algorithm: ``"SAC"`` (default), ``"TD3"``, ``"DDPG"``, ``"SBX-SAC"``, ``"SBX-CrossQ"``, or
            ``"SAC-batched"`` (:class:`~seqrl.agents.ads_batched_sac.BatchedImitationAgent`).
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
        reward: What the learner maximises: ``"ot"``, the OT proxy reward (imitation from
            observation), or ``"env"``, the env's own reward, an oracle control (the demos then
            only drive the progress recognizer).
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
    reward: str = "ot"

    def __post_init__(self) -> None:
        if self.reward not in REWARDS:
            raise ValueError(f"reward must be one of {', '.join(REWARDS)}, got {self.reward!r}")
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


class DiscountSchedule:
    """The discount of one run over its training: ADS or an ablation schedule.

    The progress recognizer runs under every schedule, so ``progress`` is reported for all of them;
    only ``schedule="ads"`` maps it to the discount (``gamma = alpha ** (1 / p)``). Serves the SB3
    callback below and the batched learner alike.

    Attributes:
        progress: The recognizer's current ``p``.
        history: One dict per evaluation: ``step``, ``success_rate``, ``gamma``, ``progress``,
            ``recognizer_margin`` (``S_p - floor(0.9 R_p)`` at the new ``p``: below 0, the agent's
            match score is short of the recognizer's bar).
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
            "recognizer_margin": recognizer_margin(
                self.progress, costs, self.reference, self.progress_params
            ),
        }
        self.history.append(row)
        logger.info("evaluation %s", row)
        return row


def passed_multiple(last_step: int, step: int, every: int) -> bool:
    """Whether the step count passed a multiple of ``every`` after ``last_step`` (negative: never
    counted) and up to ``step``."""
    return step // every > max(last_step, 0) // every
