"""Scenarios of differentially private sequential learning (Liu & Rahimian, arXiv 2502.19525).

- ``dp-binary-cascade``: binary signals under randomized response; cascades against the gambler's-ruin
  closed forms; P(correct cascade) is not monotone in epsilon.
- ``dp-continuous-learning``: Gaussian signals under smoothed randomized response; l_n grows like
  log n with privacy and like sqrt(log n) without.
- ``dp-hitting-time``: E[tau_B] by Monte Carlo beside the Bellman solver; tails of the times to
  the first correct action and report (heavy without privacy).
- ``dp-heterogeneous``: per-agent budgets from a distribution, seen or marginalised by observers.
- ``dp-rl-learner``: PPO trained in ``seqrl/SequentialLearning-v0`` against the Bayesian policy.

Their plots live in :mod:`seqrl.scenarios.plots.dp`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from seqrl.agents.dp_bayesian_learner import BayesianLearner, BayesianPolicy
from seqrl.agents.dp_engine import (
    SequenceSummary,
    log_checkpoints,
    simulate_first_correct,
    simulate_hitting_times,
    simulate_sequences,
)
from seqrl.mechanisms.dp_privacy import HeterogeneousBudget, make_base_mechanism, make_mechanism
from seqrl.mechanisms.dp_sequential import BinaryCascadeClosedForm
from seqrl.mechanisms.dp_signals import BinarySignal, GaussianSignal
from seqrl.scenarios.core import TaskOutput, artifact_dir, param, scenario
from seqrl.scenarios.plots.dp import (
    plot_binary_cascade,
    plot_continuous,
    plot_heterogeneous,
    plot_hitting,
    plot_rl,
)

CASCADE_ACCURACIES = (0.55, 0.7, 0.9)


def accuracy_param(default: float = 0.7) -> Any:
    """The accuracy p of binary signals, in (1/2, 1) (shared with the mixed-population games)."""
    return param(
        default,
        "binary signal accuracy in (1/2, 1)",
        low=0.5,
        high=1.0,
        low_inclusive=False,
        high_inclusive=False,
    )


def epsilon_param(default: float) -> Any:
    return param(
        default,
        "privacy budget epsilon > 0 (inf = no privacy)",
        low=0.0,
        low_inclusive=False,
        allow_inf=True,
    )


def _sigma_param() -> Any:
    return param(1.0, "Gaussian signal standard deviation", low=0.0, low_inclusive=False)


def _amplitude_param() -> Any:
    return param(0.5, "smoothed-RR amplitude c", low=0.0, high=0.5, low_inclusive=False)


def _n_agents_param(default: int) -> Any:
    return param(default, "agents per sequence", low=1)


def _n_runs_param(default: int) -> Any:
    return param(default, "independent sequences per task", low=1)


@dataclass(frozen=True)
class SmoothedLearnerArgs:
    """Gaussian signals privatised by smoothed randomized response (a group of three scenarios)."""

    epsilon: float = epsilon_param(1.0)
    sigma: float = _sigma_param()
    amplitude: float = _amplitude_param()

    def __post_init__(self) -> None:
        self.learner()  # the signal model and the mechanism check their values (e.g. finite sigma)

    def learner(self) -> BayesianLearner:
        """The Bayesian learner under smoothed RR (no privacy when epsilon = inf)."""
        return BayesianLearner(
            GaussianSignal(self.sigma), make_mechanism("smoothed", self.epsilon, self.amplitude)
        )

    def env_kwargs(self) -> dict[str, Any]:
        """The same learner as arguments of ``seqrl/SequentialLearning-v0``."""
        return {
            "signal": "gaussian",
            "sigma": self.sigma,
            "mechanism": "smoothed",
            "epsilon": self.epsilon,
            "amplitude": self.amplitude,
        }


def _learning_metrics(summary: SequenceSummary) -> dict[str, float]:
    slope_log, slope_sqrt_log = summary.learning_speed()
    return {
        "final_public_llr": float(summary.oriented_llr[-1].mean()),
        "llr_slope_log_n": slope_log,
        "llr_slope_sqrt_log_n": slope_sqrt_log,
        "first_correct_action": float(summary.first_correct_action.mean()),
        "first_correct_report": float(summary.first_correct_report.mean()),
        "wrong_actions": float(summary.wrong_actions.mean()),
        "wrong_reports": float(summary.wrong_reports.mean()),
    }


def _trajectory_frame(summary: SequenceSummary) -> pd.DataFrame:
    oriented = summary.oriented_llr
    return pd.DataFrame(
        {
            "step": summary.checkpoints,
            "mean_public_llr": oriented.mean(axis=1),
            "median_public_llr": np.median(oriented, axis=1),
            "mean_wrong_actions": summary.wrong_actions_before.mean(axis=1),
        }
    )


# --- dp-binary-cascade -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CascadeArgs:
    """Parameters of ``dp-binary-cascade``."""

    p: float = accuracy_param()
    epsilon: float = epsilon_param(1.0)
    n_agents: int = _n_agents_param(600)
    n_runs: int = _n_runs_param(2000)

    def __post_init__(self) -> None:
        self.learner()  # the signal model and the mechanism check p and epsilon
        self.closed_form()

    def learner(self) -> BayesianLearner:
        """Binary signals under randomized response (no privacy when epsilon = inf)."""
        return BayesianLearner(
            BinarySignal(self.p), make_mechanism("randomized_response", self.epsilon)
        )

    def closed_form(self) -> BinaryCascadeClosedForm:
        """The gambler's-ruin solution of this cascade."""
        return BinaryCascadeClosedForm(self.p, self.epsilon)


