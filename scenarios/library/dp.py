"""Scenarios of differentially private sequential learning (Liu & Rahimian, arXiv 2502.19525).

- ``dp-binary-cascade``: binary signals under randomized response; cascades against the gambler's-ruin
  closed forms; P(correct cascade) is not monotone in epsilon.
- ``dp-continuous-learning``: Gaussian signals under smoothed randomized response; l_n grows like
  log n with privacy and like sqrt(log n) without.
- ``dp-hitting-time``: E[tau_B] by Monte Carlo beside the Bellman solver; tails of the times to
  the first correct action and report (heavy without privacy).
- ``dp-heterogeneous``: per-agent budgets from a distribution, seen or marginalised by observers.
- ``dp-rl-learner``: PPO trained in ``seqrl/SequentialLearning-v0`` against the Bayesian policy.
"""

from __future__ import annotations

import math
from typing import Any

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
from seqrl.mechanisms.dp_privacy import HeterogeneousBudget, make_mechanism
from seqrl.mechanisms.dp_sequential import BinaryCascadeClosedForm
from seqrl.mechanisms.dp_signals import BinarySignal, GaussianSignal
from seqrl.scenarios import Param, TaskOutput, scenario

EPSILON_HELP = "privacy budget epsilon > 0 (inf = no privacy)"
CASCADE_ACCURACIES = (0.55, 0.7, 0.9)
LLR_AXIS_LABEL = "mean public LLR theta * l_n"
PRIVATE_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _epsilon_param(default: float) -> Param:
    return Param("epsilon", float, default, EPSILON_HELP, low=0.0, low_inclusive=False)


def _n_agents_param(default: int) -> Param:
    return Param("n_agents", int, default, "agents per sequence", low=1)


def _n_runs_param(default: int) -> Param:
    return Param("n_runs", int, default, "independent sequences per task", low=1)


def _sigma_param() -> Param:
    return Param(
        "sigma", float, 1.0, "Gaussian signal standard deviation", low=0.0, low_inclusive=False
    )


def _amplitude_param() -> Param:
    return Param(
        "amplitude", float, 0.5, "smoothed-RR amplitude c", low=0.0, high=0.5, low_inclusive=False
    )


def _epsilon_color(epsilon: float, all_epsilons: pd.Series) -> Any:
    """Black without privacy; otherwise a viridis shade by the budget's rank among the private ones."""
    if math.isinf(epsilon):
        return "black"
    from matplotlib import colormaps

    private = np.sort(all_epsilons[np.isfinite(all_epsilons)].unique())
    rank = int(np.searchsorted(private, epsilon))
    return colormaps["viridis"](0.9 * rank / max(len(private) - 1, 1))


def _epsilon_label(epsilon: float) -> str:
    return "no privacy" if math.isinf(epsilon) else f"epsilon = {epsilon:g}"


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


def _figure(ncols: int = 1, width: float = 6.0, height: float = 4.2):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)


# --- dp-binary-cascade -----------------------------------------------------------------------------


def _check_binary_cascade(params: dict[str, Any]) -> None:
    BinaryCascadeClosedForm(params["p"], params["epsilon"])
    make_mechanism("randomized_response", params["epsilon"])


def _plot_binary_cascade(
    results: pd.DataFrame, trajectories: pd.DataFrame | None
) -> dict[str, Any]:
    figure, axes = _figure(width=7.5, height=5.2)
    axis = axes[0, 0]
    means = results.groupby(["p", "epsilon"], as_index=False)["correct_cascade_rate"].mean()
    private_eps = means.loc[np.isfinite(means["epsilon"]), "epsilon"]
    top = float(private_eps.max()) if len(private_eps) else 5.0
    fine = np.linspace(0.05, max(top, 1.0), 800)
    for color, p in zip(PRIVATE_COLORS, sorted(means["p"].unique()), strict=False):
        curve = [BinaryCascadeClosedForm(p, eps).probability_correct for eps in fine]
        axis.plot(fine, curve, color=color, lw=1.2, label=f"closed form, p = {p:g}")
        axis.axhline(
            BinaryCascadeClosedForm(p, math.inf).probability_correct,
            color=color,
            ls="--",
            lw=1,
            label=f"no privacy, p = {p:g}",
        )
        rows = means[(means["p"] == p) & np.isfinite(means["epsilon"])]
        axis.plot(
            rows["epsilon"],
            rows["correct_cascade_rate"],
            "o",
            color=color,
            ms=4,
            label=f"simulation, p = {p:g}",
        )
    axis.set_xlabel("privacy budget epsilon (randomized response)")
    axis.set_ylabel("P(cascade is correct)")
    axis.set_title("Binary signals: the correct-cascade probability is not monotone in epsilon")
    figure.legend(*axis.get_legend_handles_labels(), fontsize=7, ncol=3, loc="lower center")
    figure.tight_layout(rect=(0, 0.1, 1, 1))
    return {"dp_binary_cascade": figure}


