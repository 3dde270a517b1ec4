"""System 2: sensitivity of IRL to misspecification (Skalse & Abate, ICLR 2024).

Three scenarios over random tabular MDPs:

- ``irl-misspecification``: data from a true behavioural model, inverted under an assumed one with
  other temperature, discount or dynamics; STARC distances of the consistent set to the truth.
- ``irl-perturbation``: data perturbed by delta in policy space; the scaling construction.
- ``irl-mce-wrong-discount``: a state-only reward fitted by MCE-IRL under a wrong discount.

Each scenario's parameters are a frozen dataclass whose methods build the behavioural models and
the MDP sampler, so that the run functions (and bench/bench_irl.py) never assemble them by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from seqrl.agents.irl_harness import (
    MDPSampler,
    evaluate_robustness,
    random_mdp_sampler,
    scaling_counterexample,
)
from seqrl.mechanisms.irl_behaviour import (
    BehaviouralModel,
    ModelKind,
    behaviour_policy,
    learned_reward_regret,
)
from seqrl.mechanisms.irl_mdp import TabularMDP, discounted_occupancy, random_mdp
from seqrl.mechanisms.irl_rewards import starc_distance
from seqrl.scenarios.core import TaskOutput, param, scenario
from seqrl.scenarios.plots.irl import plot_misspecification, plot_perturbation, plot_wrong_discount

#: Tolerance on the STARC distance behind the ``robust`` metric of the harness scenarios.
_EPSILON = 0.05


def _discount(default: float, help: str) -> Any:
    """A discount parameter: gamma in [0, 1)."""
    return param(default, help, low=0.0, high=1.0, high_inclusive=False)


def _temperature(default: float, help: str) -> Any:
    """A temperature parameter: beta or alpha > 0."""
    return param(default, help, low=0.0, low_inclusive=False)


@dataclass(frozen=True)
class MisspecificationArgs:
    """Parameters of ``irl-misspecification``: the true model g, the assumed model f, the error of
    the assumed dynamics and the random MDPs."""

    true_model: ModelKind = param("boltzmann", "model that generates the data")
    assumed_model: ModelKind = param("boltzmann", "model the learner inverts")
    gamma_true: float = _discount(0.9, "discount of the true model and MDP")
    gamma_assumed: float = _discount(0.9, "discount the learner assumes")
    temperature_true: float = _temperature(1.0, "beta (Boltzmann) or alpha (MCE) of the truth")
    temperature_assumed: float = _temperature(1.0, "beta or alpha the learner assumes")
    tau_noise: float = param(
        0.0, "assumed dynamics (1 - noise) tau + noise tau_random", low=0.0, high=1.0
    )
    n_states: int = param(32, "states per random MDP", low=2)
    n_actions: int = param(4, "actions per random MDP", low=2)
    n_mdps: int = param(100, "random MDPs per task", low=1)

    def __post_init__(self) -> None:
        self.models()  # the models' own checks, e.g. a finite temperature

    def models(self) -> tuple[BehaviouralModel, BehaviouralModel]:
        """(g, f): the model that generates the data and the model the learner inverts."""
        truth = BehaviouralModel(self.true_model, self.temperature_true, self.gamma_true)
        assumed = BehaviouralModel(self.assumed_model, self.temperature_assumed, self.gamma_assumed)
        return truth, assumed

    def mdp_sampler(self) -> MDPSampler:
        """Random ``n_states x n_actions`` MDPs (N(0, 1) rewards) with the true discount."""
        return random_mdp_sampler(self.n_states, self.n_actions, discount=self.gamma_true)


@scenario(
    name="irl-misspecification",
    description="IRL under a misspecified behavioural model: STARC distances of the consistent set.",
    params=MisspecificationArgs,
    plot=plot_misspecification,
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
)
def irl_misspecification(args: MisspecificationArgs, rng: np.random.Generator) -> dict[str, float]:
    """Run the harness: per task the mean over MDPs, and the worst case over MDPs for starc_worst."""
    truth, assumed = args.models()
    report = evaluate_robustness(
        truth,
        assumed,
        args.mdp_sampler(),
        args.n_mdps,
        epsilon=_EPSILON,
        rng=rng,
        transition_noise=args.tau_noise,
    )
    return report.metrics()


@dataclass(frozen=True)
class PerturbationArgs:
    """Parameters of ``irl-perturbation``: the perturbation delta, the reward scale, the model
    (both true and assumed) and the random MDPs."""

    delta: float = param(
        0.01,
        "max-state total variation of the perturbation",
        low=0.0,
        high=1.0,
        low_inclusive=False,
    )
    scale: float = param(
        1.0,
        "scale of the true rewards (smaller: nearer-uniform policies)",
        low=0.0,
        low_inclusive=False,
    )
    model: Literal["boltzmann", "mce"] = param("boltzmann", "behavioural model (true and assumed)")
    temperature: float = _temperature(1.0, "beta or alpha")
    gamma: float = _discount(0.9, "discount")
    n_states: int = param(16, "states per random MDP", low=2)
    n_actions: int = param(4, "actions per random MDP", low=2)
    n_mdps: int = param(50, "random MDPs per task", low=1)

    def __post_init__(self) -> None:
        self.behavioural_model()  # the model's own checks, e.g. a finite temperature

    def behavioural_model(self) -> BehaviouralModel:
        """The model that both generates the data and is inverted."""
        return BehaviouralModel(self.model, self.temperature, self.gamma)

    def mdp_sampler(self) -> MDPSampler:
        """Random ``n_states x n_actions`` MDPs with N(0, scale^2) rewards."""
        return random_mdp_sampler(
            self.n_states, self.n_actions, reward_scale=self.scale, discount=self.gamma
        )


@scenario(
    name="irl-perturbation",
    description="IRL from a policy perturbed by delta: distances, and the scaling construction.",
    params=PerturbationArgs,
    plot=plot_perturbation,
    grid={"delta": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3], "scale": [0.01, 0.1, 1.0, 10.0]},
    quick={"delta": [0.01, 0.1], "scale": [0.01, 1.0], "n_states": 8, "n_actions": 3, "n_mdps": 5},
    seeds=3,
)
def irl_perturbation(args: PerturbationArgs, rng: np.random.Generator) -> dict[str, float]:
    """Distances after a delta-perturbation of the data, and the scaling construction's pair."""
    model = args.behavioural_model()
    sample_mdp = args.mdp_sampler()
    report = evaluate_robustness(
        model, model, sample_mdp, args.n_mdps, _EPSILON, rng, policy_perturbation=args.delta
    )
    example_mdp = sample_mdp(rng)
    example = scaling_counterexample(model, example_mdp.transition, example_mdp.reward, args.delta)
    metrics = report.metrics()
    return {
        "starc_representative": metrics["starc_representative"],
        "starc_worst": metrics["starc_worst"],
        "regret_representative": metrics["regret_representative"],
        "starc_scaling": example.starc_distance,
        "scaling_scale": example.scale,
        "scaling_policy_distance": example.policy_distance,
    }


