"""Finite MDPs for IRL: the model data structure, dynamics samplers, policy evaluation and regret.

Skalse & Abate (ICLR 2024, arXiv 2403.06854), Section 2: a finite MDP is (S, A, tau, mu0, R, gamma)
with ``tau: S x A -> Delta(S)``, ``R: S x A x S -> reals`` and ``gamma in [0, 1)``. Every function
here is batched: rewards ``[..., S, A, S']``, policies ``[..., S, A]`` and transitions ``[S, A, S']``
or ``[..., S, A, S']`` broadcast against each other over their leading axes.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

#: Absolute tolerance on transition rows and initial distributions summing to one.
PROBABILITY_TOLERANCE = 1e-8


def validate_discount(discount: float, name: str = "discount") -> float:
    """Return ``discount`` as a float, or raise if it is not in [0, 1).

    Raises:
        ValueError: naming the parameter, the value and the allowed range.
    """
    if not isinstance(discount, numbers.Real) or not 0.0 <= float(discount) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {discount!r}")
    return float(discount)


def validate_transition(transition: np.ndarray, name: str = "transition") -> np.ndarray:
    """Check that ``transition[..., s, a, :]`` are probability distributions over next states.

    Args:
        transition: Array ``[..., S, A, S']`` with ``S' == S``.
        name: Parameter name used in error messages.

    Returns:
        The array as float64.

    Raises:
        ValueError: wrong shape, negative or non-finite entries, or rows not summing to one.
    """
    transition = np.asarray(transition, dtype=np.float64)
    if transition.ndim < 3 or transition.shape[-1] != transition.shape[-3]:
        raise ValueError(
            f"{name} must have shape [..., S, A, S] (next-state axis as long as the state axis), "
            f"got {transition.shape}"
        )
    if transition.shape[-1] == 0 or transition.shape[-2] == 0:
        raise ValueError(f"{name} needs at least one state and one action, got {transition.shape}")
    if not np.all(np.isfinite(transition)):
        raise ValueError(f"{name} must be finite, got NaN or inf entries")
    if transition.min() < 0.0:
        index = np.unravel_index(np.argmin(transition), transition.shape)
        raise ValueError(
            f"{name} must be non-negative, got {transition[index]:.3g} at index {tuple(map(int, index))}"
        )
    row_sums = transition.sum(axis=-1)
    error = np.abs(row_sums - 1.0)
    if error.max() > PROBABILITY_TOLERANCE:
        index = np.unravel_index(np.argmax(error), error.shape)
        raise ValueError(
            f"{name} rows must sum to 1 over next states, got {row_sums[index]:.6g} at (..., s, a) = "
            f"{tuple(map(int, index))}"
        )
    return transition


@dataclass(frozen=True, eq=False)
class TabularMDP:
    """A finite MDP with its full model, validated on construction; arrays are read-only copies.

    Attributes:
        transition: tau[s, a, s'], the probability of moving to s' after action a in s.
        reward: R[s, a, s'], the reward of the transition (s, a, s').
        initial_distribution: mu0[s], the distribution of the first state.
        discount: gamma in [0, 1).
    """

    transition: np.ndarray
    reward: np.ndarray
    initial_distribution: np.ndarray
    discount: float

    def __post_init__(self) -> None:
        transition = validate_transition(self.transition)
        if transition.ndim != 3:
            raise ValueError(f"transition must have shape [S, A, S], got {transition.shape}")
        reward = np.asarray(self.reward, dtype=np.float64)
        if reward.shape != transition.shape:
            raise ValueError(
                f"reward shape {reward.shape} does not match transition shape {transition.shape}"
            )
        if not np.all(np.isfinite(reward)):
            raise ValueError("reward must be finite, got NaN or inf entries")
        initial = np.asarray(self.initial_distribution, dtype=np.float64)
        if initial.shape != transition.shape[:1]:
            raise ValueError(
                f"initial_distribution shape {initial.shape} does not match the "
                f"{transition.shape[0]} states of transition"
            )
        if not np.all(np.isfinite(initial)) or initial.min() < 0.0:
            raise ValueError("initial_distribution must be finite and non-negative")
        if abs(initial.sum() - 1.0) > PROBABILITY_TOLERANCE:
            raise ValueError(f"initial_distribution must sum to 1, got {initial.sum():.6g}")
        for name, array in (
            ("transition", transition),
            ("reward", reward),
            ("initial_distribution", initial),
        ):
            array = array.copy()
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        object.__setattr__(self, "discount", validate_discount(self.discount))

    @property
    def n_states(self) -> int:
        """Number of states |S|."""
        return self.transition.shape[0]

    @property
    def n_actions(self) -> int:
        """Number of actions |A|."""
        return self.transition.shape[1]


def random_transition(
    rng: np.random.Generator,
    n_states: int,
    n_actions: int,
    *,
    branching: int | None = None,
    concentration: float = 1.0,
    batch_shape: tuple[int, ...] = (),
) -> np.ndarray:
    """Sample transition tensors with Dirichlet(concentration) rows.

    Args:
        rng: Random generator.
        n_states: |S| >= 1.
        n_actions: |A| >= 1.
        branching: If given, each (s, a) reaches only this many next states (chosen uniformly);
            None means every next state.
        concentration: Dirichlet concentration > 0 (small values give near-deterministic rows).
        batch_shape: Leading shape for many independent tensors.

    Returns:
        Array ``[*batch_shape, S, A, S]``.
    """
    if n_states < 1 or n_actions < 1:
        raise ValueError(f"n_states and n_actions must be >= 1, got {n_states}, {n_actions}")
    if concentration <= 0:
        raise ValueError(f"concentration must be > 0, got {concentration}")
    if branching is not None and not 1 <= branching <= n_states:
        raise ValueError(f"branching must be in [1, n_states={n_states}], got {branching}")
    shape = (*batch_shape, n_states, n_actions, n_states)
    # Dirichlet(c) rows as normalised Gamma(c) draws: vectorised over every row at once.
    weights = rng.gamma(concentration, size=shape)
    if branching is not None and branching < n_states:
        ranks = np.argsort(rng.random(shape), axis=-1).argsort(axis=-1)
        weights = np.where(ranks < branching, weights, 0.0)
    weights = np.maximum(weights, np.finfo(np.float64).tiny)
    return weights / weights.sum(axis=-1, keepdims=True)


def random_mdp(
    rng: np.random.Generator,
    n_states: int,
    n_actions: int,
    *,
    branching: int | None = None,
    concentration: float = 1.0,
    reward_scale: float = 1.0,
    discount: float = 0.9,
) -> TabularMDP:
    """A random TabularMDP: Dirichlet rows, N(0, reward_scale^2) rewards, uniform mu0."""
    transition = random_transition(
        rng, n_states, n_actions, branching=branching, concentration=concentration
    )
    return TabularMDP(
        transition=transition,
        reward=reward_scale * rng.normal(size=transition.shape),
        initial_distribution=np.full(n_states, 1.0 / n_states),
        discount=discount,
    )


def mix_transitions(transition: np.ndarray, other: np.ndarray, noise: float) -> np.ndarray:
    """Misspecified dynamics ``(1 - noise) tau + noise tau_other``: rows stay distributions.

    The L1 distance between the rows of the result and of ``transition`` is at most ``2 noise``.
    """
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"tau_noise must be in [0, 1], got {noise}")
    return (1.0 - noise) * np.asarray(transition) + noise * np.asarray(other)


def expected_reward(transition: np.ndarray, reward: np.ndarray) -> np.ndarray:
    """r(s, a) = E_{s' ~ tau(s, a)} R(s, a, s'), shape ``[..., S, A]``."""
    return np.sum(transition * reward, axis=-1)


def expect_next(transition: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(T V)(s, a) = sum_{s'} tau(s, a, s') V(s') for values ``[..., S]``; returns ``[..., S, A]``.

    A single ``[S, A, S]`` tensor is applied to every batch of values in one matrix product.
    """
    n_states, n_actions = transition.shape[-3], transition.shape[-2]
    if transition.ndim == 3:
        flat = values.reshape(-1, n_states) @ transition.reshape(n_states * n_actions, n_states).T
        return flat.reshape(*values.shape[:-1], n_states, n_actions)
    flat = transition.reshape(*transition.shape[:-3], n_states * n_actions, n_states)
    return (flat @ values[..., :, None])[..., 0].reshape(
        *np.broadcast_shapes(transition.shape[:-3], values.shape[:-1]), n_states, n_actions
    )


def state_transition_matrix(transition: np.ndarray, policy: np.ndarray) -> np.ndarray:
    """P_pi[s, s'] = sum_a pi(a | s) tau(s, a, s'), shape ``[..., S, S]``."""
    return np.einsum("...sa,...sat->...st", policy, transition)


def policy_evaluation(
    transition: np.ndarray, reward: np.ndarray, discount: float, policy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact V^pi and Q^pi by one linear solve: V = (I - gamma P_pi)^-1 r_pi, Q = r + gamma T V.

    Args:
        transition: tau, ``[S, A, S]`` or ``[..., S, A, S]``.
        reward: R, ``[..., S, A, S]``.
        discount: gamma in [0, 1).
        policy: pi(a | s), ``[..., S, A]``.

    Returns:
        (V ``[..., S]``, Q ``[..., S, A]``).
    """
    discount = validate_discount(discount)
    reward_sa = expected_reward(transition, reward)
    propagation = state_transition_matrix(transition, policy)
    n_states = propagation.shape[-1]
    system = np.eye(n_states) - discount * propagation
    reward_pi = np.sum(policy * reward_sa, axis=-1)
    system, reward_pi = np.broadcast_arrays(system, reward_pi[..., None])
    values = np.linalg.solve(system, reward_pi)[..., 0]
    return values, reward_sa + discount * expect_next(transition, values)


def discounted_occupancy(
    transition: np.ndarray, initial_distribution: np.ndarray, discount: float, policy: np.ndarray
) -> np.ndarray:
    """d(s, a) = sum_t gamma^t P(s_t = s, a_t = a) from s_0 ~ mu0 (total mass 1 / (1 - gamma)).

    Solves d_S^T (I - gamma P_pi) = mu0^T, then d(s, a) = d_S(s) pi(a | s).
    """
    discount = validate_discount(discount)
    propagation = state_transition_matrix(transition, policy)
    n_states = propagation.shape[-1]
    system = np.swapaxes(np.eye(n_states) - discount * propagation, -1, -2)
    system, initial = np.broadcast_arrays(system, np.asarray(initial_distribution)[..., None])
    state_occupancy = np.linalg.solve(system, initial)[..., 0]
    return state_occupancy[..., None] * policy


def policy_return(
    transition: np.ndarray,
    reward: np.ndarray,
    initial_distribution: np.ndarray,
    discount: float,
    policy: np.ndarray,
) -> np.ndarray:
    """J(pi) = E_{s0 ~ mu0}[V^pi(s0)], shape ``[...]``."""
    values, _ = policy_evaluation(transition, reward, discount, policy)
    return np.sum(values * initial_distribution, axis=-1)


def policy_distance(policy_a: np.ndarray, policy_b: np.ndarray) -> np.ndarray:
    """max_s TV(pi_a(. | s), pi_b(. | s)) = max_s 0.5 ||pi_a(s) - pi_b(s)||_1, on [0, 1]."""
    return 0.5 * np.abs(policy_a - policy_b).sum(axis=-1).max(axis=-1)


def sample_trajectories(
    rng: np.random.Generator,
    transition: np.ndarray,
    initial_distribution: np.ndarray,
    policy: np.ndarray,
    n_trajectories: int,
    horizon: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Roll out ``n_trajectories`` episodes of length ``horizon`` at once.

    Returns:
        (states ``[n, horizon + 1]``, actions ``[n, horizon]``) as int64.
    """
    n_states, n_actions = policy.shape
    states = np.empty((n_trajectories, horizon + 1), dtype=np.int64)
    actions = np.empty((n_trajectories, horizon), dtype=np.int64)
    # Inverse-CDF sampling of every trajectory's next draw in one vectorised step.
    states[:, 0] = _sample_rows(
        rng, np.broadcast_to(initial_distribution, (n_trajectories, n_states))
    )
    for step in range(horizon):
        actions[:, step] = _sample_rows(rng, policy[states[:, step]])
        states[:, step + 1] = _sample_rows(rng, transition[states[:, step], actions[:, step]])
    return states, actions


def _sample_rows(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    cumulative = np.cumsum(probabilities, axis=-1)
    draws = rng.random(probabilities.shape[0]) * cumulative[:, -1]
    return np.minimum((cumulative <= draws[:, None]).sum(axis=-1), probabilities.shape[-1] - 1)
