"""Scenarios of imitation from observation with Automatic Discount Scheduling (Liu et al., ICLR 2024).

- ``ads-toy``: FetchDeliver (fetch an object, then deliver it), learnt from observation-only demos
  with the OT proxy reward under the ADS, fixed or linear discount schedule.
- ``ads-metaworld``: the same on a state-based Meta-World v3 task with Meta-World's scripted expert.
- ``ads-demos``: generate and store observation-only demos (``demos.npz`` in the task's directory)
  for later runs (``--set demos=PATH``).

Per task: ``success_rate`` (final deterministic evaluation with SB3's ``evaluate_policy`` on the
true task success), ``final_gamma``, ``final_progress``; learning curves (success rate, gamma and
progress against environment steps) go to trajectories.parquet.

Every episode lasts exactly the env's horizon: the envs are built bare and wrapped in Gymnasium's
``TimeLimit`` at their horizon (:func:`~seqrl.envs.ads_fetch_deliver.with_time_limit`).
"""

from __future__ import annotations

import abc
import importlib.util
import os
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium
import numpy as np
import pandas as pd
from gymnasium.wrappers import TimeLimit

from seqrl.agents.ads_expert_demos import ExpertPolicy, collect_demos, load_demos, save_demos
from seqrl.agents.ads_imitation import DiscountSchedule, LearnerConfig, OTRewarder, passed_multiple
from seqrl.envs.ads_fetch_deliver import (
    FetchDeliverEnv,
    FetchDeliverVectorEnv,
    fetch_deliver_expert,
    with_time_limit,
)
from seqrl.envs.ads_metaworld import MetaWorldImitationEnv, scripted_expert
from seqrl.mechanisms.ads_discount_scheduling import (
    DiscountParams,
    ProgressParams,
    Schedule,
)
from seqrl.mechanisms.ads_ot_reward import CostMetric, OTRewardParams
from seqrl.scenarios.core import (
    BadInput,
    TaskOutput,
    artifact_dir,
    param,
    replicate_rngs,
    report_progress,
    scenario,
)
from seqrl.scenarios.extras import require_extras
from seqrl.scenarios.plots.ads import plot_metaworld, plot_toy

MetaWorldTask = Literal[
    "basketball-v3",
    "assembly-v3",
    "hammer-v3",
    "pick-place-wall-v3",
    "lever-pull-v3",
    "stick-push-v3",
    "door-lock-v3",
    "door-unlock-v3",
    "door-open-v3",
]
DemoTask = Literal["fetch-deliver", MetaWorldTask]
Algorithm = Literal["SAC", "TD3", "DDPG", "SBX-SAC", "SBX-CrossQ", "SAC-batched"]
"""The off-policy learners of :class:`~seqrl.agents.ads_imitation.LearnerConfig`: SB3's, SBX's
JAX SAC / CrossQ (``sbx-rl``, same API), and the batched JAX SAC that trains ``runs`` runs of a
task as one model."""
ALGORITHMS: tuple[str, ...] = typing.get_args(Algorithm)
CURVE_METRICS = ("success_rate", "gamma", "progress", "recognizer_margin")


@dataclass(frozen=True)
class StateOTRewardParams(OTRewardParams):
    """The OT reward of the scenarios: :class:`OTRewardParams` with the official code's ground cost
    for state features as its default.

    Attributes:
        cost: OT ground cost on standardised state features (euclidean: official code for states;
            cosine: paper, pixels).
        regularization: Entropic regularisation of Sinkhorn (paper: 0.01).
        iterations: Sinkhorn iterations (paper: 100).
        scale_target: Target |sum of rewards| of the first episode, which fixes the reward scale.
    """

    cost: CostMetric = "euclidean"


def _budget(default: int) -> Any:
    return param(default, "environment (agent) steps of training", low=1)


def _width(default: int) -> Any:
    return param(default, "units in each of the two hidden layers of actor and critics", low=1)


def _eval_freq(default: int) -> Any:
    return param(default, "evaluate (and update progress) every this many steps", low=1)


def _eval_episodes(default: int) -> Any:
    return param(default, "episodes per evaluation", low=1)