@scenario(
    name="dp-binary-cascade",
    description="Binary signals under randomized response: cascades vs gambler's-ruin closed forms.",
    params=[
        Param(
            "p",
            float,
            0.7,
            "binary signal accuracy in (1/2, 1)",
            low=0.5,
            high=1.0,
            low_inclusive=False,
            high_inclusive=False,
        ),
        _epsilon_param(1.0),
        _n_agents_param(600),
        _n_runs_param(2000),
    ],
    plot=_plot_binary_cascade,
    grid={
        "p": list(CASCADE_ACCURACIES),
        "epsilon": [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, math.inf],
    },
    quick={"p": [0.7], "epsilon": [0.5, 2.0, math.inf], "n_agents": 200, "n_runs": 400},
    seeds=2,
    check=_check_binary_cascade,
)
def dp_binary_cascade(params: dict[str, Any], rng: np.random.Generator) -> dict[str, float]:
    """Simulate binary-signal sequences and compare cascades with the closed forms."""
    learner = BayesianLearner(
        BinarySignal(params["p"]), make_mechanism("randomized_response", params["epsilon"])
    )
    summary = simulate_sequences(learner, params["n_agents"], params["n_runs"], rng)
    started = summary.cascade_start >= 0
    closed = BinaryCascadeClosedForm(params["p"], params["epsilon"])
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


def _check_continuous(params: dict[str, Any]) -> None:
    GaussianSignal(params["sigma"])
    make_mechanism("smoothed", params["epsilon"], params["amplitude"])


def _smoothed_learner(params: dict[str, Any]) -> BayesianLearner:
    """Bayesian learner with Gaussian signals under smoothed RR (or none when epsilon = inf)."""
    return BayesianLearner(
        GaussianSignal(params["sigma"]),
        make_mechanism("smoothed", params["epsilon"], params["amplitude"]),
    )


