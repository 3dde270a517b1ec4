"""Scenarios of imitation from observation with Automatic Discount Scheduling (Liu et al., ICLR 2024).

- ``ads-toy``: FetchDeliver (fetch an object, then deliver it), learnt from observation-only demos
  with the OT proxy reward under the ADS, fixed or linear discount schedule.
- ``ads-metaworld``: the same on a state-based Meta-World v3 task with Meta-World's scripted expert.
- ``ads-demos``: generate and store observation-only demos (``demos.npz`` in the task's directory)
  for later runs (``--set demos=PATH``).

Per task: ``success_rate`` (final deterministic evaluation with SB3's ``evaluate_policy`` on the
true task success), ``final_gamma``, ``final_progress``; learning curves (success rate, gamma and
progress against environment steps) go to trajectories.parquet.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from seqrl.mechanisms.ads_discount_scheduling import SCHEDULES, DiscountParams, ProgressParams
from seqrl.scenarios import Param, TaskOutput, artifact_dir, scenario

METAWORLD_TASKS = (
    "basketball-v3",
    "assembly-v3",
    "hammer-v3",
    "pick-place-wall-v3",
    "lever-pull-v3",
    "stick-push-v3",
)
ALGORITHMS = ("SAC", "TD3", "DDPG")
CURVE_METRICS = ("success_rate", "gamma", "progress")
SCHEDULE_COLORS = {"ads": "tab:blue", "fixed": "tab:red", "linear": "tab:green"}


def _common_params(budget: int, eval_freq: int, eval_episodes: int) -> list[Param]:
    return [
        Param("schedule", str, "ads", "discount schedule", choices=SCHEDULES),
        Param(
            "gamma",
            float,
            0.99,
            "discount of the fixed schedule",
            low=0.0,
            high=1.0,
            low_inclusive=False,
        ),
        Param(
            "alpha",
            float,
            0.2,
            "ADS mapping gamma = alpha^(1/p)",
            low=0.0,
            high=1.0,
            low_inclusive=False,
            high_inclusive=False,
        ),
        Param("budget", int, budget, "environment (agent) steps of training", low=1),
        Param("n_demos", int, 10, "expert demos (>= 2)", low=2),
        Param("algorithm", str, "SAC", "SB3 off-policy learner", choices=ALGORITHMS),
        Param(
            "cost",
            str,
            "euclidean",
            "OT ground cost on standardised state features (euclidean: official code for states; cosine: paper, pixels)",
            choices=("euclidean", "cosine"),
        ),
        Param(
            "eval_freq",
            int,
            eval_freq,
            "evaluate (and update progress) every this many steps",
            low=1,
        ),
        Param("eval_episodes", int, eval_episodes, "episodes per evaluation", low=1),
        Param("demos", str, "", "path of a demos .npz (empty: generate with the scripted expert)"),
    ]


def _env_shape(make_env: Any) -> tuple[int, int]:
    """``(horizon, observation dimension)`` of the env ``make_env`` builds: what demos must match."""
    env = make_env()
    shape = env.horizon, int(env.observation_space.shape[0])
    env.close()
    return shape


def _check_common(params: dict[str, Any], horizon: int, observation_dim: int) -> None:
    """Construct the parameter dataclasses and validate a demos file (ValueError -> exit 2)."""
    from seqrl.agents.ads_expert_demos import load_demos
    from seqrl.agents.ads_ilfo_agent import LearnerConfig
    from seqrl.mechanisms.ads_ot_reward import OTRewardParams

    DiscountParams(alpha=params["alpha"])
    ProgressParams(horizon=horizon)
    OTRewardParams(cost=params["cost"])
    LearnerConfig(algorithm=params["algorithm"])
    if params["demos"]:
        load_demos(params["demos"], horizon, observation_dim)


def _demos(
    params: dict[str, Any],
    make_env: Any,
    expert: Any,
    horizon: int,
    dim: int,
    rng: np.random.Generator,
) -> np.ndarray:
    from seqrl.agents.ads_expert_demos import collect_demos, load_demos

    if params["demos"]:
        return load_demos(params["demos"], horizon, dim).observations[: params["n_demos"]]
    return collect_demos(make_env(), expert, horizon, params["n_demos"], rng).observations


def _train(
    params: dict[str, Any],
    rng: np.random.Generator,
    make_env: Any,
    demos: np.ndarray,
    horizon: int,
    learner: dict[str, Any],
    min_success_steps: int,
) -> TaskOutput:
    """Train the ILfO agent under the chosen schedule; final metrics and learning curves.

    ``learner`` holds the host's LearnerConfig settings (network size, learning rate...).
    """
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    from seqrl.agents.ads_ilfo_agent import (
        DiscountScheduleCallback,
        ImitationFromObservationAgent,
        LearnerConfig,
    )
    from seqrl.mechanisms.ads_ot_reward import OTRewardParams

    torch.set_num_threads(1)
    seed = int(rng.integers(2**31 - 1))
    env = make_env()
    env.reset(seed=seed)
    # One env per evaluation episode: the episodes run side by side, one policy call per step.
    eval_env = DummyVecEnv([make_env] * params["eval_episodes"])
    eval_env.seed(seed + 1)
    config = LearnerConfig(algorithm=params["algorithm"], **learner)
    agent = ImitationFromObservationAgent(
        env, demos, config, OTRewardParams(cost=params["cost"]), gamma=params["gamma"], seed=seed
    )
    schedule = DiscountScheduleCallback(
        eval_env,
        agent.rewarder,
        ProgressParams(horizon=horizon),
        DiscountParams(alpha=params["alpha"]),
        schedule=params["schedule"],
        fixed_gamma=params["gamma"],
        linear_steps=params["budget"],
        eval_freq=params["eval_freq"],
        n_eval_episodes=params["eval_episodes"],
        min_success_steps=min_success_steps,
    )
    agent.learn(params["budget"], [schedule])
    final = schedule.history[-1]
    curves = pd.DataFrame(schedule.history).melt(
        id_vars="step", value_vars=list(CURVE_METRICS), var_name="metric", value_name="value"
    )
    metrics = {
        "success_rate": final["success_rate"],
        "final_gamma": final["gamma"],
        "final_progress": final["progress"],
        "device": str(agent.model.device),
    }
    if "horizon" not in params:
        metrics["horizon"] = horizon
    return TaskOutput(metrics=metrics, trajectories=curves)


# --- plots ---------------------------------------------------------------------------------------


def _curve_band(table: pd.DataFrame) -> pd.DataFrame:
    """IQM over seeds per step with a 95% bootstrap interval of the mean."""
    from seqrl.scenarios.report import bootstrap_interval, interquartile_mean

    rows = []
    for step, group in table.groupby("step"):
        values = group["value"].to_numpy(dtype=float)
        low, high = bootstrap_interval(values)
        rows.append({"step": step, "iqm": interquartile_mean(values), "low": low, "high": high})
    return pd.DataFrame(rows)


def _plot(results: pd.DataFrame, trajectories: pd.DataFrame | None, title: str) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if trajectories is None or trajectories.empty:
        return {}
    figures = {}
    labels = {"success_rate": "success rate", "gamma": "discount gamma", "progress": "progress p"}
    for metric in ("success_rate", "gamma", "progress"):
        figure, axis = plt.subplots(figsize=(6.4, 4.2))
        subset = trajectories[trajectories["metric"] == metric]
        for keys, group in subset.groupby(
            ["schedule", "gamma"] if "gamma" in subset else ["schedule"]
        ):
            schedule, gamma = keys if isinstance(keys, tuple) else (keys, None)
            band = _curve_band(group)
            label = (
                f"fixed gamma = {gamma:g}"
                if schedule == "fixed"
                else schedule.upper()
                if schedule == "ads"
                else schedule
            )
            color = SCHEDULE_COLORS.get(schedule) if schedule != "fixed" or gamma == 0.99 else None
            axis.plot(band["step"], band["iqm"], label=label, color=color)
            axis.fill_between(
                band["step"], band["low"], band["high"], alpha=0.2, color=axis.lines[-1].get_color()
            )
        n_seeds = results["seed_index"].nunique() if "seed_index" in results else 1
        axis.set_xlabel("environment steps")
        axis.set_ylabel(labels[metric])
        axis.set_title(
            f"{title}: {labels[metric]} (IQM, 95% bootstrap CI, {n_seeds} seeds)", fontsize=9
        )
        axis.legend()
        figure.tight_layout()
        figures[metric] = figure
    return figures


def _plot_toy(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    figures = _plot(results, trajectories, "FetchDeliver")
    return {f"ads_toy_{name}": figure for name, figure in figures.items()}


def _plot_metaworld(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    if trajectories is None or trajectories.empty:
        return {}
    figures = {}
    for task, group in trajectories.groupby("task"):
        for name, figure in _plot(results[results["task"] == task], group, task).items():
            figures[f"ads_metaworld_{task.removesuffix('-v3').replace('-', '_')}_{name}"] = figure
    return figures


# --- ads-toy ---------------------------------------------------------------------------------------


def _toy_env(params: dict[str, Any]) -> Any:
    from seqrl.envs.ads_fetch_deliver import FetchDeliverEnv

    return FetchDeliverEnv(horizon=params["horizon"], observe_object=params["observe_object"])


def _check_toy(params: dict[str, Any]) -> None:
    _check_common(params, *_env_shape(lambda: _toy_env(params)))


@scenario(
    name="ads-toy",
    description="ILfO with the OT reward on FetchDeliver: ADS vs fixed / linear discount schedules.",
    params=[
        *_common_params(budget=8_000, eval_freq=500, eval_episodes=10),
        Param("horizon", int, 24, "episode length T", low=2),
        Param(
            "observe_object",
            bool,
            False,
            "randomise the object and observe its position (default: fixed spot, unobserved)",
        ),
    ],
    grid={"schedule": ["ads", "fixed"]},
    quick={"budget": 2_000},
    seeds=5,
    quick_seeds=1,
    plot=_plot_toy,
    check=_check_toy,
)
def ads_toy(params: dict[str, Any], rng: np.random.Generator) -> TaskOutput:
    from seqrl.envs.ads_fetch_deliver import fetch_deliver_expert

    def make_env() -> Any:
        return _toy_env(params)

    horizon, dim = _env_shape(make_env)
    demos = _demos(params, make_env, fetch_deliver_expert, horizon, dim, rng)
    learner = {"net_arch": (64, 64), "learning_starts": 500, "learning_rate": 1e-3}
    return _train(params, rng, make_env, demos, horizon, learner, min_success_steps=1)


# --- ads-metaworld ---------------------------------------------------------------------------------


def _check_metaworld(params: dict[str, Any]) -> None:
    from seqrl.envs.ads_metaworld import MetaWorldImitationEnv

    _check_common(params, *_env_shape(lambda: MetaWorldImitationEnv(params["task"])))


@scenario(
    name="ads-metaworld",
    description="ILfO with the OT reward on a state-based Meta-World v3 task: ADS vs fixed discount.",
    params=[
        Param("task", str, "basketball-v3", "Meta-World v3 task", choices=METAWORLD_TASKS),
        *_common_params(budget=20_000, eval_freq=5_000, eval_episodes=5),
    ],
    grid=[{"schedule": ["ads"]}, {"schedule": ["fixed"], "gamma": [0.99, 0.9]}],
    quick={"budget": 1_000, "eval_freq": 500, "eval_episodes": 2, "n_demos": 3, "gamma": 0.99},
    seeds=3,
    quick_seeds=1,
    plot=_plot_metaworld,
    check=_check_metaworld,
)
def ads_metaworld(params: dict[str, Any], rng: np.random.Generator) -> TaskOutput:
    from seqrl.envs.ads_metaworld import MetaWorldImitationEnv, scripted_expert

    task = params["task"]

    def make_env() -> MetaWorldImitationEnv:
        return MetaWorldImitationEnv(task)

    horizon, dim = _env_shape(make_env)
    demos = _demos(params, make_env, scripted_expert(task), horizon, dim, rng)
    # Success as in the paper's code: info["success"] on more than 3 agent steps.
    learner = {"net_arch": (256, 256), "learning_starts": 1_000}
    return _train(params, rng, make_env, demos, horizon, learner, min_success_steps=4)


# --- ads-demos -------------------------------------------------------------------------------------


@scenario(
    name="ads-demos",
    description="Generate observation-only expert demos (.npz + metadata) for ads-toy / ads-metaworld.",
    params=[
        Param(
            "task",
            str,
            "fetch-deliver",
            "fetch-deliver or a Meta-World v3 task",
            choices=("fetch-deliver", *METAWORLD_TASKS),
        ),
        Param("n_demos", int, 10, "demos to keep (successful, full horizon)", low=2),
        Param(
            "horizon", int, 24, "episode length of fetch-deliver (Meta-World: the paper's)", low=2
        ),
    ],
    seeds=1,
    quick={"n_demos": 2},
)
def ads_demos(params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    from seqrl.agents.ads_expert_demos import collect_demos, save_demos
    from seqrl.envs.ads_fetch_deliver import FetchDeliverEnv, fetch_deliver_expert
    from seqrl.envs.ads_metaworld import MetaWorldImitationEnv, scripted_expert

    task = params["task"]
    if task == "fetch-deliver":
        env: Any = FetchDeliverEnv(horizon=params["horizon"])
        expert = fetch_deliver_expert
    else:
        env = MetaWorldImitationEnv(task)
        expert = scripted_expert(task)
    demos = collect_demos(env, expert, env.horizon, params["n_demos"], rng, metadata={"task": task})
    directory = artifact_dir()
    if directory is not None:
        save_demos(directory / "demos.npz", demos)
    return {
        "expert_success_rate": demos.metadata["expert_success_rate"],
        "demo_horizon": demos.horizon,
        "observation_dim": int(demos.observations.shape[-1]),
    }