@dataclass(frozen=True)
class ImitationArgs(abc.ABC):
    """Parameters shared by ads-toy and ads-metaworld (budget defaults: the toy's).

    ``discount`` holds ``alpha`` of the ADS mapping ``gamma = alpha ** (1 / p)``; ``ot`` the OT
    reward's ``cost``, ``regularization``, ``iterations`` and ``scale_target``.
    """

    schedule: Schedule = param("ads", "discount schedule")
    gamma: float = param(
        0.99, "discount of the fixed schedule", low=0.0, high=1.0, low_inclusive=False
    )
    discount: DiscountParams = field(default_factory=DiscountParams)
    budget: int = _budget(8_000)
    n_demos: int = param(10, "expert demos (>= 2)", low=2)
    algorithm: Algorithm = param(
        "SAC", "off-policy learner (SBX-*, SAC-batched: JAX, needs sbx-rl)"
    )
    runs: int = param(
        1, "independent runs per task trained as one batched model (algorithm=SAC-batched)", low=1
    )
    async_envs: bool = param(
        False, "SAC-batched: step each run's env in its own process (costly simulators, many cores)"
    )
    n_envs: int = param(1, "training envs side by side (fixed horizon, reset together)", low=1)
    gradient_steps: int = param(
        -1, "gradient steps per episode rollout (-1: one per vector step)", low=-1
    )
    width: int = _width(64)
    reward: Literal["ot", "env"] = param(
        "ot",
        "what the learner maximises: the OT proxy (ot) or the env's own reward (env, a control)",
    )
    ot: StateOTRewardParams = field(default_factory=StateOTRewardParams)
    eval_freq: int = _eval_freq(500)
    eval_episodes: int = _eval_episodes(10)
    demos: str = param("", "path of a demos .npz (empty: generate with the scripted expert)")
    checkpoint_freq: int = param(0, "steps between saved checkpoints (0: none)", low=0)

    def __post_init__(self) -> None:
        """Validate a demos file against the env (shape, length, dimension, at least n_demos),
        gradient_steps, and that an SBX learner is installed."""
        if self.gradient_steps == 0 or self.gradient_steps < -1:
            raise ValueError(f"gradient_steps must be >= 1 or -1, got {self.gradient_steps}")
        if self.algorithm.startswith("SBX-") and importlib.util.find_spec("sbx") is None:
            raise BadInput(f"algorithm={self.algorithm} needs sbx-rl: pip install sbx-rl")
        if self.algorithm == "SAC-batched":
            if importlib.util.find_spec("jax") is None or importlib.util.find_spec("optax") is None:
                raise BadInput("algorithm=SAC-batched needs JAX and optax: pip install sbx-rl")
            if self.n_envs != 1:
                raise ValueError(f"n_envs={self.n_envs}: algorithm=SAC-batched runs one env "
                                 "per run (batch runs with runs=K instead)")  # fmt: skip
        elif self.runs != 1 or self.async_envs:
            name = f"runs={self.runs}" if self.runs != 1 else "async_envs=true"
            raise ValueError(f"{name} needs algorithm=SAC-batched (the other learners train one "
                             f"run per task), got {self.algorithm}")  # fmt: skip
        if self.demos:
            self.stored_demos()

    @abc.abstractmethod
    def make_env(self) -> FetchDeliverEnv | MetaWorldImitationEnv:
        """The host env, bare (:func:`with_time_limit` ends its episodes)."""

    def training_env(self) -> TimeLimit:
        """The host env, its episodes ended at its horizon: what learners train and evaluate on."""
        return with_time_limit(self.make_env())

    def vector_env(self, count: int, processes: bool = False) -> gymnasium.vector.VectorEnv:
        """``count`` training envs side by side for the batched learner: each in its own process
        (``processes``), else stepped in this one."""
        if processes:
            return gymnasium.vector.AsyncVectorEnv([self.training_env] * count, context="spawn")
        return gymnasium.vector.SyncVectorEnv([self.training_env] * count)

    @abc.abstractmethod
    def env_spec(self) -> tuple[str, dict[str, Any]]:
        """The Gymnasium id and kwargs that ``gymnasium.make`` builds the same env from (for the
        saved policy's evaluation)."""

    def env_shape(self) -> tuple[int, int]:
        """``(horizon, observation dimension)`` of the host env: what demos must match."""
        env = self.make_env()
        shape = env.horizon, int(env.observation_space.shape[0])
        env.close()
        return shape

    def stored_demos(self) -> np.ndarray:
        """The first ``n_demos`` demos of the ``demos`` file, validated against the env.

        Raises:
            ValueError: the file is unusable for the env or holds fewer than ``n_demos`` demos.
        """
        stored = load_demos(self.demos, *self.env_shape())
        if stored.n_demos < self.n_demos:
            raise ValueError(
                f"n_demos={self.n_demos}: the demos file {self.demos} holds only {stored.n_demos}"
            )
        return stored.observations[: self.n_demos]