@scenario(
    name="dp-binary-cascade",
    description="Binary signals under randomized response: cascades vs gambler's-ruin closed forms.",
    params=CascadeArgs,
    plot=plot_binary_cascade,
    grid={
        "p": list(CASCADE_ACCURACIES),
        "epsilon": [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, math.inf],
    },
    quick={"p": [0.7], "epsilon": [0.5, 2.0, math.inf], "n_agents": 200, "n_runs": 400},
    seeds=2,
)
def dp_binary_cascade(args: CascadeArgs, rng: np.random.Generator) -> dict[str, float]:
    """Simulate binary-signal sequences and compare cascades with the closed forms."""
    summary = simulate_sequences(args.learner(), args.n_agents, args.n_runs, rng)
    started = summary.cascade_start >= 0
    closed = args.closed_form()
    # n_runs, also asked for per task, is already a column: the parameter of the same name.
    return {
        "cascade_rate": float(started.mean()),
        "correct_cascade_rate": float(summary.cascade_correct[started].mean())
        if started.any()
        else math.nan,
        "mean_cascade_start": float(summary.cascade_start[started].mean())
        if started.any()
        else math.nan,
        "closed_form_correct": closed.probability_correct,
        "closed_form_start": closed.expected_start,
        "threshold_count": closed.threshold_count,
        "wrong_actions": float(summary.wrong_actions.mean()),
        "wrong_reports": float(summary.wrong_reports.mean()),
    }


# --- dp-continuous-learning ------------------------------------------------------------------------


@dataclass(frozen=True)
class ContinuousArgs:
    """Parameters of ``dp-continuous-learning``."""

    learning: SmoothedLearnerArgs = field(default_factory=SmoothedLearnerArgs)
    n_agents: int = _n_agents_param(10_000)
    n_runs: int = _n_runs_param(200)


@scenario(
    name="dp-continuous-learning",
    description="Gaussian signals under smoothed randomized response: log n vs sqrt(log n) learning.",
    params=ContinuousArgs,
    plot=plot_continuous,
    grid={"epsilon": [0.1, 0.5, 1.0, math.inf]},
    quick={"epsilon": [0.5, math.inf], "n_agents": 300, "n_runs": 50},
    seeds=2,
)
def dp_continuous_learning(args: ContinuousArgs, rng: np.random.Generator) -> TaskOutput:
    """Simulate Gaussian-signal sequences and fit the growth of the public LLR."""
    summary = simulate_sequences(args.learning.learner(), args.n_agents, args.n_runs, rng)
    return TaskOutput(_learning_metrics(summary), _trajectory_frame(summary))


# --- dp-hitting-time -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HittingArgs:
    """Parameters of ``dp-hitting-time``."""

    learning: SmoothedLearnerArgs = field(default_factory=SmoothedLearnerArgs)
    bound: float = param(10.0, "B, the public-LLR level to reach", low=0.0, low_inclusive=False)
    n_runs: int = _n_runs_param(400)
    max_agents: int = param(200_000, "censoring horizon of the Monte Carlo", low=1)
    grid_points: int = param(4000, "grid intervals of the Bellman solver", low=10)
    tail_runs: int = param(100_000, "sequences for the first-correct-time tails", low=1)
    tail_agents: int = param(10_000, "censoring horizon of the first-correct times", low=1)