def _plot_continuous(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    figure, axes = _figure(ncols=2)
    wrong_figure, wrong_axes = _figure()
    if trajectories is None or trajectories.empty:
        return {"dp_continuous_learning": figure, "dp_wrong_actions": wrong_figure}
    means = trajectories.groupby(["epsilon", "sigma", "step"], as_index=False)[
        ["mean_public_llr", "mean_wrong_actions"]
    ].mean()
    for (epsilon, sigma), rows in means.groupby(["epsilon", "sigma"]):
        color = _epsilon_color(epsilon, means["epsilon"])
        label = _epsilon_label(epsilon) + (
            f", sigma = {sigma:g}" if means["sigma"].nunique() > 1 else ""
        )
        log_n = np.log(rows["step"])
        axes[0, 0].plot(rows["step"], rows["mean_public_llr"], color=color, label=label)
        axes[0, 1].plot(np.sqrt(log_n), rows["mean_public_llr"], color=color, label=label)
        wrong_axes[0, 0].plot(rows["step"], rows["mean_wrong_actions"], color=color, label=label)
    axes[0, 0].set_xscale("log")
    axes[0, 0].set_xlabel("agent n (log scale)")
    axes[0, 0].set_title("private: l_n linear in log n")
    axes[0, 1].set_xlabel("sqrt(log n)")
    axes[0, 1].set_title("no privacy: l_n linear in sqrt(log n)")
    for axis in axes[0]:
        axis.set_ylabel(LLR_AXIS_LABEL)
        axis.legend(fontsize=8)
    wrong_axes[0, 0].set_xscale("log")
    wrong_axes[0, 0].set_xlabel("agent n (log scale)")
    wrong_axes[0, 0].set_ylabel("mean wrong actions among agents < n")
    wrong_axes[0, 0].set_title("Mean number of wrong actions among the first n agents")
    wrong_axes[0, 0].legend(fontsize=8)
    figure.tight_layout()
    wrong_figure.tight_layout()
    return {"dp_continuous_learning": figure, "dp_wrong_actions": wrong_figure}


@scenario(
    name="dp-continuous-learning",
    description="Gaussian signals under smoothed randomized response: log n vs sqrt(log n) learning.",
    params=[
        _epsilon_param(1.0),
        _sigma_param(),
        _amplitude_param(),
        _n_agents_param(10_000),
        _n_runs_param(200),
    ],
    plot=_plot_continuous,
    grid={"epsilon": [0.1, 0.5, 1.0, math.inf]},
    quick={"epsilon": [0.5, math.inf], "n_agents": 300, "n_runs": 50},
    seeds=2,
    check=_check_continuous,
)
def dp_continuous_learning(params: dict[str, Any], rng: np.random.Generator) -> TaskOutput:
    """Simulate Gaussian-signal sequences and fit the growth of the public LLR."""
    learner = _smoothed_learner(params)
    summary = simulate_sequences(learner, params["n_agents"], params["n_runs"], rng)
    return TaskOutput(_learning_metrics(summary), _trajectory_frame(summary))


# --- dp-hitting-time -------------------------------------------------------------------------------


def _plot_first_correct(trajectories: pd.DataFrame | None) -> Any:
    figure, axes = _figure(ncols=2, width=5.5)
    if trajectories is None or trajectories.empty:
        return figure
    means = trajectories.groupby(["epsilon", "step"], as_index=False)[
        ["survival_first_correct_action", "survival_first_correct_report"]
    ].mean()
    for epsilon, rows in means.groupby("epsilon"):
        color = _epsilon_color(epsilon, means["epsilon"])
        for axis, column in zip(
            axes[0], ("survival_first_correct_action", "survival_first_correct_report"), strict=True
        ):
            positive = rows[rows[column] > 0]
            axis.plot(
                positive["step"], positive[column], color=color, label=_epsilon_label(epsilon)
            )
    steps = np.geomspace(1, means["step"].max(), 50)
    for axis, what in zip(axes[0], ("action", "report"), strict=True):
        axis.plot(steps, 0.1 / steps, color="grey", ls=":", label="slope -1 (infinite mean)")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("n")
        axis.set_ylabel(f"P(first correct {what} after agent n)")
        axis.set_title(f"Time to the first correct {what}")
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def _plot_hitting(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    figure, axes = _figure(width=6.5)
    axis = axes[0, 0]
    for index, (bound, rows) in enumerate(results.groupby("bound")):
        color = PRIVATE_COLORS[index % len(PRIVATE_COLORS)]
        means = rows.groupby("epsilon", as_index=False)[["tau_mc", "tau_bellman"]].mean()
        finite = means[np.isfinite(means["epsilon"])]
        axis.plot(
            finite["epsilon"],
            finite["tau_bellman"],
            "-",
            color=color,
            label=f"Bellman, B = {bound:g}",
        )
        axis.plot(
            finite["epsilon"],
            finite["tau_mc"],
            "o",
            color=color,
            label=f"Monte Carlo, B = {bound:g}",
        )
        for _, row in means[~np.isfinite(means["epsilon"])].iterrows():
            axis.axhline(
                row["tau_bellman"],
                color=color,
                ls="--",
                label=f"no privacy (Bellman), B = {bound:g}",
            )
    axis.set_yscale("log")
    axis.set_xlabel("privacy budget epsilon (smoothed randomized response)")
    axis.set_ylabel("E[tau_B]: reports until |l| >= B")
    axis.set_title("Expected hitting time of the public LLR")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return {"dp_hitting_time": figure, "dp_first_correct": _plot_first_correct(trajectories)}


@scenario(
    name="dp-hitting-time",
    description="E[tau_B] by Monte Carlo and Bellman; tails of the first-correct action and report times.",
    params=[
        _epsilon_param(1.0),
        _sigma_param(),
        Param(
            "bound", float, 10.0, "B, the public-LLR level to reach", low=0.0, low_inclusive=False
        ),
        _n_runs_param(400),
        _amplitude_param(),
        Param("max_agents", int, 200_000, "censoring horizon of the Monte Carlo", low=1),
        Param("grid_points", int, 4000, "grid intervals of the Bellman solver", low=10),
        Param("tail_runs", int, 100_000, "sequences for the first-correct-time tails", low=1),
        Param("tail_agents", int, 10_000, "censoring horizon of the first-correct times", low=1),
    ],
    plot=_plot_hitting,
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
    check=_check_continuous,
)
def dp_hitting_time(params: dict[str, Any], rng: np.random.Generator) -> TaskOutput:
    """E[tau_B] by Monte Carlo and Bellman, and the tails of the first-correct action/report times.

    Everything is simulated under theta = +1 (theta = -1 is its mirror image).
    """
    learner = _smoothed_learner(params)
    times = simulate_hitting_times(
        learner, params["bound"], params["max_agents"], params["n_runs"], rng
    )
    reached = times >= 0
    censored = np.where(reached, times, params["max_agents"])
    metrics = {
        "tau_mc": float(censored.mean()),
        "tau_mc_standard_error": float(censored.std(ddof=1) / math.sqrt(times.size))
        if times.size > 1
        else math.nan,
        "censored_fraction": float(1.0 - reached.mean()),
        "tau_bellman": learner.expected_hitting_time(params["bound"], params["grid_points"]),
    }
    horizon = params["tail_agents"]
    steps = log_checkpoints(horizon)[:-1]
    survival = {}
    for what in ("action", "report"):
        first = simulate_first_correct(learner, horizon, params["tail_runs"], rng, of=what)
        first = np.where(first < 0, horizon + 1, first)  # censored: after the horizon
        metrics[f"first_correct_{what}_mean"] = float(first.mean())
        metrics[f"first_correct_{what}_after_100"] = float((first > 100).mean())
        survival[f"survival_first_correct_{what}"] = (first[None, :] > steps[:, None]).mean(axis=1)
    return TaskOutput(metrics, pd.DataFrame({"step": steps, **survival}))


# --- dp-heterogeneous ------------------------------------------------------------------------------


def _heterogeneous_budget(params: dict[str, Any]) -> HeterogeneousBudget:
    return HeterogeneousBudget(
        base=params["mechanism"],
        distribution=params["budget_distribution"],
        low=params["budget_low"],
        high=params["budget_high"],
        weight_high=params["weight_high"],
        observed=params["budgets_observed"],
        amplitude=params["amplitude"],
    )


def _check_heterogeneous(params: dict[str, Any]) -> None:
    GaussianSignal(params["sigma"])
    _heterogeneous_budget(params)


def _plot_heterogeneous(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    figure, axes = _figure(width=7.0)
    if trajectories is None or trajectories.empty:
        return {"dp_heterogeneous": figure}
    keys = ["mechanism", "budget_distribution", "budget_low", "budget_high", "budgets_observed"]
    means = trajectories.groupby([*keys, "step"], as_index=False)["mean_public_llr"].mean()
    for index, (key, rows) in enumerate(means.groupby(keys)):
        mechanism, distribution, low, high, observed = key
        label = (
            f"{mechanism}, {distribution}[{low:g}, {high:g}], "
            f"{'budgets seen' if observed else 'budgets marginalised'}"
        )
        axes[0, 0].plot(
            rows["step"],
            rows["mean_public_llr"],
            color=PRIVATE_COLORS[index % len(PRIVATE_COLORS)],
            label=label,
        )
    axes[0, 0].set(
        xscale="log",
        xlabel="agent n (log scale)",
        ylabel=LLR_AXIS_LABEL,
        title="Heterogeneous privacy budgets",
    )
    axes[0, 0].legend(fontsize=8)
    figure.tight_layout()
    return {"dp_heterogeneous": figure}


@scenario(
    name="dp-heterogeneous",
    description="Per-agent privacy budgets from a distribution, seen or marginalised by observers.",
    params=[
        Param(
            "mechanism",
            str,
            "smoothed",
            "base mechanism",
            choices=("smoothed", "randomized_response"),
        ),
        Param(
            "budget_distribution",
            str,
            "uniform",
            "budget distribution",
            choices=("uniform", "two_point"),
        ),
        Param("budget_low", float, 0.0, "smallest budget", low=0.0),
        Param("budget_high", float, 1.0, "largest budget", low=0.0, low_inclusive=False),
        Param(
            "weight_high", float, 0.5, "two_point: probability of budget_high", low=0.0, high=1.0
        ),
        Param("budgets_observed", bool, False, "whether observers see each agent's budget"),
        _sigma_param(),
        _amplitude_param(),
        _n_agents_param(10_000),
        _n_runs_param(100),
    ],
    plot=_plot_heterogeneous,
    grid={"budgets_observed": [False, True]},
    quick={"n_agents": 300, "n_runs": 30},
    seeds=2,
    check=_check_heterogeneous,
)
def dp_heterogeneous(params: dict[str, Any], rng: np.random.Generator) -> TaskOutput:
    """Simulate Gaussian-signal sequences with per-agent budgets."""
    budget = _heterogeneous_budget(params)
    learner = BayesianLearner(GaussianSignal(params["sigma"]), budget)
    summary = simulate_sequences(learner, params["n_agents"], params["n_runs"], rng)
    metrics = {**_learning_metrics(summary), "mean_epsilon": budget.mean_epsilon}
    return TaskOutput(metrics, _trajectory_frame(summary))


# --- dp-rl-learner ---------------------------------------------------------------------------------


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


def _plot_rl(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    figure, axes = _figure(ncols=2, width=5.5)
    if trajectories is not None and not trajectories.empty:
        means = trajectories.groupby(["policy", "step"], as_index=False)["mean_public_llr"].mean()
        for color, (policy, rows) in zip(
            ("tab:blue", "tab:orange"), means.groupby("policy"), strict=False
        ):
            axes[0, 0].plot(rows["step"], rows["mean_public_llr"], color=color, label=policy)
    axes[0, 0].set(xlabel="agent n", ylabel=LLR_AXIS_LABEL, title="Public belief under each policy")
    axes[0, 0].legend(fontsize=8)
    accuracy = results[["ppo_accuracy", "bayesian_accuracy"]].mean()
    axes[0, 1].bar(["PPO", "Bayesian"], accuracy.to_numpy(), color=("tab:orange", "tab:blue"))
    axes[0, 1].set(
        ylim=(0, 1), ylabel="accuracy (evaluate_policy)", title="Share of correct guesses"
    )
    figure.tight_layout()
    return {"dp_rl_learner": figure}


@scenario(
    name="dp-rl-learner",
    description="PPO trained in seqrl/SequentialLearning-v0, scored beside the Bayesian policy.",
    params=[
        _epsilon_param(1.0),
        _sigma_param(),
        _amplitude_param(),
        Param("n_agents", int, 20, "agents (steps) per episode", low=1),
        Param("total_timesteps", int, 10_240, "PPO training steps", low=64),
        Param("n_eval_episodes", int, 200, "episodes for evaluate_policy", low=1),
    ],
    plot=_plot_rl,
    quick={"total_timesteps": 1024, "n_eval_episodes": 20},
    seeds=1,
    quick_seeds=1,
    check=_check_continuous,
)
def dp_rl_learner(params: dict[str, Any], rng: np.random.Generator) -> TaskOutput:
    """Train PPO and compare it with the Bayesian policy by evaluate_policy and public-LLR paths."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor

    from seqrl.envs.dp_sequential_learning import SequentialLearningEnv

    torch.set_num_threads(1)
    seed = int(rng.integers(2**31 - 1))
    env_kwargs = {
        "n_agents": params["n_agents"],
        "signal": "gaussian",
        "sigma": params["sigma"],
        "mechanism": "smoothed",
        "epsilon": params["epsilon"],
        "amplitude": params["amplitude"],
    }
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
    model.learn(total_timesteps=params["total_timesteps"])
    bayesian = BayesianPolicy(GaussianSignal(params["sigma"]))
    metrics: dict[str, float] = {}
    frames = []
    for name, policy in (("ppo", model), ("bayesian", bayesian)):
        eval_env = Monitor(SequentialLearningEnv(**env_kwargs))
        eval_env.reset(seed=seed + 1)
        rewards, _ = evaluate_policy(
            policy,
            eval_env,
            n_eval_episodes=params["n_eval_episodes"],
            deterministic=True,
            return_episode_rewards=True,
        )
        accuracy = np.asarray(rewards) / params["n_agents"]
        paths = _policy_llr_paths(env_kwargs, policy, params["n_eval_episodes"], seed + 2)
        metrics[f"{name}_accuracy"] = float(accuracy.mean())
        metrics[f"{name}_accuracy_standard_error"] = float(
            accuracy.std(ddof=1) / math.sqrt(accuracy.size) if accuracy.size > 1 else math.nan
        )
        metrics[f"{name}_final_public_llr"] = float(paths[:, -1].mean())
        frames.append(
            pd.DataFrame(
                {
                    "policy": name,
                    "step": np.arange(1, params["n_agents"] + 1),
                    "mean_public_llr": paths.mean(axis=0),
                }
            )
        )
    return TaskOutput(metrics, pd.concat(frames, ignore_index=True))
