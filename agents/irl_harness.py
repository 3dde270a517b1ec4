"""Robustness harness: is an assumed behavioural model epsilon-robust to the true one?

Skalse & Abate (ICLR 2024, arXiv 2403.06854), Definition 2: f is epsilon-robust to misspecification
with g iff ``f(R1) = g(R2)`` implies ``d(R1, R2) <= epsilon``. The harness samples MDPs and true
rewards, generates the data ``pi = g(R_true)`` (optionally perturbed by delta in policy space),
infers ``f^-1(pi)`` under the assumed model (representative plus the consistent set) and reports the
STARC distances to the truth measured in the true MDP::

    import numpy as np
    from seqrl.agents.irl_harness import assert_robust, evaluate_robustness, random_mdp_sampler
    from seqrl.mechanisms.irl_behaviour import BehaviouralModel

    sampler = random_mdp_sampler(n_states=16, n_actions=3)
    truth = BehaviouralModel("boltzmann", temperature=2.0, discount=0.9)
    assumed = BehaviouralModel("boltzmann", temperature=0.5, discount=0.9)
    report = evaluate_robustness(truth, assumed, sampler, n_mdps=50, epsilon=0.05,
                                 rng=np.random.default_rng(0))
    print(report.summary())            # robust: temperature misspecification is harmless
    assert_robust(truth, BehaviouralModel("boltzmann", 1.0, 0.85), sampler, 20, 0.05)  # fails
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from seqrl.agents.irl_inverse import ConsistentSetSearch, consistent_set_distances, invert_policy
from seqrl.mechanisms.irl_behaviour import (
    BehaviouralModel,
    behaviour_policy,
    learned_reward_regret,
    perturb_policy,
)
from seqrl.mechanisms.irl_mdp import (
    TabularMDP,
    mix_transitions,
    policy_distance,
    random_mdp,
    random_transition,
)
from seqrl.mechanisms.irl_rewards import epic_distance, starc_distance

MDPSampler = Callable[[np.random.Generator], TabularMDP]


def random_mdp_sampler(
    n_states: int,
    n_actions: int,
    *,
    branching: int | None = None,
    concentration: float = 1.0,
    reward_scale: float = 1.0,
    discount: float = 0.9,
) -> MDPSampler:
    """Sampler of random MDPs: Dirichlet dynamics, N(0, reward_scale^2) rewards R(s, a, s'),
    uniform mu0 (see :func:`seqrl.mechanisms.irl_mdp.random_mdp`)."""

    def sample(rng: np.random.Generator) -> TabularMDP:
        return random_mdp(
            rng,
            n_states,
            n_actions,
            branching=branching,
            concentration=concentration,
            reward_scale=reward_scale,
            discount=discount,
        )

    return sample


@dataclass(frozen=True)
class RobustnessReport:
    """What the harness found.

    Attributes:
        true_model: g, the model that generated the data.
        assumed_model: f, the model the learner inverts.
        epsilon: The tolerance tested.
        transition_noise: Misspecification of the dynamics: the learner assumes
            ``(1 - noise) tau + noise tau_random``.
        policy_perturbation: delta, the max-state total-variation perturbation of the data.
        per_mdp: One row per MDP: ``starc_representative``, ``starc_min``, ``starc_typical``,
            ``starc_worst``, ``starc_supremum``, ``epic_representative``, ``regret_representative``,
            ``policy_distance`` (data against ``f(R^)``: how well the assumed model fits).
    """

    true_model: BehaviouralModel
    assumed_model: BehaviouralModel
    epsilon: float
    transition_noise: float
    policy_perturbation: float
    per_mdp: pd.DataFrame

    @property
    def worst_case(self) -> float:
        """Largest STARC distance found over every MDP and its consistent set."""
        return float(self.per_mdp["starc_worst"].max())

    @property
    def robust(self) -> bool:
        """Whether every consistent reward found is within epsilon of the truth."""
        return self.worst_case <= self.epsilon

    def metrics(self) -> dict[str, float]:
        """Scalar summary: means over MDPs, and the worst case over MDPs for the worst columns."""
        frame = self.per_mdp
        return {
            "starc_representative": float(frame["starc_representative"].mean()),
            "starc_min": float(frame["starc_min"].mean()),
            "starc_typical": float(frame["starc_typical"].mean()),
            "starc_worst": self.worst_case,
            "starc_worst_mean": float(frame["starc_worst"].mean()),
            "starc_supremum": float(frame["starc_supremum"].max()),
            "epic_representative": float(frame["epic_representative"].mean()),
            "regret_representative": float(frame["regret_representative"].mean()),
            "policy_fit": float(frame["policy_distance"].max()),
            "robust": float(self.robust),
        }

    def summary(self) -> str:
        """A readable account of the result, naming the worst MDP."""
        frame = self.per_mdp
        worst_index = int(frame["starc_worst"].to_numpy().argmax())
        worst_row = frame.iloc[worst_index]
        exceeding = int((frame["starc_worst"] > self.epsilon).sum())
        misspecified = []
        if self.transition_noise:
            misspecified.append(f"tau_noise={self.transition_noise:g}")
        if self.policy_perturbation:
            misspecified.append(f"delta={self.policy_perturbation:g}")
        extra = f" with {', '.join(misspecified)}" if misspecified else ""
        verdict = "is" if self.robust else "is NOT"
        return (
            f"assumed {self.assumed_model} {verdict} {self.epsilon:g}-robust to true "
            f"{self.true_model}{extra}: worst-case STARC distance {self.worst_case:.3f} on MDP "
            f"#{worst_index} (representative {worst_row['starc_representative']:.3f}, typical "
            f"{worst_row['starc_typical']:.3f}, supremum {worst_row['starc_supremum']:.3f}); "
            f"{exceeding}/{len(frame)} MDPs exceed epsilon; mean regret of the representative "
            f"{frame['regret_representative'].mean():.3f}"
        )


def evaluate_robustness(
    true_model: BehaviouralModel,
    assumed_model: BehaviouralModel,
    sample_mdp: MDPSampler,
    n_mdps: int,
    epsilon: float,
    rng: np.random.Generator | None = None,
    *,
    transition_noise: float = 0.0,
    policy_perturbation: float = 0.0,
    search: ConsistentSetSearch | None = None,
    batch_size: int = 250,
) -> RobustnessReport:
    """Run the harness on ``n_mdps`` sampled MDPs.

    The sampler supplies S, A, tau, mu0 and the true reward; the discounts are the models' own
    (the true model's discount is the true MDP's). All MDPs of a run must share S and A.

    Args:
        true_model: g, generating ``pi = g(R_true)`` in the true dynamics.
        assumed_model: f, inverted by the learner in the assumed dynamics.
        sample_mdp: ``sample_mdp(rng) -> TabularMDP``.
        n_mdps: Number of MDPs (>= 1).
        epsilon: Tolerance on the STARC distance, in [0, 1].
        rng: Random generator (a fixed default seed when None).
        transition_noise: Dynamics misspecification in [0, 1].
        policy_perturbation: delta in [0, 1] added to the data by :func:`perturb_policy`.
        search: Settings of the consistent-set search.
        batch_size: MDPs solved together (vectorised); 1 gives a per-MDP loop.
    """
    if n_mdps < 1:
        raise ValueError(f"n_mdps must be >= 1, got {n_mdps}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
    if not 0.0 <= transition_noise <= 1.0:
        raise ValueError(f"tau_noise must be in [0, 1], got {transition_noise!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rng = rng if rng is not None else np.random.default_rng(0)
    frames = []
    for start in range(0, n_mdps, batch_size):
        mdps = [sample_mdp(rng) for _ in range(min(batch_size, n_mdps - start))]
        frames.append(
            _evaluate_batch(
                true_model, assumed_model, mdps, rng, transition_noise, policy_perturbation, search
            )
        )
    return RobustnessReport(
        true_model=true_model,
        assumed_model=assumed_model,
        epsilon=float(epsilon),
        transition_noise=float(transition_noise),
        policy_perturbation=float(policy_perturbation),
        per_mdp=pd.concat(frames, ignore_index=True),
    )


def _evaluate_batch(
    true_model: BehaviouralModel,
    assumed_model: BehaviouralModel,
    mdps: list[TabularMDP],
    rng: np.random.Generator,
    transition_noise: float,
    policy_perturbation: float,
    search: ConsistentSetSearch | None,
) -> pd.DataFrame:
    shapes = {mdp.transition.shape for mdp in mdps}
    if len(shapes) != 1:
        raise ValueError(
            f"every sampled MDP must have the same [S, A, S] shape, got {sorted(shapes)}"
        )
    transition = np.stack([mdp.transition for mdp in mdps])
    true_reward = np.stack([mdp.reward for mdp in mdps])
    initial = np.stack([mdp.initial_distribution for mdp in mdps])
    n_mdps, n_states, n_actions, _ = transition.shape
    true_discount = true_model.discount

    observed = behaviour_policy(true_model, transition, true_reward)
    if policy_perturbation > 0:
        observed = perturb_policy(observed, policy_perturbation, rng)
    assumed_transition = transition
    if transition_noise > 0:
        other = random_transition(rng, n_states, n_actions, batch_shape=(n_mdps,))
        assumed_transition = mix_transitions(transition, other, transition_noise)

    representative = invert_policy(assumed_model, observed)
    distances = consistent_set_distances(
        representative,
        true_reward,
        transition,
        true_discount,
        assumed_transition,
        assumed_model.discount,
        rng,
        search,
    )
    fitted = behaviour_policy(assumed_model, assumed_transition, representative)
    return pd.DataFrame(
        {
            "starc_representative": distances.representative,
            "starc_min": distances.minimum,
            "starc_typical": distances.typical,
            "starc_worst": distances.worst,
            "starc_supremum": distances.supremum,
            "epic_representative": epic_distance(representative, true_reward, true_discount),
            "regret_representative": learned_reward_regret(
                transition, true_reward, representative, initial, true_discount
            ),
            "policy_distance": policy_distance(fitted, observed),
        }
    )


def assert_robust(
    true_model: BehaviouralModel,
    assumed_model: BehaviouralModel,
    sample_mdp: MDPSampler,
    n_mdps: int,
    epsilon: float,
    rng: np.random.Generator | None = None,
    **options: Any,
) -> RobustnessReport:
    """Pytest helper: run the harness and fail with a readable message unless robust.

    Keyword options are passed to :func:`evaluate_robustness`.

    Raises:
        AssertionError: the worst case found exceeds epsilon; the message is the report summary.
    """
    report = evaluate_robustness(
        true_model, assumed_model, sample_mdp, n_mdps, epsilon, rng, **options
    )
    if not report.robust:
        raise AssertionError(report.summary())
    return report


@dataclass(frozen=True)
class ScalingCounterexample:
    """Two rewards with nearby policies and maximal STARC distance (continuous models).

    Attributes:
        scale: c with ``policy_distance(f(c R), f(-c R)) <= delta``.
        policy_distance: That policy distance.
        starc_distance: ``d(c R, -c R)``, 1 for every reward that is not trivial.
    """

    scale: float
    policy_distance: float
    starc_distance: float


def scaling_counterexample(
    model: BehaviouralModel,
    transition: np.ndarray,
    reward: np.ndarray,
    delta: float,
    *,
    max_halvings: int = 200,
) -> ScalingCounterexample:
    """The paper's construction: continuous f is not epsilon/delta-separating.

    Shrinks c until ``f(c R)`` and ``f(-c R)`` (both tend to the uniform policy as ``c -> 0``) are
    within delta, while ``d(c R, -c R) = 1`` for every ``c > 0``: a delta-perturbation of the data
    can move the inferred reward to the opposite one.
    """
    if model.kind == "optimal":
        raise ValueError("the scaling construction needs a continuous model (boltzmann or mce)")
    if not 0.0 < delta <= 1.0:
        raise ValueError(f"delta must be in (0, 1], got {delta!r}")
    scale = 1.0
    for _ in range(max_halvings):
        gap = float(
            policy_distance(
                behaviour_policy(model, transition, scale * reward),
                behaviour_policy(model, transition, -scale * reward),
            )
        )
        if gap <= delta:
            distance = float(
                starc_distance(scale * reward, -scale * reward, transition, model.discount)
            )
            return ScalingCounterexample(scale, gap, distance)
        scale /= 2.0
    raise RuntimeError(f"policies stayed more than {delta} apart after {max_halvings} halvings")