@dataclass(frozen=True)
class WrongDiscountArgs:
    """Parameters of ``irl-mce-wrong-discount``: the demonstrator's and the learner's discounts,
    their common MCE temperature, the environment and the true state-only reward."""

    gamma_true: float = _discount(0.9, "discount of the demonstrator")
    gamma_assumed: float = _discount(0.9, "discount of the learner")
    temperature: float = _temperature(1.0, "alpha of the MCE demonstrator and learner")
    environment: Literal["gridworld", "random"] = param(
        "gridworld", "gridworld (slip) or random (Dirichlet) MDPs"
    )
    state_reward: Literal["goal", "gaussian"] = param(
        "goal", "true reward: +1 in one random state, or N(0, 1) per state"
    )
    grid_size: int = param(4, "gridworld side length", low=2)
    slip_probability: float = param(0.1, "gridworld slip probability", low=0.0, high=1.0)
    n_states: int = param(16, "states per random MDP", low=2)
    n_actions: int = param(4, "actions per random MDP", low=2)
    n_mdps: int = param(10, "repetitions (random goal / reward / MDP) per task", low=1)

    def __post_init__(self) -> None:
        self.models()  # the models' own checks, e.g. a finite temperature

    def models(self) -> tuple[BehaviouralModel, BehaviouralModel]:
        """The MCE demonstrator (true discount) and the MCE learner (assumed discount)."""
        truth = BehaviouralModel("mce", self.temperature, self.gamma_true)
        assumed = BehaviouralModel("mce", self.temperature, self.gamma_assumed)
        return truth, assumed

    def sample_task(self, rng: np.random.Generator) -> tuple[TabularMDP, np.ndarray]:
        """The MDP (true discount) and true reward ``R[s, a, s'] = r(s)`` of one repetition."""
        from seqrl.envs.irl_tabular_mdp import (
            gridworld_mdp,  # imports gymnasium: keep `seqrl list` fast
        )

        if self.environment == "gridworld":
            side = self.grid_size
            mdp = gridworld_mdp(side, side, self.slip_probability, discount=self.gamma_true)
        else:
            mdp = random_mdp(rng, self.n_states, self.n_actions, discount=self.gamma_true)
        if self.state_reward == "goal":
            state_reward = np.zeros(mdp.n_states)
            state_reward[rng.integers(mdp.n_states)] = 1.0
        else:
            state_reward = rng.normal(size=mdp.n_states)
        return mdp, np.broadcast_to(state_reward[:, None, None], mdp.transition.shape)


@scenario(
    name="irl-mce-wrong-discount",
    description="MCE-IRL of a state-only reward from exact occupancies under a wrong discount.",
    params=WrongDiscountArgs,
    plot=plot_wrong_discount,
    grid={
        "gamma_assumed": [0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97],
        "state_reward": ["goal", "gaussian"],
    },
    quick={"gamma_assumed": [0.7, 0.9], "grid_size": 3, "n_mdps": 2},
    seeds=3,
)
def irl_mce_wrong_discount(args: WrongDiscountArgs, rng: np.random.Generator) -> TaskOutput:
    """Fit by occupancy matching with the assumed discount; measure in the true MDP."""
    from seqrl.agents.irl_mce import mce_irl  # imports scipy.optimize: keep `seqrl list` fast

    truth, assumed = args.models()
    distances, regrets, gaps = [], [], []
    for _ in range(args.n_mdps):
        mdp, reward = args.sample_task(rng)
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
            {"mdp": np.arange(args.n_mdps), "starc": distances, "regret": regrets}
        ),
    )
