"""Maximum causal entropy IRL from demonstrations, by occupancy (feature-expectation) matching.

Ziebart et al. (2010), discounted infinite-horizon form; the behavioural model c_alpha of Skalse &
Abate (ICLR 2024). For a reward linear in features, ``R_theta(s, a) = theta . phi(s, a)``, the
log-likelihood dual

    L(theta) = theta . mu_D - E_{s0 ~ mu0}[V_theta(s0)]

is concave, with gradient ``mu_D - mu_theta``: ``mu_D = sum_t gamma^t E_D[phi(s_t, a_t)]`` from the
demonstrations and ``mu_theta = sum_{s, a} d_theta(s, a) phi(s, a)`` from the discounted occupancy
of the MCE policy of R_theta (soft value iteration). At the optimum the learner's occupancy matches
the demonstrator's on the features. Reward classes: state-only (phi = one-hot of s), state-action
(one-hot of (s, a)) and linear in user features. The reference implementation is imitation's
``mce_irl`` (finite horizon, state-only); this one is infinite-horizon and uses L-BFGS on the dual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import minimize

from seqrl.mechanisms.irl_behaviour import BehaviouralModel, mce_policy, value_iteration
from seqrl.mechanisms.irl_mdp import discounted_occupancy, validate_discount, validate_transition

RewardClass = Literal["state", "state_action", "features"]
REWARD_CLASSES: tuple[str, ...] = ("state", "state_action", "features")


def reward_features(
    n_states: int,
    n_actions: int,
    reward_class: RewardClass,
    features: np.ndarray | None = None,
) -> np.ndarray:
    """The feature tensor phi ``[S, A, F]`` of a reward class."""
    if reward_class == "state":
        return np.broadcast_to(np.eye(n_states)[:, None, :], (n_states, n_actions, n_states)).copy()
    if reward_class == "state_action":
        return np.eye(n_states * n_actions).reshape(n_states, n_actions, n_states * n_actions)
    if reward_class == "features":
        if features is None:
            raise ValueError("features must be given for reward_class='features'")
        features = np.asarray(features, dtype=np.float64)
        if features.ndim == 2 and features.shape[0] == n_states:
            features = np.broadcast_to(
                features[:, None, :], (n_states, n_actions, features.shape[1])
            )
        if features.ndim != 3 or features.shape[:2] != (n_states, n_actions):
            raise ValueError(
                f"features must have shape [S, F] or [S, A, F] with S={n_states}, A={n_actions}, "
                f"got {features.shape}"
            )
        return np.array(features)
    raise ValueError(
        f"reward_class must be one of {', '.join(REWARD_CLASSES)}, got {reward_class!r}"
    )


def demonstration_occupancy(
    states: np.ndarray, actions: np.ndarray, n_states: int, n_actions: int, discount: float
) -> np.ndarray:
    """Empirical ``d_D(s, a) = mean over trajectories of sum_t gamma^t 1[s_t = s, a_t = a]``.

    Args:
        states: ``[n, T]`` or ``[n, T + 1]`` state indices (a final extra state is ignored).
        actions: ``[n, T]`` action indices.
        n_states: |S|.
        n_actions: |A|.
        discount: The gamma the learner assumes.
    """
    discount = validate_discount(discount)
    states = np.asarray(states)[:, : np.shape(actions)[1]]
    actions = np.asarray(actions)
    weights = np.broadcast_to(discount ** np.arange(actions.shape[1]), actions.shape)
    occupancy = np.zeros(n_states * n_actions)
    np.add.at(occupancy, (states * n_actions + actions).ravel(), weights.ravel())
    return occupancy.reshape(n_states, n_actions) / actions.shape[0]


@dataclass(frozen=True)
class MCEIRLResult:
    """A fitted reward.

    Attributes:
        parameters: theta ``[F]``.
        reward: R_theta ``[S, A, S]`` (constant in s').
        policy: The MCE policy of R_theta under the assumed model.
        feature_gap: max |mu_D - mu_theta| at the end (0 when the occupancies match).
        n_evaluations: Soft value iterations run.
    """

    parameters: np.ndarray
    reward: np.ndarray
    policy: np.ndarray
    feature_gap: float
    n_evaluations: int


def mce_irl(
    transition: np.ndarray,
    initial_distribution: np.ndarray,
    occupancy: np.ndarray,
    model: BehaviouralModel,
    *,
    reward_class: RewardClass = "state",
    features: np.ndarray | None = None,
    l2_penalty: float = 0.0,
    gradient_tolerance: float = 1e-8,
    max_iterations: int = 1_000,
) -> MCEIRLResult:
    """Fit a reward of the chosen class by MCE occupancy matching under the assumed model.

    Args:
        transition: The assumed dynamics tau ``[S, A, S]``.
        initial_distribution: mu0 ``[S]``.
        occupancy: The demonstrator's discounted occupancy d_D ``[S, A]`` under the assumed
            discount (from :func:`demonstration_occupancy`, or exact).
        model: The assumed MCE model (kind "mce"): its discount and temperature alpha.
        reward_class: "state", "state_action" or "features".
        features: phi ``[S, F]`` or ``[S, A, F]`` for "features".
        l2_penalty: lambda >= 0 of a ``-lambda / 2 ||theta||^2`` term (0: plain MCE-IRL).
        gradient_tolerance: L-BFGS stops when the projected gradient's sup-norm is below this;
            the fit fails when the final feature gap exceeds both this and 1e-5 of the total
            feature mass.
        max_iterations: L-BFGS iteration cap.

    Raises:
        RuntimeError: L-BFGS stopped without meeting the gradient tolerance.
    """
    if model.kind != "mce":
        raise ValueError(f"mce_irl needs an 'mce' model, got {model.kind!r}")
    if l2_penalty < 0:
        raise ValueError(f"l2_penalty must be >= 0, got {l2_penalty}")
    transition = validate_transition(transition)
    n_states, n_actions = transition.shape[:2]
    occupancy = np.asarray(occupancy, dtype=np.float64)
    if occupancy.shape != (n_states, n_actions):
        raise ValueError(
            f"occupancy must have shape {(n_states, n_actions)}, got {occupancy.shape}"
        )
    phi = reward_features(n_states, n_actions, reward_class, features)
    target = np.einsum("sa,saf->f", occupancy, phi)
    warm_values: np.ndarray | None = None  # the last solve's V: a warm start for the next one
    n_evaluations = 0

    def solve(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        nonlocal warm_values, n_evaluations
        reward = np.broadcast_to((phi @ theta)[..., None], (n_states, n_actions, n_states))
        values, q_values = value_iteration(
            transition,
            reward,
            model.discount,
            temperature=model.temperature,
            tolerance=1e-11,
            initial_values=warm_values,
        )
        warm_values = values
        n_evaluations += 1
        policy = mce_policy(q_values, values, model.temperature)
        return values, policy, reward

    def negative_dual(theta: np.ndarray) -> tuple[float, np.ndarray]:
        values, policy, _ = solve(theta)
        occupancy_theta = discounted_occupancy(
            transition, initial_distribution, model.discount, policy
        )
        expected = np.einsum("sa,saf->f", occupancy_theta, phi)
        dual = theta @ target - initial_distribution @ values - 0.5 * l2_penalty * theta @ theta
        gradient = target - expected - l2_penalty * theta
        return -float(dual), -gradient

    result = minimize(
        negative_dual,
        np.zeros(phi.shape[-1]),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iterations, "gtol": gradient_tolerance, "ftol": 0.0},
    )
    _, gradient = negative_dual(result.x)
    gap = float(np.max(np.abs(gradient)))
    # L-BFGS may stop at machine precision of the dual short of gradient_tolerance; accept a gap
    # that is tiny relative to the demonstrations' total feature mass.
    if gap > max(gradient_tolerance, 1e-5 * float(np.abs(target).sum())):
        raise RuntimeError(f"MCE-IRL did not converge: feature gap {gap:.3g} ({result.message})")
    _, policy, reward = solve(result.x)
    return MCEIRLResult(
        parameters=result.x,
        reward=np.array(reward),
        policy=policy,
        feature_gap=gap,
        n_evaluations=n_evaluations,
    )
