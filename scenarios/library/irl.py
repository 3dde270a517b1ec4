"""System 2: sensitivity of IRL to misspecification (Skalse & Abate, ICLR 2024).

Three scenarios over random tabular MDPs:

- ``irl-misspecification``: data from a true behavioural model, inverted under an assumed one with
  other temperature, discount or dynamics; STARC distances of the consistent set to the truth.
- ``irl-perturbation``: data perturbed by delta in policy space; the scaling construction.
- ``irl-mce-wrong-discount``: a state-only reward fitted by MCE-IRL under a wrong discount.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from seqrl.agents.irl_harness import evaluate_robustness, random_mdp_sampler, scaling_counterexample
from seqrl.mechanisms.irl_behaviour import (
    MODEL_KINDS,
    BehaviouralModel,
    behaviour_policy,
    learned_reward_regret,
)
from seqrl.mechanisms.irl_mdp import discounted_occupancy, random_mdp
from seqrl.mechanisms.irl_rewards import starc_distance
from seqrl.scenarios.core import Param, TaskOutput, scenario

_DISCOUNT = {"low": 0.0, "high": 1.0, "high_inclusive": False}


def _models(params: dict[str, Any]) -> tuple[BehaviouralModel, BehaviouralModel]:
    truth = BehaviouralModel(params["true_model"], params["temperature_true"], params["gamma_true"])
    assumed = BehaviouralModel(
        params["assumed_model"], params["temperature_assumed"], params["gamma_assumed"]
    )
    return truth, assumed


def _check_misspecification(params: dict[str, Any]) -> None:
    _models(params)


def _plot_against(
    axis: Any, frame: pd.DataFrame, x: pd.Series, label_columns: list[str], xlabel: str
) -> None:
    frame = frame.assign(_x=x)
    groups = frame.groupby(label_columns) if label_columns else [((), frame)]
    for key, group in groups:
        by_x = group.groupby("_x")
        label = " -> ".join(map(str, key if isinstance(key, tuple) else (key,)))
        line = axis.plot(by_x["starc_worst"].mean(), "o-", label=f"worst found {label}".strip())[0]
        axis.plot(
            by_x["starc_supremum"].mean(),
            "--",
            color=line.get_color(),
            label=f"supremum {label}".strip(),
        )
        axis.plot(by_x["starc_representative"].mean(), ":", color=line.get_color(), marker="x",
                  label=f"representative {label}".strip())  # fmt: skip
    axis.set(xlabel=xlabel, ylabel="STARC distance to the true reward", ylim=(-0.03, 1.03))
    axis.set_xscale("symlog", linthresh=1e-3)
    axis.set_xlim(left=-1e-4)
    axis.legend(fontsize=7)


def _plot_misspecification(
    results: pd.DataFrame, trajectories: pd.DataFrame | None
) -> dict[str, Any]:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    figures: dict[str, Any] = {}
    pairs = ["true_model", "assumed_model"]
    discount_error = (results["gamma_true"] - results["gamma_assumed"]).abs()
    same_dynamics = results[results["tau_noise"] == 0]
    if len(same_dynamics):
        figure, axis = plt.subplots(figsize=(6, 4))
        _plot_against(axis, same_dynamics, discount_error[same_dynamics.index], pairs,
                      "|gamma_true - gamma_assumed|")  # fmt: skip
        axis.set_title("Discount misspecification: worst case over the consistent set")
        figure.tight_layout()
        figures["irl_discount"] = figure
    same_discount = results[discount_error < 1e-12]
    if len(same_discount):
        figure, axis = plt.subplots(figsize=(6, 4))
        _plot_against(axis, same_discount, same_discount["tau_noise"], pairs, "tau noise")
        axis.set_title("Dynamics misspecification: worst case over the consistent set")
        figure.tight_layout()
        figures["irl_dynamics"] = figure
    exact = results[(discount_error < 1e-12) & (results["tau_noise"] == 0)]
    if len(exact):
        figure, axis = plt.subplots(figsize=(6, 4))
        ratio = exact["temperature_assumed"] / exact["temperature_true"]
        for key, group in exact.assign(_ratio=ratio).groupby(pairs):
            by_ratio = group.groupby("_ratio")
            axis.plot(by_ratio["starc_worst"].mean(), "o-", label=f"worst {key[0]} -> {key[1]}")
            axis.plot(
                by_ratio["regret_representative"].mean(), "x:", label=f"regret {key[0]} -> {key[1]}"
            )
        axis.set(xlabel="temperature_assumed / temperature_true", ylabel="distance / regret",
                 xscale="log", ylim=(-0.03, 1.03),
                 title="Temperature misspecification (right gamma and tau)")  # fmt: skip
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.legend(fontsize=7)
        figure.tight_layout()
        figures["irl_temperature"] = figure
    return figures


@scenario(
    name="irl-misspecification",
    description="IRL under a misspecified behavioural model: STARC distances of the consistent set.",
    params=[
        Param("true_model", str, "boltzmann", "model that generates the data", choices=MODEL_KINDS),
        Param("assumed_model", str, "boltzmann", "model the learner inverts", choices=MODEL_KINDS),
        Param("gamma_true", float, 0.9, "discount of the true model and MDP", **_DISCOUNT),
        Param("gamma_assumed", float, 0.9, "discount the learner assumes", **_DISCOUNT),
        Param(
            "temperature_true",
            float,
            1.0,
            "beta (Boltzmann) or alpha (MCE) of the truth",
            low=0.0,
            low_inclusive=False,
        ),
        Param(
            "temperature_assumed",
            float,
            1.0,
            "beta or alpha the learner assumes",
            low=0.0,
            low_inclusive=False,
        ),
        Param(
            "tau_noise",
            float,
            0.0,
            "assumed dynamics (1 - noise) tau + noise tau_random",
            low=0.0,
            high=1.0,
        ),
        Param("n_states", int, 32, "states per random MDP", low=2),
        Param("n_actions", int, 4, "actions per random MDP", low=2),
        Param("n_mdps", int, 100, "random MDPs per task", low=1),
    ],  # fmt: skip
    plot=_plot_misspecification,
    grid={
        "gamma_assumed": [0.9, 0.8999, 0.899, 0.89, 0.8, 0.6],
        "tau_noise": [0.0, 0.001, 0.01, 0.1],
        "temperature_assumed": [1.0, 0.2, 5.0],
    },
    quick={
        "gamma_assumed": [0.9, 0.85],
        "tau_noise": [0.0, 0.05],
        "temperature_assumed": [1.0, 0.5],
        "n_states": 8,
        "n_actions": 3,
        "n_mdps": 5,
    },
    seeds=3,
    check=_check_misspecification,
)
def irl_misspecification(params: dict[str, Any], rng: np.random.Generator) -> dict[str, float]:
    """Run the harness: per task the mean over MDPs, and the worst case over MDPs for starc_worst."""
    truth, assumed = _models(params)
    report = evaluate_robustness(
        truth,
        assumed,
        random_mdp_sampler(params["n_states"], params["n_actions"], discount=params["gamma_true"]),
        params["n_mdps"],
        epsilon=0.05,
        rng=rng,
        transition_noise=params["tau_noise"],
    )
    return report.metrics()


def _check_perturbation(params: dict[str, Any]) -> None:
    BehaviouralModel(params["model"], params["temperature"], params["gamma"])


def _plot_perturbation(results: pd.DataFrame, trajectories: pd.DataFrame | None) -> dict[str, Any]:
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for (model, scale), group in results.groupby(["model", "scale"]):
        by_delta = group.groupby("delta")
        axis.plot(by_delta["starc_worst"].mean(), "o-", label=f"{model}, reward scale {scale:g}")
    by_delta = results.groupby("delta")
    axis.plot(by_delta["starc_scaling"].mean(), "k--", label="scaling construction d(cR, -cR)")
    axis.set(xlabel="delta (max-state total variation of the data perturbation)",
             ylabel="worst STARC distance to the truth", xscale="log", ylim=(-0.03, 1.03),
             title="Policy perturbation: continuous models are not robust")  # fmt: skip
    axis.legend(fontsize=7)
    figure.tight_layout()
    return {"irl_perturbation": figure}


@scenario(
    name="irl-perturbation",
    description="IRL from a policy perturbed by delta: distances, and the scaling construction.",
    params=[
        Param(
            "delta",
            float,
            0.01,
            "max-state total variation of the perturbation",
            low=0.0,
            high=1.0,
            low_inclusive=False,
        ),
        Param(
            "scale",
            float,
            1.0,
            "scale of the true rewards (smaller: nearer-uniform policies)",
            low=0.0,
            low_inclusive=False,
        ),
        Param(
            "model",
            str,
            "boltzmann",
            "behavioural model (true and assumed)",
            choices=("boltzmann", "mce"),
        ),
        Param("temperature", float, 1.0, "beta or alpha", low=0.0, low_inclusive=False),
        Param("gamma", float, 0.9, "discount", **_DISCOUNT),
        Param("n_states", int, 16, "states per random MDP", low=2),
        Param("n_actions", int, 4, "actions per random MDP", low=2),
        Param("n_mdps", int, 50, "random MDPs per task", low=1),
    ],  # fmt: skip
    plot=_plot_perturbation,
    grid={"delta": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3], "scale": [0.01, 0.1, 1.0, 10.0]},
    quick={"delta": [0.01, 0.1], "scale": [0.01, 1.0], "n_states": 8, "n_actions": 3, "n_mdps": 5},
    seeds=3,
    check=_check_perturbation,
)
def irl_perturbation(params: dict[str, Any], rng: np.random.Generator) -> dict[str, float]:
    """Distances after a delta-perturbation of the data, and the scaling construction's pair."""
    model = BehaviouralModel(params["model"], params["temperature"], params["gamma"])
    base = random_mdp_sampler(params["n_states"], params["n_actions"], discount=params["gamma"])

    def sample(generator: np.random.Generator) -> Any:
        mdp = base(generator)
        return type(mdp)(
            mdp.transition, params["scale"] * mdp.reward, mdp.initial_distribution, mdp.discount
        )

    report = evaluate_robustness(
        model, model, sample, params["n_mdps"], 0.05, rng, policy_perturbation=params["delta"]
    )
    example_mdp = sample(rng)
    example = scaling_counterexample(
        model, example_mdp.transition, example_mdp.reward, params["delta"]
    )
    metrics = report.metrics()
    return {
        "starc_representative": metrics["starc_representative"],
        "starc_worst": metrics["starc_worst"],
        "regret_representative": metrics["regret_representative"],
        "starc_scaling": example.starc_distance,
        "scaling_scale": example.scale,
        "scaling_policy_distance": example.policy_distance,
    }


