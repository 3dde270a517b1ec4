"""Behavioural models of IRL: optimal, Boltzmann-rational and maximal-causal-entropy policies.

Skalse & Abate (ICLR 2024, arXiv 2403.06854), Section 2. For a reward R, discount gamma and dynamics
tau:

- optimal ``o``: pi uniform over argmax_a Q*(s, a), with Q* from (hard) value iteration
  ``Q(s, a) = E_{s'}[R(s, a, s') + gamma max_a' Q(s', a')]``;
- Boltzmann ``b_beta``: ``pi(a | s) = exp(beta Q*(s, a)) / sum_a' exp(beta Q*(s, a'))``;
- maximal causal entropy ``c_alpha``: soft value iteration ``Q(s, a) = E_{s'}[R + gamma V(s')]``,
  ``V(s) = alpha log sum_a exp(Q(s, a) / alpha)``, ``pi(a | s) = exp((Q(s, a) - V(s)) / alpha)``.

Temperatures are reward scales: ``b_beta(R) = b_1(beta R)`` and ``c_alpha(R) = c_1(R / alpha)``.
Every solver is batched over rewards ``[..., S, A, S']`` (and over dynamics ``[..., S, A, S']``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from seqrl.mechanisms.irl_mdp import (
    expect_next,
    expected_reward,
    policy_distance,
    policy_evaluation,
    policy_return,
    validate_discount,
)

ModelKind = Literal["optimal", "boltzmann", "mce"]
MODEL_KINDS: tuple[str, ...] = ("optimal", "boltzmann", "mce")


class ConvergenceError(RuntimeError):
    """Value iteration did not reach its tolerance within its iteration cap."""


@dataclass(frozen=True)
class BehaviouralModel:
    """A behavioural model f: reward -> policy, with its parameters.

    Attributes:
        kind: "optimal", "boltzmann" or "mce".
        temperature: Boltzmann: the inverse temperature beta (pi ~ exp(beta Q*)); MCE: the
            temperature alpha (pi ~ exp(Q_soft / alpha)); ignored by "optimal". Must be > 0.
        discount: gamma in [0, 1) the model plans with.
    """

    kind: ModelKind = "boltzmann"
    temperature: float = 1.0
    discount: float = 0.9

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"kind must be one of {', '.join(MODEL_KINDS)}, got {self.kind!r}")
        if not np.isfinite(self.temperature) or self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        validate_discount(self.discount)

    def __str__(self) -> str:
        symbol = {"optimal": "", "boltzmann": "beta=", "mce": "alpha="}[self.kind]
        temperature = f"{symbol}{self.temperature:g}, " if self.kind != "optimal" else ""
        return f"{self.kind}({temperature}gamma={self.discount:g})"


def value_iteration(
    transition: np.ndarray,
    reward: np.ndarray,
    discount: float,
    *,
    temperature: float | None = None,
    tolerance: float = 1e-9,
    max_iterations: int = 100_000,
    initial_values: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Hard (``temperature=None``) or soft value iteration, batched over rewards and dynamics.

    Iterates ``Q = r + gamma T V`` with ``V = max_a Q`` or ``V = alpha logsumexp(Q / alpha)`` until
    the sup-norm change of V is at most ``tolerance (1 - gamma) / gamma``, which bounds the error
    of V by ``tolerance`` (Banach fixed point, both backups are gamma-contractions).

    Args:
        transition: tau, ``[S, A, S]`` or ``[..., S, A, S]``.
        reward: R, ``[..., S, A, S]``.
        discount: gamma in [0, 1).
        temperature: alpha > 0 for soft value iteration; None for the hard (optimal) backup.
        tolerance: Bound on the sup-norm error of V at exit (> 0).
        max_iterations: Iteration cap.
        initial_values: Starting V ``[..., S]`` (a warm start); zeros when None.

    Returns:
        (V ``[..., S]``, Q ``[..., S, A]``).

    Raises:
        ConvergenceError: the tolerance was not met within ``max_iterations``.
    """
    discount = validate_discount(discount)
    if tolerance <= 0:
        raise ValueError(f"tolerance must be > 0, got {tolerance}")
    if temperature is not None and temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    reward_sa = expected_reward(transition, reward)
    values = np.zeros(reward_sa.shape[:-1])
    if initial_values is not None:
        values = values + initial_values
    threshold = tolerance * (1.0 - discount) / max(discount, 1e-300)
    change = np.inf
    for _ in range(max_iterations):
        q_values = reward_sa + discount * expect_next(transition, values)
        new_values = _backup(q_values, temperature)
        change = float(np.max(np.abs(new_values - values))) if values.size else 0.0
        values = new_values
        if change <= threshold:
            return values, reward_sa + discount * expect_next(transition, values)
    raise ConvergenceError(
        f"value iteration did not converge: sup-norm change {change:.3g} after {max_iterations} "
        f"iterations (needed <= {threshold:.3g} for tolerance {tolerance:g} at discount "
        f"{discount:g}); raise max_iterations or tolerance"
    )