@dataclass(frozen=True)
class ToyArgs(ImitationArgs):
    """Parameters of ads-toy."""

    horizon: int = param(24, "episode length T", low=2)
    observe_object: bool = param(
        False, "randomise the object and observe its position (default: fixed spot, unobserved)"
    )

    def make_env(self) -> FetchDeliverEnv:
        return FetchDeliverEnv(horizon=self.horizon, observe_object=self.observe_object)

    def vector_env(self, count: int, processes: bool = False) -> gymnasium.vector.VectorEnv:
        """In this process, FetchDeliver's own array implementation (the same steps as ``count``
        wrapped envs, at the cost of one)."""
        if processes:
            return super().vector_env(count, processes)
        return FetchDeliverVectorEnv(
            count, horizon=self.horizon, observe_object=self.observe_object
        )

    def env_spec(self) -> tuple[str, dict[str, Any]]:
        return "seqrl/FetchDeliver-v0", {"horizon": self.horizon,
                                         "observe_object": self.observe_object}  # fmt: skip


@dataclass(frozen=True)
class MetaWorldArgs(ImitationArgs):
    """Parameters of ads-metaworld."""

    budget: int = _budget(20_000)
    width: int = _width(256)
    eval_freq: int = _eval_freq(5_000)
    eval_episodes: int = _eval_episodes(5)
    task: MetaWorldTask = param("basketball-v3", "Meta-World v3 task")

    def __post_init__(self) -> None:
        if self.demos:  # validating the file builds the env
            require_extras(["ads"], "scenario ads-metaworld")
        super().__post_init__()

    def make_env(self) -> MetaWorldImitationEnv:
        return MetaWorldImitationEnv(self.task)

    def env_spec(self) -> tuple[str, dict[str, Any]]:
        return "seqrl/MetaWorldImitation-v0", {"task": self.task}


def _train(
    args: ImitationArgs,
    rng: np.random.Generator,
    horizon: int,
    expert: ExpertPolicy,
    learner: dict[str, Any],
    min_success_steps: int,
) -> TaskOutput:
    """Collect (or load) the demos, train the ILfO agent under the chosen schedule; final metrics
    and learning curves (``runs`` runs of one batched model with ``SAC-batched``).

    Args:
        args: The scenario's parameters.
        rng: The task's generator (per run, from :func:`replicate_rngs`: the demos' reset seeds,
            then the learner's seed; run ``k`` of seed ``s`` is seed ``s * runs + k`` of
            ``runs=1``).
        horizon: The host env's horizon T.
        expert: The scripted expert (on the full observation).
        learner: The host's LearnerConfig settings (network size, learning rate...).
        min_success_steps: Steps with ``info["success"]`` for an evaluation episode to succeed.
    """

    def demos_and_seed(rng: np.random.Generator) -> tuple[np.ndarray, int]:
        if args.demos:
            demos = args.stored_demos()
        else:
            env = args.training_env()
            demos = collect_demos(env, expert, horizon, args.n_demos, rng).observations
        return demos, int(rng.integers(2**31 - 1))

    # One thread per run for torch and XLA, read when they load: torch with SB3's learners (which
    # also set it below), JAX on the first JAX run.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault(
        "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    )
    config = LearnerConfig(algorithm=args.algorithm, gradient_steps=args.gradient_steps,
                           reward=args.reward, **learner)  # fmt: skip
    members = [demos_and_seed(run_rng) for run_rng in replicate_rngs(rng, args.runs)]
    train = _train_batched if args.algorithm == "SAC-batched" else _train_sb3
    histories, metrics = train(Training(args, members, config, horizon, min_success_steps))
    curves = pd.concat(
        [pd.DataFrame(history).assign(run=run) for run, history in enumerate(histories)]
    ).melt(id_vars=["step", "run"], value_vars=list(CURVE_METRICS), var_name="metric",
           value_name="value")  # fmt: skip
    finals = [history[-1] for history in histories]
    metrics |= {
        "success_rate": float(np.mean([final["success_rate"] for final in finals])),
        "final_gamma": float(np.mean([final["gamma"] for final in finals])),
        "final_progress": float(np.mean([final["progress"] for final in finals])),
    }
    return TaskOutput(metrics=metrics, trajectories=curves)


Histories = list[list[dict[str, float]]]
"""One evaluation history (rows of step, success_rate, gamma, progress, recognizer_margin) per
run."""