def _plot_wrong_discount(
    results: pd.DataFrame, trajectories: pd.DataFrame | None
) -> dict[str, Any]:
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for key, group in results.groupby(["environment", "state_reward", "gamma_true"]):
        by_gamma = group.groupby("gamma_assumed")
        label = f"{key[0]}, {key[1]} reward, gamma_true={key[2]:g}"
        line = axis.plot(by_gamma["starc"].mean(), "o-", label=f"STARC: {label}")[0]
        axis.plot(by_gamma["regret"].mean(), "x:", color=line.get_color(), label=f"regret: {label}")
        axis.axvline(key[2], color="grey", alpha=0.3)
    axis.set(xlabel="gamma_assumed", ylabel="STARC distance / normalised regret",
             title="MCE-IRL, state-only reward, wrong discount")  # fmt: skip
    axis.legend(fontsize=7)
    figure.tight_layout()
    return {"irl_mce_wrong_discount": figure}


def _wrong_discount_task_mdp(params: dict[str, Any], rng: np.random.Generator) -> Any:
    """The MDP and true state-only reward of one repetition."""
    from seqrl.envs.irl_tabular_mdp import (
        gridworld_mdp,  # imports gymnasium: keep `seqrl list` fast
    )

    if params["environment"] == "gridworld":
        side = params["grid_size"]
        mdp = gridworld_mdp(side, side, params["slip_probability"], discount=params["gamma_true"])
    else:
        mdp = random_mdp(
            rng, params["n_states"], params["n_actions"], discount=params["gamma_true"]
        )
    if params["state_reward"] == "goal":
        state_reward = np.zeros(mdp.n_states)
        state_reward[rng.integers(mdp.n_states)] = 1.0
    else:
        state_reward = rng.normal(size=mdp.n_states)
    return mdp, np.broadcast_to(state_reward[:, None, None], mdp.transition.shape)