def _backup(q_values: np.ndarray, temperature: float | None) -> np.ndarray:
    maximum = q_values.max(axis=-1)
    if temperature is None:
        return maximum
    shifted = np.exp((q_values - maximum[..., None]) / temperature)
    return maximum + temperature * np.log(shifted.sum(axis=-1))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the maximum for stability."""
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


def mce_policy(q_values: np.ndarray, values: np.ndarray, temperature: float) -> np.ndarray:
    """The MCE policy ``pi(a | s) = exp((Q(s, a) - V(s)) / alpha)`` from soft value iteration."""
    return softmax((q_values - values[..., None]) / temperature)


def greedy_policy(q_values: np.ndarray, tie_tolerance: float = 1e-7) -> np.ndarray:
    """Uniform over the actions within ``tie_tolerance`` of max_a Q(s, a)."""
    best = q_values >= q_values.max(axis=-1, keepdims=True) - tie_tolerance
    return best / best.sum(axis=-1, keepdims=True)


def behaviour_policy(
    model: BehaviouralModel,
    transition: np.ndarray,
    reward: np.ndarray,
    *,
    tolerance: float = 1e-9,
    max_iterations: int = 100_000,
) -> np.ndarray:
    """f(R): the policy ``[..., S, A]`` the model predicts for each reward ``[..., S, A, S']``.

    ``transition`` is the dynamics the model plans with (the assumed ones for a learner).
    """
    if model.kind == "mce":
        values, q_values = value_iteration(
            transition,
            reward,
            model.discount,
            temperature=model.temperature,
            tolerance=tolerance,
            max_iterations=max_iterations,
        )
        return mce_policy(q_values, values, model.temperature)
    _, q_values = value_iteration(
        transition, reward, model.discount, tolerance=tolerance, max_iterations=max_iterations
    )
    if model.kind == "boltzmann":
        return softmax(model.temperature * q_values)
    return greedy_policy(q_values, tie_tolerance=max(1e-7, 100 * tolerance))


def policy_iteration(
    transition: np.ndarray, reward: np.ndarray, discount: float, *, max_iterations: int = 1_000
) -> tuple[np.ndarray, np.ndarray]:
    """Exact optimal (V*, Q*) by policy iteration (Howard), batched; an independent check of VI.

    Evaluates the greedy policy exactly by a linear solve and improves it until no state changes
    action (finitely many deterministic policies, each step improves: terminates exactly).

    Raises:
        ConvergenceError: the policy still changed after ``max_iterations`` improvements.
    """
    reward_sa = expected_reward(transition, reward)
    n_actions = reward_sa.shape[-1]
    actions = reward_sa.argmax(axis=-1)
    for _ in range(max_iterations):
        policy = np.eye(n_actions)[actions]
        values, q_values = policy_evaluation(transition, reward, discount, policy)
        # Keep the current action on (numerical) ties so that the loop cannot cycle.
        current = np.take_along_axis(q_values, actions[..., None], axis=-1)[..., 0]
        improved = q_values.max(axis=-1) > current + 1e-12 * np.maximum(1.0, np.abs(current))
        if not improved.any():
            return values, q_values
        actions = np.where(improved, q_values.argmax(axis=-1), actions)
    raise ConvergenceError(f"policy iteration did not stabilise in {max_iterations} iterations")


def perturb_policy(policy: np.ndarray, delta: float, rng: np.random.Generator) -> np.ndarray:
    """Mix pi with a random policy so that ``max_s TV(pi(s), pi'(s)) = delta`` (when reachable).

    ``pi' = (1 - lambda) pi + lambda nu`` with nu ~ Dirichlet(1) per state and
    ``lambda = min(1, delta / max_s TV(pi(s), nu(s)))``.
    """
    if not 0.0 <= delta <= 1.0:
        raise ValueError(f"delta must be in [0, 1], got {delta!r}")
    if delta == 0.0:
        return np.array(policy, dtype=np.float64)
    weights = rng.gamma(1.0, size=np.shape(policy))
    other = weights / weights.sum(axis=-1, keepdims=True)
    gap = policy_distance(policy, other)
    mixing = np.minimum(1.0, delta / np.maximum(gap, 1e-300))[..., None, None]
    return (1.0 - mixing) * policy + mixing * other


def regret(
    transition: np.ndarray,
    reward: np.ndarray,
    initial_distribution: np.ndarray,
    discount: float,
    policy: np.ndarray,
) -> np.ndarray:
    """Normalised regret on [0, 1]: ``(J(pi*) - J(pi)) / (J(pi*) - J(pi_worst))`` under R.

    ``J(pi_worst) = -max_pi J_{-R}(pi)``; rewards for which every policy has the same return get 0.
    The optimal and worst returns are exact (policy iteration).
    """
    best, _ = policy_iteration(transition, reward, discount)
    worst, _ = policy_iteration(transition, -np.asarray(reward), discount)
    best_return = np.sum(best * initial_distribution, axis=-1)
    worst_return = -np.sum(worst * initial_distribution, axis=-1)
    achieved = policy_return(transition, reward, initial_distribution, discount, policy)
    spread = best_return - worst_return
    scale = np.maximum(np.abs(best_return), np.abs(worst_return))
    meaningful = spread > 1e-9 * np.maximum(scale, 1.0)
    ratio = (best_return - achieved) / np.where(meaningful, spread, 1.0)
    return np.where(meaningful, np.clip(ratio, 0.0, 1.0), 0.0)


def learned_reward_regret(
    transition: np.ndarray,
    true_reward: np.ndarray,
    learned_reward: np.ndarray,
    initial_distribution: np.ndarray,
    discount: float,
) -> np.ndarray:
    """:func:`regret` under R_true of the (greedy) optimal policy for a learned reward R^."""
    _, q_values = policy_iteration(transition, learned_reward, discount)
    return regret(transition, true_reward, initial_distribution, discount, greedy_policy(q_values))