@dataclass(frozen=True)
class Training:
    """What a trainer gets: the parameters, each run's ``(demos, seed)``, the learner's settings,
    the horizon T and the steps of success an evaluation episode needs."""

    args: ImitationArgs
    members: list[tuple[np.ndarray, int]]
    config: LearnerConfig
    horizon: int
    min_success_steps: int

    def schedule(self, rewarder: OTRewarder) -> DiscountSchedule:
        """The run's discount schedule on ``rewarder`` (the linear one ramps over the budget)."""
        args = self.args
        return DiscountSchedule(rewarder, ProgressParams(horizon=self.horizon), args.discount,
                                args.schedule, args.gamma, linear_steps=args.budget)  # fmt: skip


def _train_sb3(training: Training) -> tuple[Histories, dict[str, Any]]:
    """One run of an SB3 / SBX learner, the schedule as a callback."""
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    from seqrl.agents.ads_ilfo_agent import DiscountScheduleCallback, ImitationFromObservationAgent
    from seqrl.scenarios.evaluate import (
        PolicyRecord,
        save_policy,
        score_policy,
        training_callbacks,
        training_logger,
    )

    torch.set_num_threads(1)
    args = training.args
    [(demos, seed)] = training.members
    env: TimeLimit | DummyVecEnv
    if args.n_envs == 1:
        env = args.training_env()
        env.reset(seed=seed)
    else:  # episodes of the same horizon side by side, one policy call per vector step
        env = DummyVecEnv([args.training_env] * args.n_envs)
        env.seed(seed)
    # One env per evaluation episode: the episodes run side by side, one policy call per step.
    eval_env = DummyVecEnv([args.training_env] * args.eval_episodes)
    eval_env.seed(seed + 1)
    agent = ImitationFromObservationAgent(
        env, demos, training.config, args.ot, gamma=args.gamma, seed=seed
    )
    schedule = training.schedule(agent.rewarder)
    callback = DiscountScheduleCallback(eval_env, schedule, args.eval_freq, args.eval_episodes,
                                        training.min_success_steps)  # fmt: skip
    directory = artifact_dir()
    agent.model.set_logger(training_logger(directory))
    callbacks = training_callbacks(directory, args.checkpoint_freq, args.budget)
    agent.learn(args.budget, [callback, *callbacks])
    if directory is not None:
        env_id, env_kwargs = args.env_spec()
        rewards = score_policy(agent.model, env_id, env_kwargs, seed + 1, args.eval_episodes)
        record = PolicyRecord(args.algorithm, env_id, env_kwargs, seed + 1, args.eval_episodes,
                              True, float(rewards.mean()), float(rewards.std()))  # fmt: skip
        save_policy(agent.model, directory, record)
    return [schedule.history], {"device": str(agent.model.device)}