@scenario(
    name="dp-hitting-time",
    description="E[tau_B] by Monte Carlo and Bellman; tails of the first-correct action and report times.",
    params=HittingArgs,
    plot=plot_hitting,
    grid={"epsilon": [0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, math.inf]},
    quick={
        "epsilon": [0.5, 1.0, math.inf],
        "bound": 4.0,
        "n_runs": 200,
        "grid_points": 1000,
        "tail_runs": 2000,
        "tail_agents": 1000,
    },
    seeds=2,
)
def dp_hitting_time(args: HittingArgs, rng: np.random.Generator) -> TaskOutput:
    """E[tau_B] by Monte Carlo and Bellman, and the tails of the first-correct action/report times.

    Everything is simulated under theta = +1 (theta = -1 is its mirror image).
    """
    learner = args.learning.learner()
    times = simulate_hitting_times(learner, args.bound, args.max_agents, args.n_runs, rng)
    reached = times >= 0
    censored = np.where(reached, times, args.max_agents)
    metrics = {
        "tau_mc": float(censored.mean()),
        "tau_mc_standard_error": float(censored.std(ddof=1) / math.sqrt(times.size))
        if times.size > 1
        else math.nan,
        "censored_fraction": float(1.0 - reached.mean()),
        "tau_bellman": learner.expected_hitting_time(args.bound, args.grid_points),
    }
    horizon = args.tail_agents
    steps = log_checkpoints(horizon)[:-1]
    survival = {}
    for what in ("action", "report"):
        first = simulate_first_correct(learner, horizon, args.tail_runs, rng, of=what)
        first = np.where(first < 0, horizon + 1, first)  # censored: after the horizon
        metrics[f"first_correct_{what}_mean"] = float(first.mean())
        metrics[f"first_correct_{what}_after_100"] = float((first > 100).mean())
        survival[f"survival_first_correct_{what}"] = (first[None, :] > steps[:, None]).mean(axis=1)
    return TaskOutput(metrics, pd.DataFrame({"step": steps, **survival}))


# --- dp-heterogeneous ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeterogeneousArgs:
    """Parameters of ``dp-heterogeneous``."""

    mechanism: Literal["smoothed", "randomized_response"] = param("smoothed", "base mechanism")
    budget_distribution: Literal["uniform", "two_point"] = param("uniform", "budget distribution")
    budget_low: float = param(0.0, "smallest budget", low=0.0)
    budget_high: float = param(1.0, "largest budget", low=0.0, low_inclusive=False)
    weight_high: float = param(0.5, "two_point: probability of budget_high", low=0.0, high=1.0)
    budgets_observed: bool = param(False, "whether observers see each agent's budget")
    sigma: float = _sigma_param()
    amplitude: float = _amplitude_param()
    n_agents: int = _n_agents_param(10_000)
    n_runs: int = _n_runs_param(100)

    def __post_init__(self) -> None:
        if self.budget_high <= self.budget_low:
            raise ValueError(
                f"budget_high must be > budget_low ({self.budget_low:g}), got {self.budget_high:g}"
            )
        self.learner()  # checks the remaining budget and signal parameters

    def budget(self) -> HeterogeneousBudget:
        """The per-agent budgets and the base mechanism each agent applies at its own budget."""
        return HeterogeneousBudget(
            # Built at budget_high; each agent's own budget replaces it (the amplitude stays).
            base=make_base_mechanism(self.mechanism, self.budget_high, self.amplitude),
            distribution=self.budget_distribution,
            low=self.budget_low,
            high=self.budget_high,
            weight_high=self.weight_high,
            observed=self.budgets_observed,
        )

    def learner(self) -> BayesianLearner:
        """Bayesian learner with Gaussian signals and heterogeneous budgets."""
        return BayesianLearner(GaussianSignal(self.sigma), self.budget())


@scenario(
    name="dp-heterogeneous",
    description="Per-agent privacy budgets from a distribution, seen or marginalised by observers.",
    params=HeterogeneousArgs,
    plot=plot_heterogeneous,
    grid={"budgets_observed": [False, True]},
    quick={"n_agents": 300, "n_runs": 30},
    seeds=2,
)
def dp_heterogeneous(args: HeterogeneousArgs, rng: np.random.Generator) -> TaskOutput:
    """Simulate Gaussian-signal sequences with per-agent budgets."""
    summary = simulate_sequences(args.learner(), args.n_agents, args.n_runs, rng)
    metrics = {**_learning_metrics(summary), "mean_epsilon": args.budget().mean_epsilon}
    return TaskOutput(metrics, _trajectory_frame(summary))