@scenario(
    name="irl-mce-wrong-discount",
    description="MCE-IRL of a state-only reward from exact occupancies under a wrong discount.",
    params=[
        Param("gamma_true", float, 0.9, "discount of the demonstrator", **_DISCOUNT),
        Param("gamma_assumed", float, 0.9, "discount of the learner", **_DISCOUNT),
        Param(
            "temperature",
            float,
            1.0,
            "alpha of the MCE demonstrator and learner",
            low=0.0,
            low_inclusive=False,
        ),
        Param(
            "environment",
            str,
            "gridworld",
            "gridworld (slip) or random (Dirichlet) MDPs",
            choices=("gridworld", "random"),
        ),
        Param(
            "state_reward",
            str,
            "goal",
            "true reward: +1 in one random state, or N(0, 1) per state",
            choices=("goal", "gaussian"),
        ),
        Param("grid_size", int, 4, "gridworld side length", low=2),
        Param("slip_probability", float, 0.1, "gridworld slip probability", low=0.0, high=1.0),
        Param("n_states", int, 16, "states per random MDP", low=2),
        Param("n_actions", int, 4, "actions per random MDP", low=2),
        Param("n_mdps", int, 10, "repetitions (random goal / reward / MDP) per task", low=1),
    ],  # fmt: skip
    plot=_plot_wrong_discount,
    grid={
        "gamma_assumed": [0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97],
        "state_reward": ["goal", "gaussian"],
    },
    quick={"gamma_assumed": [0.7, 0.9], "grid_size": 3, "n_mdps": 2},
    seeds=3,
)
def irl_mce_wrong_discount(params: dict[str, Any], rng: np.random.Generator) -> TaskOutput:
    """Fit by occupancy matching with the assumed discount; measure in the true MDP."""
    from seqrl.agents.irl_mce import mce_irl  # imports scipy.optimize: keep `seqrl list` fast

    truth = BehaviouralModel("mce", params["temperature"], params["gamma_true"])
    assumed = BehaviouralModel("mce", params["temperature"], params["gamma_assumed"])
    distances, regrets, gaps = [], [], []
    for _ in range(params["n_mdps"]):
        mdp, reward = _wrong_discount_task_mdp(params, rng)
        policy = behaviour_policy(truth, mdp.transition, reward)
        occupancy = discounted_occupancy(
            mdp.transition, mdp.initial_distribution, assumed.discount, policy
        )
        fitted = mce_irl(mdp.transition, mdp.initial_distribution, occupancy, assumed)
        distances.append(
            float(starc_distance(fitted.reward, reward, mdp.transition, truth.discount))
        )
        regrets.append(
            float(
                learned_reward_regret(
                    mdp.transition, reward, fitted.reward, mdp.initial_distribution, truth.discount
                )
            )
        )
        gaps.append(fitted.feature_gap)
    return TaskOutput(
        metrics={
            "starc": float(np.mean(distances)),
            "regret": float(np.mean(regrets)),
            "starc_worst": float(np.max(distances)),
            "feature_gap": float(np.max(gaps)),
        },
        trajectories=pd.DataFrame(
            {"mdp": np.arange(params["n_mdps"]), "starc": distances, "regret": regrets}
        ),
    )