def _train_batched(training: Training) -> tuple[Histories, dict[str, Any]]:
    """``runs`` runs as one batched JAX SAC; evaluations of all runs side by side."""
    import jax

    from seqrl.agents.ads_batched_sac import BatchedImitationAgent, MemberPolicy
    from seqrl.scenarios.evaluate import (
        BATCHED_POLICY_FILE,
        CHECKPOINT_DIR,
        PolicyRecord,
        score_policies,
        training_logger,
        write_record,
    )

    args = training.args
    rewarders = [OTRewarder(demos, args.ot) for demos, _ in training.members]
    schedules = [training.schedule(rewarder) for rewarder in rewarders]
    seeds = [seed for _, seed in training.members]
    directory = artifact_dir()
    log = training_logger(directory) if directory is not None else None
    logged_evaluations = 0

    def on_episode(agent: BatchedImitationAgent) -> None:
        """Progress; the mean over runs of each new evaluation to the training log; checkpoints."""
        nonlocal logged_evaluations
        steps = agent.num_timesteps
        report_progress(min(steps, args.budget), args.budget, "steps")
        if log is not None and len(schedules[0].history) > logged_evaluations:
            logged_evaluations = len(schedules[0].history)
            log.record("time/total_timesteps", steps)
            for name in CURVE_METRICS:
                log.record(f"eval/{name}", np.mean([s.history[-1][name] for s in schedules]))
            log.dump(steps)
        if (
            directory is not None
            and args.checkpoint_freq
            and passed_multiple(steps - training.horizon, steps, args.checkpoint_freq)
        ):
            (directory / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
            agent.sac.save_actors(directory / CHECKPOINT_DIR / f"policy_{steps}_steps.npz")

    envs = args.vector_env(args.runs, processes=args.async_envs)
    eval_envs = args.vector_env(args.runs * args.eval_episodes)
    try:
        agent = BatchedImitationAgent(envs, eval_envs, rewarders, schedules, seeds,
                                      training.config, args.eval_freq,
                                      training.min_success_steps)  # fmt: skip
        agent.learn(args.budget, on_episode)
        if directory is not None:
            agent.sac.save_actors(directory / BATCHED_POLICY_FILE)
            env_id, env_kwargs = args.env_spec()
            policies = MemberPolicy.load_members(
                directory / BATCHED_POLICY_FILE, envs.single_action_space
            )
            rewards = score_policies(policies, env_id, env_kwargs, seeds[0] + 1, args.eval_episodes)
            write_record(directory, PolicyRecord(args.algorithm, env_id, env_kwargs, seeds[0] + 1,
                                                 args.eval_episodes, True, float(rewards.mean()),
                                                 float(rewards.std()), runs=args.runs))  # fmt: skip
    finally:  # an AsyncVectorEnv's processes end with the task, whatever happened
        envs.close()
        eval_envs.close()
    return [schedule.history for schedule in schedules], {"device": str(jax.devices()[0])}


@scenario(
    name="ads-toy",
    description="ILfO with the OT reward on FetchDeliver: ADS vs fixed / linear discount schedules.",
    params=ToyArgs,
    grid={"schedule": ["ads", "fixed"]},
    quick={"budget": 2_000},
    seeds=5,
    quick_seeds=1,
    plot=plot_toy,
    requires=("ads",),
)
def ads_toy(args: ToyArgs, rng: np.random.Generator) -> TaskOutput:
    """Train on FetchDeliver with a small SAC (64 x 64 by default)."""
    learner = {"net_arch": (args.width,) * 2, "learning_starts": 500, "learning_rate": 1e-3}
    return _train(args, rng, args.horizon, fetch_deliver_expert, learner, min_success_steps=1)


@scenario(
    name="ads-metaworld",
    description="ILfO with the OT reward on a state-based Meta-World v3 task: ADS vs fixed discount.",
    params=MetaWorldArgs,
    grid=[{"schedule": ["ads"]}, {"schedule": ["fixed"], "gamma": [0.99, 0.9]}],
    quick={"budget": 1_000, "eval_freq": 500, "eval_episodes": 2, "n_demos": 3, "gamma": 0.99},
    seeds=3,
    quick_seeds=1,
    plot=plot_metaworld,
    requires=("ads",),
)
def ads_metaworld(args: MetaWorldArgs, rng: np.random.Generator) -> TaskOutput:
    """Train on the Meta-World task with the paper's SAC (256 x 256 by default); also reports the
    horizon."""
    # Success as in the paper's code: info["success"] on more than 3 agent steps.
    learner = {"net_arch": (args.width,) * 2, "learning_starts": 1_000}
    horizon, _ = args.env_shape()
    output = _train(args, rng, horizon, scripted_expert(args.task), learner, min_success_steps=4)
    output.metrics["horizon"] = horizon
    return output


@dataclass(frozen=True)
class DemosArgs:
    """Parameters of ads-demos."""

    task: DemoTask = param("fetch-deliver", "fetch-deliver or a Meta-World v3 task")
    n_demos: int = param(10, "demos to keep (successful, full horizon)", low=2)
    horizon: int = param(24, "episode length of fetch-deliver (Meta-World: the paper's)", low=2)

    def __post_init__(self) -> None:
        if self.task != "fetch-deliver":
            require_extras(["ads"], f"task={self.task}")


@scenario(
    name="ads-demos",
    description="Generate observation-only expert demos (.npz + metadata) for ads-toy / ads-metaworld.",
    params=DemosArgs,
    seeds=1,
    quick={"n_demos": 2},
)
def ads_demos(args: DemosArgs, rng: np.random.Generator) -> dict[str, Any]:
    """Roll out the scripted expert; keep ``n_demos`` successful episodes in ``demos.npz``."""
    env: FetchDeliverEnv | MetaWorldImitationEnv
    if args.task == "fetch-deliver":
        env, expert = FetchDeliverEnv(horizon=args.horizon), fetch_deliver_expert
    else:
        env, expert = MetaWorldImitationEnv(args.task), scripted_expert(args.task)
    demos = collect_demos(
        with_time_limit(env), expert, env.horizon, args.n_demos, rng, metadata={"task": args.task}
    )
    directory = artifact_dir()
    if directory is not None:
        save_demos(directory / "demos.npz", demos)
    return {
        "expert_success_rate": demos.metadata["expert_success_rate"],
        "demo_horizon": demos.horizon,
        "observation_dim": int(demos.observations.shape[-1]),
    }