# --- dp-rl-learner ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RlLearnerArgs:
    """Parameters of ``dp-rl-learner``."""

    learning: SmoothedLearnerArgs = field(default_factory=SmoothedLearnerArgs)
    n_agents: int = param(20, "agents (steps) per episode", low=1)
    total_timesteps: int = param(10_240, "PPO training steps", low=64)
    n_eval_episodes: int = param(200, "episodes for evaluate_policy", low=1)
    checkpoint_freq: int = param(0, "PPO steps between saved checkpoints (0: none)", low=0)

    def env_kwargs(self) -> dict[str, Any]:
        """Arguments of ``seqrl/SequentialLearning-v0``: the learner's, and N agents per episode."""
        return {"n_agents": self.n_agents, **self.learning.env_kwargs()}


def _policy_llr_paths(
    env_kwargs: dict[str, Any], policy: Any, episodes: int, seed: int
) -> np.ndarray:
    """Oriented public LLR after each step of ``episodes`` episodes played by ``policy``."""
    from seqrl.envs.dp_sequential_learning import SequentialLearningEnv

    env = SequentialLearningEnv(**env_kwargs)
    paths = np.empty((episodes, env.n_agents))
    for episode in range(episodes):
        observation, info = env.reset(seed=seed + episode)
        for step in range(env.n_agents):
            action, _ = policy.predict(observation, deterministic=True)
            observation, _, _, _, info = env.step(int(action))
            paths[episode, step] = info["theta"] * info["public_llr"]
    return paths


ENV_ID = "seqrl/SequentialLearning-v0"


@scenario(
    name="dp-rl-learner",
    description="PPO trained in seqrl/SequentialLearning-v0, scored beside the Bayesian policy.",
    params=RlLearnerArgs,
    plot=plot_rl,
    quick={"total_timesteps": 1024, "n_eval_episodes": 20},
    seeds=1,
    quick_seeds=1,
    requires=("rl",),
)
def dp_rl_learner(args: RlLearnerArgs, rng: np.random.Generator) -> TaskOutput:
    """Train PPO and compare it with the Bayesian policy by evaluate_policy and public-LLR paths.

    In a run directory the task keeps the trained policy, its score, SB3's training log and any
    checkpoints under its artifact directory (:mod:`seqrl.scenarios.evaluate`).
    """
    import torch
    from stable_baselines3 import PPO

    from seqrl.envs.dp_sequential_learning import SequentialLearningEnv
    from seqrl.scenarios.evaluate import (
        PolicyRecord,
        save_policy,
        score_policy,
        training_callbacks,
        training_logger,
    )

    torch.set_num_threads(1)
    seed = int(rng.integers(2**31 - 1))
    env_kwargs = args.env_kwargs()
    env = SequentialLearningEnv(**env_kwargs)
    env.reset(seed=seed)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=512,
        batch_size=128,
        n_epochs=5,
        seed=seed,
        device="cpu",
        verbose=0,
    )
    directory = artifact_dir()
    model.set_logger(training_logger(directory))
    callbacks = training_callbacks(directory, args.checkpoint_freq, args.total_timesteps)
    model.learn(args.total_timesteps, callback=callbacks)
    bayesian = BayesianPolicy(args.learning.learner().signal_model)
    metrics: dict[str, float] = {}
    frames = []
    for name, policy in (("ppo", model), ("bayesian", bayesian)):
        rewards = score_policy(policy, ENV_ID, env_kwargs, seed + 1, args.n_eval_episodes)
        if name == "ppo" and directory is not None:
            record = PolicyRecord("PPO", ENV_ID, env_kwargs, seed + 1, args.n_eval_episodes,
                                  True, float(rewards.mean()), float(rewards.std()))  # fmt: skip
            save_policy(model, directory, record)
        accuracy = rewards / args.n_agents
        paths = _policy_llr_paths(env_kwargs, policy, args.n_eval_episodes, seed + 2)
        metrics[f"{name}_accuracy"] = float(accuracy.mean())
        metrics[f"{name}_accuracy_standard_error"] = float(
            accuracy.std(ddof=1) / math.sqrt(accuracy.size) if accuracy.size > 1 else math.nan
        )
        metrics[f"{name}_final_public_llr"] = float(paths[:, -1].mean())
        frames.append(
            pd.DataFrame(
                {
                    "policy": name,
                    "step": np.arange(1, args.n_agents + 1),
                    "mean_public_llr": paths.mean(axis=0),
                }
            )
        )
    return TaskOutput(metrics, pd.concat(frames, ignore_index=True))
