"""Reward transformations, canonicalisations and the STARC and EPIC distances.

Skalse & Abate (ICLR 2024, arXiv 2403.06854) and Skalse et al., "STARC: a general framework for
quantifying differences between reward functions" (2023).

- Potential shaping: ``R'(s, a, s') = R(s, a, s') + gamma Phi(s') - Phi(s)``.
- S'-redistribution: ``R' = R + D`` with ``E_{s' ~ tau(s, a)}[D(s, a, s')] = 0`` for all (s, a).
- Positive scaling: ``R' = c R`` with ``c > 0``.
- A canonicalisation c is linear and removes exactly shaping and S'-redistribution. Both used here
  act on the expected reward ``r(s, a) = E_tau[R(s, a, s')]`` (which already removes
  redistribution) and return a reward constant in s':
  VAL ``c(R)(s, a) = Q^pi(s, a) - V^pi(s) = (I + M G Pi) r`` and the L2-minimal
  ``c(R) = r + M Phi*`` with ``Phi* = argmin_Phi ||r + M Phi||_w`` (weighted least squares),
  where ``M = gamma T - E`` maps a potential to its expected shaping ``gamma E[Phi(s')] - Phi(s)``.
- STARC distance ``d(R1, R2) = ||s(R1) - s(R2)|| / 2`` with ``s(R) = c(R) / ||c(R)||`` (0 when
  ``c(R) = 0``): on [0, 1] with ``d(R, -R) = 1`` (this project halves the paper's norm).
- EPIC (Gleave et al. 2021): ``C(R)(s, a, s') = R(s, a, s') + E[gamma R(s', A, S') - R(s, A, S')
  - gamma R(S, A, S')]`` with S, S' ~ D_S and A ~ D_A independent, then the Pearson distance
  ``sqrt((1 - rho) / 2)`` on [0, 1]. EPIC ignores the dynamics, so unlike STARC it counts
  S'-redistribution as a difference.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from seqrl.mechanisms.irl_mdp import expected_reward, state_transition_matrix, validate_discount

Canonicalisation = Literal["minimal", "val"]
CANONICALISATIONS: tuple[str, ...] = ("minimal", "val")

#: A canonical reward whose norm is below this fraction of the reward's norm counts as zero.
ZERO_TOLERANCE = 1e-9


def potential_shaping(reward: np.ndarray, potential: np.ndarray, discount: float) -> np.ndarray:
    """R + gamma Phi(s') - Phi(s) for potentials ``[..., S]`` and rewards ``[..., S, A, S']``."""
    discount = validate_discount(discount)
    potential = np.asarray(potential)
    return reward + discount * potential[..., None, None, :] - potential[..., :, None, None]


def redistribute(reward: np.ndarray, transition: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """S'-redistribution R + D with ``D = X - E_{s' ~ tau}[X]``, so that ``E_tau[D] = 0``.

    Args:
        reward: R ``[..., S, A, S']``.
        transition: The tau under which the expected reward is kept.
        direction: Any X ``[..., S, A, S']``; every S'-redistribution under tau has this form.
    """
    direction = np.asarray(direction)
    return reward + direction - expected_reward(transition, direction)[..., None]


def scale_reward(reward: np.ndarray, factor: float) -> np.ndarray:
    """Positive scaling c R."""
    if not factor > 0:
        raise ValueError(f"factor must be > 0, got {factor!r}")
    return factor * np.asarray(reward)


def shaping_operator(transition: np.ndarray, discount: float) -> np.ndarray:
    """M = gamma T - E ``[..., S A, S]``: ``(M Phi)(s, a) = gamma E[Phi(s')] - Phi(s)``."""
    n_states, n_actions = transition.shape[-3], transition.shape[-2]
    flat = transition.reshape(*transition.shape[:-3], n_states * n_actions, n_states)
    return discount * flat - np.repeat(np.eye(n_states), n_actions, axis=0)


def minimal_potential_map(
    transition: np.ndarray, discount: float, *, weights: np.ndarray | None = None
) -> np.ndarray:
    """K = (M^T W M)^-1 M^T W ``[..., S, S A]``: the minimising potential is ``Phi* = -K r``.

    ``M^T W M`` is invertible for gamma < 1 (``M Phi = 0`` forces ``Phi = gamma T Phi``, so 0).
    """
    n_states, n_actions = transition.shape[-3], transition.shape[-2]
    operator = shaping_operator(transition, validate_discount(discount))
    weight = (
        np.ones(n_states * n_actions)
        if weights is None
        else np.asarray(weights).reshape(*np.shape(weights)[:-2], -1)
    )
    weighted = np.swapaxes(operator, -1, -2) * weight[..., None, :]
    return np.linalg.solve(weighted @ operator, weighted)


def project_minimal(
    flat_reward: np.ndarray, operator: np.ndarray, potential_map: np.ndarray
) -> np.ndarray:
    """Minimal canonicalisation ``r + M Phi* = r - M (K r)`` of flattened rewards ``[..., S A]``.

    Args:
        flat_reward: r as rows ``[..., S A]`` (a batch of rows ``[n, k, S A]`` per batched MDP).
        operator: M from :func:`shaping_operator`.
        potential_map: K from :func:`minimal_potential_map`.
    """
    potentials = flat_reward @ np.swapaxes(potential_map, -1, -2)
    return flat_reward - potentials @ np.swapaxes(operator, -1, -2)


def canonicalisation_matrix(
    transition: np.ndarray,
    discount: float,
    method: Canonicalisation = "minimal",
    *,
    policy: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """The linear map C ``[..., S A, S A]`` with ``c(R) = C r`` on flattened expected rewards.

    Args:
        transition: tau ``[S, A, S]`` or ``[..., S, A, S]``.
        discount: gamma in [0, 1).
        method: "minimal": the weighted-L2-minimal canonicalisation, the orthogonal projection
            ``I - M (M^T W M)^-1 M^T W`` (closed-form weighted least squares, |S| unknowns);
            "val": ``I + M (I - gamma P_pi)^-1 Pi``, the advantage under ``policy``.
        policy: pi ``[..., S, A]`` for "val" (uniform when None).
        weights: w(s, a) > 0 ``[..., S, A]`` for "minimal" (uniform when None).
    """
    discount = validate_discount(discount)
    n_states, n_actions = transition.shape[-3], transition.shape[-2]
    operator = shaping_operator(transition, discount)
    identity = np.eye(n_states * n_actions)
    if method == "minimal":
        return identity - operator @ minimal_potential_map(transition, discount, weights=weights)
    if method == "val":
        if policy is None:
            policy = np.full((n_states, n_actions), 1.0 / n_actions)
        propagation = state_transition_matrix(transition, policy)
        # Pi[s, (s, a)] = pi(a | s): averages a state-action function into a state function.
        averaging = np.eye(n_states)[:, :, None] * policy[..., None, :, :]
        averaging = averaging.reshape(*averaging.shape[:-2], n_states * n_actions)
        state_values = np.linalg.solve(np.eye(n_states) - discount * propagation, averaging)
        return identity + operator @ state_values
    raise ValueError(
        f"canonicalisation must be one of {', '.join(CANONICALISATIONS)}, got {method!r}"
    )


def apply_canonicalisation(matrix: np.ndarray, reward_sa: np.ndarray) -> np.ndarray:
    """C r for expected rewards ``[..., S, A]``; one matrix product when C is shared."""
    shape = reward_sa.shape
    flat = reward_sa.reshape(*shape[:-2], shape[-2] * shape[-1])
    if matrix.ndim == 2:
        return (flat @ matrix.T).reshape(shape)
    return (matrix @ flat[..., None])[..., 0].reshape(
        np.broadcast_shapes(matrix.shape[:-2], shape[:-2]) + shape[-2:]
    )


def canonicalise_expected(
    reward_sa: np.ndarray,
    transition: np.ndarray,
    discount: float,
    method: Canonicalisation = "minimal",
    *,
    policy: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """c(R) ``[..., S, A]`` from expected rewards ``r [..., S, A]``.

    The minimal one is applied as ``r - M (K r)`` (two thin products, no |S||A| x |S||A| matrix).
    """
    if method != "minimal":
        matrix = canonicalisation_matrix(
            transition, discount, method, policy=policy, weights=weights
        )
        return apply_canonicalisation(matrix, reward_sa)
    potential_map = minimal_potential_map(transition, discount, weights=weights)
    operator = shaping_operator(transition, discount)
    shape = reward_sa.shape
    flat = reward_sa.reshape(*shape[:-2], 1, shape[-2] * shape[-1])
    if transition.ndim == 3:
        canonical = project_minimal(flat[..., 0, :], operator, potential_map)
    else:
        canonical = project_minimal(flat, operator, potential_map)[..., 0, :]
    return canonical.reshape(canonical.shape[:-1] + shape[-2:])


def canonicalise(
    reward: np.ndarray,
    transition: np.ndarray,
    discount: float,
    method: Canonicalisation = "minimal",
    *,
    policy: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """c(R) ``[..., S, A, S']`` (constant in s') for rewards ``[..., S, A, S']``."""
    canonical = canonicalise_expected(
        expected_reward(transition, reward),
        transition,
        discount,
        method,
        policy=policy,
        weights=weights,
    )
    return np.broadcast_to(canonical[..., None], canonical.shape + (transition.shape[-1],)).copy()


def minimal_canonicalisation_iterative(
    reward: np.ndarray,
    transition: np.ndarray,
    discount: float,
    *,
    weights: np.ndarray | None = None,
    tolerance: float = 1e-12,
    max_iterations: int = 1_000_000,
) -> np.ndarray:
    """The L2-minimal canonicalisation by gradient descent on the potential (benchmark baseline).

    Minimises ``||r + M Phi||_w^2`` over Phi by gradient descent with step ``1 / L`` (L the largest
    eigenvalue of ``M^T W M``), as the STARC reference code does with an optimiser, for one MDP and
    rewards ``[n, S, A, S']``; stops when the gradient's sup-norm is below ``tolerance``.
    """
    n_states, n_actions = transition.shape[-3], transition.shape[-2]
    operator = shaping_operator(transition, validate_discount(discount))
    weight = np.ones(n_states * n_actions) if weights is None else np.asarray(weights).ravel()
    reward_sa = expected_reward(transition, reward).reshape(-1, n_states * n_actions)
    hessian = operator.T @ (weight[:, None] * operator)
    step = 1.0 / np.linalg.eigvalsh(hessian)[-1]
    potential = np.zeros((reward_sa.shape[0], n_states))
    for _ in range(max_iterations):
        residual = reward_sa + potential @ operator.T
        gradient = (residual * weight) @ operator
        if np.max(np.abs(gradient)) < tolerance:
            break
        potential -= step * gradient
    else:
        raise RuntimeError(f"gradient descent did not converge in {max_iterations} iterations")
    canonical = (reward_sa + potential @ operator.T).reshape(
        *reward.shape[:-3], n_states, n_actions
    )
    return np.broadcast_to(canonical[..., None], canonical.shape + (n_states,)).copy()


def normalised_distance(
    canonical_a: np.ndarray,
    canonical_b: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    zero_a: np.ndarray | bool = False,
    zero_b: np.ndarray | bool = False,
) -> np.ndarray:
    """``||a / ||a|| - b / ||b||||_w / 2`` over the last two axes (a zero vector normalises to 0).

    Args:
        canonical_a: ``[..., S, A]``.
        canonical_b: ``[..., S, A]``.
        weights: w(s, a) >= 0 for the norm (uniform when None).
        zero_a: Where a counts as the zero reward (e.g. below a relative tolerance).
        zero_b: Where b counts as the zero reward.
    """
    weight = 1.0 if weights is None else np.asarray(weights)

    def unit(vector: np.ndarray, zero: np.ndarray | bool) -> np.ndarray:
        norm = np.sqrt(np.sum(weight * vector**2, axis=(-2, -1)))
        is_zero = np.asarray(zero) | (norm == 0.0)
        return np.where(
            is_zero[..., None, None], 0.0, vector / np.where(is_zero, 1.0, norm)[..., None, None]
        )

    difference = unit(canonical_a, zero_a) - unit(canonical_b, zero_b)
    return 0.5 * np.sqrt(np.sum(weight * difference**2, axis=(-2, -1)))


def starc_distance(
    reward_a: np.ndarray,
    reward_b: np.ndarray,
    transition: np.ndarray,
    discount: float,
    method: Canonicalisation = "minimal",
    *,
    policy: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """STARC distance on [0, 1] between rewards ``[..., S, A, S']`` in the MDP (tau, gamma).

    0 iff the rewards differ by shaping, S'-redistribution and positive scaling; 1 for R and -R.
    """
    canonical = []
    zero = []
    for reward in (reward_a, reward_b):
        reward_sa = expected_reward(transition, reward)
        canonical_sa = canonicalise_expected(
            reward_sa, transition, discount, method, policy=policy, weights=weights
        )
        scale = np.sqrt(np.sum(reward_sa**2, axis=(-2, -1)))
        zero.append(np.sqrt(np.sum(canonical_sa**2, axis=(-2, -1))) <= ZERO_TOLERANCE * scale)
        canonical.append(canonical_sa)
    norm_weights = weights if method == "minimal" else None
    return normalised_distance(
        canonical[0], canonical[1], weights=norm_weights, zero_a=zero[0], zero_b=zero[1]
    )


def epic_canonicalisation(
    reward: np.ndarray,
    discount: float,
    *,
    state_distribution: np.ndarray | None = None,
    action_distribution: np.ndarray | None = None,
) -> np.ndarray:
    """EPIC's canonically shaped reward ``[..., S, A, S']`` (Gleave et al. 2021, Definition 4.1)."""
    discount = validate_discount(discount)
    states, actions = _epic_marginals(reward, state_distribution, action_distribution)
    # mean_from[..., s] = E_{A, S'}[R(s, A, S')]
    mean_from = np.einsum("...sax,a,x->...s", reward, actions, states)
    overall = np.sum(mean_from * states, axis=-1)
    return (
        reward
        + discount * mean_from[..., None, None, :]
        - mean_from[..., :, None, None]
        - discount * overall[..., None, None, None]
    )


def epic_distance(
    reward_a: np.ndarray,
    reward_b: np.ndarray,
    discount: float,
    *,
    state_distribution: np.ndarray | None = None,
    action_distribution: np.ndarray | None = None,
) -> np.ndarray:
    """EPIC distance ``sqrt((1 - rho) / 2)`` on [0, 1] under the coverage D_S x D_A x D_S."""
    states, actions = _epic_marginals(reward_a, state_distribution, action_distribution)
    coverage = states[:, None, None] * actions[None, :, None] * states[None, None, :]
    centred = []
    for reward in (reward_a, reward_b):
        canonical = epic_canonicalisation(
            reward, discount, state_distribution=states, action_distribution=actions
        )
        mean = np.sum(coverage * canonical, axis=(-3, -2, -1))
        centred.append(canonical - mean[..., None, None, None])
    covariance = np.sum(coverage * centred[0] * centred[1], axis=(-3, -2, -1))
    variances = [np.sum(coverage * c**2, axis=(-3, -2, -1)) for c in centred]
    denominator = np.sqrt(variances[0] * variances[1])
    correlation = np.where(
        denominator > 0, covariance / np.where(denominator > 0, denominator, 1.0), 0.0
    )
    return np.sqrt(np.clip((1.0 - correlation) / 2.0, 0.0, 1.0))


def _epic_marginals(
    reward: np.ndarray,
    state_distribution: np.ndarray | None,
    action_distribution: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """D_S and D_A for rewards ``[..., S, A, S']``, uniform where not given."""
    n_states, n_actions = reward.shape[-3], reward.shape[-2]
    states = np.full(n_states, 1.0 / n_states) if state_distribution is None else state_distribution
    actions = (
        np.full(n_actions, 1.0 / n_actions) if action_distribution is None else action_distribution
    )
    return states, actions
