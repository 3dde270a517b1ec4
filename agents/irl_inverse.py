"""IRL for a known policy: exact inverses of the behavioural models and the consistent set.

Skalse & Abate (ICLR 2024, arXiv 2403.06854), Sections 2-4. A learner that assumes the model f and
observes pi infers ``f^-1(pi)``. For Boltzmann and MCE that set is one representative plus every
potential shaping (under the assumed gamma) and every S'-redistribution (under the assumed tau):

- Boltzmann ``b_beta``: ``R^(s, a) = (log pi(a | s) - max_a' log pi(a' | s)) / beta`` has V* = 0
  and Q* = R^, so ``b_beta(R^) = pi`` under every gamma and tau;
- MCE ``c_alpha``: ``R^(s, a) = alpha log pi(a | s)`` has soft V = 0, so ``c_alpha(R^) = pi``;
- optimal ``o``: ``R^(s, a) = 0`` on the actions pi plays, ``-1`` elsewhere.

The learner's error is the STARC distance between the inferred and the true reward measured in the
true MDP. Because ``R^`` is consistent under every gamma and tau, misspecified parameters show in the
worst case over the consistent set (``R^`` plus shaping with a large potential and plus
redistribution), found here by a bounded, seeded adversarial search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqrl.mechanisms.irl_behaviour import BehaviouralModel
from seqrl.mechanisms.irl_mdp import expected_reward
from seqrl.mechanisms.irl_rewards import (
    minimal_potential_map,
    potential_shaping,
    project_minimal,
    redistribute,
    shaping_operator,
    starc_distance,
)


def invert_policy(
    model: BehaviouralModel, policy: np.ndarray, *, minimum_probability: float = 1e-12
) -> np.ndarray:
    """The representative ``R^ [..., S, A, S]`` (constant in s') of ``f^-1(pi)`` for a known pi.

    Args:
        model: The assumed behavioural model (its discount and dynamics do not matter: the
            representative is consistent under all of them).
        policy: pi ``[..., S, A]``.
        minimum_probability: Probabilities are clipped from below before taking logs, so that a
            policy outside the image of a continuous model (e.g. an optimal one) still gets the
            nearest representative instead of -inf.
    """
    policy = np.asarray(policy, dtype=np.float64)
    n_states = policy.shape[-2]
    if model.kind == "optimal":
        played = policy >= policy.max(axis=-1, keepdims=True) - 1e-9
        reward_sa = np.where(played, 0.0, -1.0)
    else:
        log_policy = np.log(np.maximum(policy, minimum_probability))
        if model.kind == "boltzmann":
            reward_sa = (log_policy - log_policy.max(axis=-1, keepdims=True)) / model.temperature
        else:
            reward_sa = model.temperature * log_policy
    return np.broadcast_to(reward_sa[..., None], reward_sa.shape + (n_states,)).copy()


@dataclass(frozen=True)
class ConsistentSetSearch:
    """Settings of the adversarial search over the consistent set.

    Attributes:
        potential_bound: |Phi(s)| <= potential_bound * scale, scale = max |R^| of the representative.
        redistribution_bound: |X(s, a, s')| <= redistribution_bound * scale for the direction X of
            the S'-redistribution ``X - E_tau_assumed[X]``.
        n_random_starts: Random starting points per direction, besides the directed ones.
        n_steps: Projected Adam steps from each start.
        learning_rate: Adam step in units of the box half-width.
        n_typical: Random members drawn uniformly from the box for the typical distance.
    """

    potential_bound: float = 1000.0
    redistribution_bound: float = 1000.0
    n_random_starts: int = 1
    n_steps: int = 40
    learning_rate: float = 0.1
    n_typical: int = 16

    def __post_init__(self) -> None:
        for name in ("potential_bound", "redistribution_bound", "learning_rate"):
            if not getattr(self, name) >= 0 or not np.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be >= 0 and finite, got {getattr(self, name)!r}")
        for name in ("n_random_starts", "n_steps", "n_typical"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class ConsistentSetDistances:
    """STARC distances to the true reward over the consistent set, one entry per MDP.

    Attributes:
        representative: d(R^, R_true).
        minimum: Smallest distance found over the searched members.
        typical: Median distance of random members of the box.
        worst: Largest distance found within the bounds.
        supremum: Supremum over the unbounded consistent set: ``max(worst, limit)`` where the
            limit ``sqrt((1 + ||Pi_B u||) / 2)`` is reached by members growing without bound along
            the canonical directions B the misspecification leaves (Pi_B the projection onto them).
            It does not shrink with the size of a parameter error, only with its absence.
        worst_reward: The member reaching ``worst`` ``[n, S, A, S]``: consistent with the data
            under the assumed model, and at distance ``worst`` from the truth.
    """

    representative: np.ndarray
    minimum: np.ndarray
    typical: np.ndarray
    worst: np.ndarray
    supremum: np.ndarray
    worst_reward: np.ndarray


def consistent_member(
    representative: np.ndarray,
    potential: np.ndarray,
    direction: np.ndarray,
    assumed_transition: np.ndarray,
    assumed_discount: float,
) -> np.ndarray:
    """``R^ + gamma_a Phi(s') - Phi(s) + X - E_{tau_a}[X]``: a member of the consistent set."""
    shaped = potential_shaping(representative, potential, assumed_discount)
    return redistribute(shaped, assumed_transition, direction)


def consistent_set_distances(
    representative: np.ndarray,
    true_reward: np.ndarray,
    true_transition: np.ndarray,
    true_discount: float,
    assumed_transition: np.ndarray,
    assumed_discount: float,
    rng: np.random.Generator,
    search: ConsistentSetSearch | None = None,
) -> ConsistentSetDistances:
    """Minimum, typical and worst STARC distance over ``R^ + shaping + redistribution``.

    For the optimal model the true consistent set is larger (every optimality-preserving
    transformation); the search covers shaping and redistribution only, and the optimal model's
    own ambiguity shows in the representative's distance. Works on a batch of n MDPs at once.
    The distance is measured with the L2-minimal canonicalisation of the true MDP (tau_t,
    gamma_t); it depends on a member only through its
    expected reward under tau_t, ``y = r^ + (gamma_a T_t - E) Phi + b o e`` with
    ``b(s, a) = ||tau_t(s, a) - tau_a(s, a)||_1``: the redistribution direction
    ``X = bound e(s, a) sign(tau_t - tau_a)(s, a, s')`` attains every such shift within the box.
    Maximising (minimising) the distance is minimising (maximising) the cosine between the
    canonical ``x = P y`` and the true canonical reward u.

    Args:
        representative: R^ ``[n, S, A, S]``.
        true_reward: R_true ``[n, S, A, S]``.
        true_transition: tau_t ``[n, S, A, S]`` or ``[S, A, S]``.
        true_discount: gamma_t.
        assumed_transition: tau_a, same shape rules.
        assumed_discount: gamma_a.
        rng: Seeds the random starts and the typical members.
        search: Search settings.
    """
    search = search or ConsistentSetSearch()
    n_mdps = representative.shape[0]
    true_transition = np.broadcast_to(true_transition, representative.shape)
    assumed_transition = np.broadcast_to(assumed_transition, representative.shape)
    scale = np.maximum(np.abs(representative).max(axis=(-3, -2, -1)), 1e-12)
    objective = _CosineObjective(
        representative, true_reward, true_transition, true_discount, assumed_transition,
        assumed_discount, scale, search,
    )  # fmt: skip
    representative_distance = starc_distance(
        representative, true_reward, true_transition, true_discount
    )
    if objective.dimension == 0:  # every member is equivalent to R^ in the true MDP
        return ConsistentSetDistances(
            representative=representative_distance,
            minimum=representative_distance,
            typical=representative_distance,
            worst=representative_distance,
            supremum=representative_distance,
            worst_reward=representative,
        )
    worst_z, best_z = objective.search(rng)
    typical_z = rng.uniform(-1.0, 1.0, size=(n_mdps, search.n_typical, objective.dimension))
    worst_reward = objective.member(worst_z)
    worst = starc_distance(worst_reward, true_reward, true_transition, true_discount)
    representative_is_worse = representative_distance > worst
    worst_reward = np.where(
        representative_is_worse[:, None, None, None], representative, worst_reward
    )
    worst = np.maximum(worst, representative_distance)
    return ConsistentSetDistances(
        representative=representative_distance,
        minimum=np.minimum(objective.distance(best_z[:, None, :])[:, 0], representative_distance),
        typical=(
            np.median(objective.distance(typical_z), axis=-1)
            if search.n_typical
            else representative_distance
        ),
        worst=worst,
        supremum=np.maximum(worst, objective.limit_distance()),
        worst_reward=worst_reward,
    )


class _CosineObjective:
    """cos(P y(z), u) over the box z in [-1, 1]^K, batched over MDPs and starting points.

    z holds the active blocks: the potential (|S|, when gamma_a != gamma_t) and the redistribution
    shift (|S||A|, when tau_a != tau_t); blocks the true canonicalisation removes are left out.
    ``P y = y - M_t K_t y`` (orthogonal projection, uniform weights), so with u in the range of P,
    ``cos = <y, u> / ||P y||`` and ``grad_y cos = u / ||x|| - cos x / ||x||^2``.
    """

    def __init__(
        self,
        representative: np.ndarray,
        true_reward: np.ndarray,
        true_transition: np.ndarray,
        true_discount: float,
        assumed_transition: np.ndarray,
        assumed_discount: float,
        scale: np.ndarray,
        search: ConsistentSetSearch,
    ) -> None:
        n_mdps, n_states, n_actions, _ = representative.shape
        self.n_pairs = n_states * n_actions
        self.representative = representative
        self.assumed_transition = assumed_transition
        self.assumed_discount = assumed_discount
        self.search_settings = search
        self.scale = scale
        self.operator = shaping_operator(true_transition, true_discount)  # M_t [n, SA, S]
        self.potential_map = minimal_potential_map(true_transition, true_discount)  # K_t
        self.base = expected_reward(true_transition, representative).reshape(n_mdps, self.n_pairs)
        true_sa = expected_reward(true_transition, true_reward).reshape(n_mdps, self.n_pairs)
        true_canonical = self.project(true_sa)
        norm = np.linalg.norm(true_canonical, axis=-1, keepdims=True)
        self.unit_true = true_canonical / np.where(norm > 0, norm, 1.0)
        self.true_is_zero = norm[:, 0] == 0
        # Potential block: y += (gamma_a T_t - E) Phi; redistribution block: y += shift o e.
        self.n_potential = 0
        self.shaping = np.zeros((n_mdps, self.n_pairs, 0))
        if assumed_discount != true_discount and search.potential_bound > 0:
            shaping = shaping_operator(true_transition, assumed_discount)
            self.shaping = shaping * (search.potential_bound * scale)[:, None, None]
            self.n_potential = n_states
        self.sign = np.sign(true_transition - assumed_transition)
        mismatch = np.abs(true_transition - assumed_transition).sum(axis=-1)
        self.n_redistribution = 0
        self.shift = np.zeros((n_mdps, 0))
        if mismatch.max() > 0 and search.redistribution_bound > 0:
            bound = search.redistribution_bound * scale
            self.shift = mismatch.reshape(n_mdps, self.n_pairs) * bound[:, None]
            self.n_redistribution = self.n_pairs
        self.dimension = self.n_potential + self.n_redistribution

    def project(self, y: np.ndarray) -> np.ndarray:
        """P y for y ``[n, ..., SA]``."""
        flat = y.reshape(y.shape[0], -1, self.n_pairs)
        return project_minimal(flat, self.operator, self.potential_map).reshape(y.shape)

    def evaluate(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cosine, canonical x, its norm) at z ``[n, R, K]``."""
        y = self.base[:, None, :] + z[..., : self.n_potential] @ np.swapaxes(self.shaping, -1, -2)
        if self.n_redistribution:
            y = y + z[..., self.n_potential :] * self.shift[:, None, :]
        x = self.project(y)
        norm = np.linalg.norm(x, axis=-1)
        cosine = np.einsum("nrk,nk->nr", x, self.unit_true) / np.where(norm > 0, norm, 1.0)
        return np.where(norm > 0, cosine, 0.0), x, norm

    def distance(self, z: np.ndarray) -> np.ndarray:
        """||x / ||x|| - u|| / 2 at z ``[n, R, K]`` (a zero vector normalises to 0)."""
        cosine, _, norm = self.evaluate(z)
        # ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b with unit-or-zero a and b (floats: bool + bool
        # would be a logical or).
        squared = (
            (norm > 0).astype(float) + (~self.true_is_zero).astype(float)[:, None] - 2.0 * cosine
        )
        return 0.5 * np.sqrt(np.maximum(squared, 0.0))

    def gradient(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cosine, d cosine / d z) at z ``[n, R, K]``."""
        cosine, x, norm = self.evaluate(z)
        safe = np.where(norm > 0, norm, 1.0)[..., None]
        gradient_y = self.unit_true[:, None, :] / safe - cosine[..., None] * x / safe**2
        gradient = gradient_y @ self.shaping
        if self.n_redistribution:
            gradient = np.concatenate([gradient, gradient_y * self.shift[:, None, :]], axis=-1)
        return cosine, gradient

    def projected_directions(self) -> np.ndarray:
        """P B ``[n, SA, K]``: the canonical directions the searched members can move along."""
        columns = [np.swapaxes(self.project(np.swapaxes(self.shaping, -1, -2)), -1, -2)]
        if self.n_redistribution:
            diagonal = np.eye(self.n_pairs) * (self.shift[:, None, :] > 0)
            columns.append(np.swapaxes(self.project(diagonal), -1, -2))
        return np.concatenate(columns, axis=-1)

    def limit_distance(self) -> np.ndarray:
        """``sqrt((1 + ||Pi_B u||) / 2)``, the distance approached along ``-Pi_B u`` at infinity."""
        if self.n_redistribution and np.all(self.shift > 0):
            # P diag(b) with b > 0 spans every canonical reward, so u itself is reachable.
            length = np.ones(self.base.shape[0])
        else:
            # ||Pi_B u|| from an orthonormal basis of range(P B) (P B is rank-deficient: constant
            # potentials are removed by P).
            basis, singular, _ = np.linalg.svd(self.projected_directions(), full_matrices=False)
            keep = singular > 1e-10 * singular.max(axis=-1, keepdims=True)
            coordinates = np.einsum("nkr,nk->nr", basis, self.unit_true) * keep
            length = np.clip(np.linalg.norm(coordinates, axis=-1), 0.0, 1.0)
        return np.where(self.true_is_zero, 0.5, np.sqrt((1.0 + length) / 2.0))

    def starts(self, rng: np.random.Generator, maximise_distance: bool) -> np.ndarray:
        """Directed starting points (sign of the gradient at R^, least-squares potential) + random."""
        n_mdps = self.base.shape[0]
        sign = -1.0 if maximise_distance else 1.0
        _, gradient = self.gradient(np.zeros((n_mdps, 1, self.dimension)))
        starts = [sign * np.sign(gradient[:, 0]), np.zeros((n_mdps, self.dimension))]
        if self.n_potential:
            # Least-squares potential whose canonical shaping points along -u (or +u).
            projected = np.swapaxes(self.project(np.swapaxes(self.shaping, -1, -2)), -1, -2)
            normal = np.swapaxes(projected, -1, -2) @ projected
            normal += (
                1e-12
                * np.trace(normal, axis1=-2, axis2=-1)[:, None, None]
                * np.eye(self.n_potential)
            )
            rhs = sign * (np.swapaxes(projected, -1, -2) @ self.unit_true[..., None])[..., 0]
            potential = np.linalg.solve(normal, rhs[..., None])[..., 0]
            potential /= np.maximum(np.abs(potential).max(axis=-1, keepdims=True), 1e-300)
            directed = starts[0].copy()
            directed[:, : self.n_potential] = potential
            starts.append(directed)
        random = rng.uniform(
            -1.0, 1.0, size=(self.search_settings.n_random_starts, n_mdps, self.dimension)
        )
        return np.stack(starts + list(random), axis=1)

    def search(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Projected Adam from every start, both directions in one batch.

        Double precision matters: members far out in the box cancel to small canonical rewards.

        Returns:
            (z of the largest distance seen, z of the smallest), each ``[n, K]``.
        """
        far, near = self.starts(rng, True), self.starts(rng, False)
        z = np.concatenate([far, near], axis=1)
        # Each start minimises sign * cosine: +1 pushes the distance up, -1 down.
        sign = np.concatenate([np.ones(far.shape[1]), -np.ones(near.shape[1])])[None, :]
        best_value = np.full(z.shape[:2], np.inf)
        best_z = z.copy()
        first_moment = np.zeros_like(z)
        second_moment = np.zeros_like(z)
        settings = self.search_settings
        for step in range(settings.n_steps + 1):
            cosine, gradient = self.gradient(z)
            value = sign * cosine
            improved = value < best_value
            best_value = np.where(improved, value, best_value)
            best_z = np.where(improved[..., None], z, best_z)
            if step == settings.n_steps:
                break
            gradient *= sign[..., None]
            first_moment = 0.9 * first_moment + 0.1 * gradient
            second_moment = 0.999 * second_moment + 0.001 * gradient**2
            corrected_first = first_moment / (1.0 - 0.9 ** (step + 1))
            corrected_second = second_moment / (1.0 - 0.999 ** (step + 1))
            step_size = (
                settings.learning_rate * corrected_first / (np.sqrt(corrected_second) + 1e-12)
            )
            z = np.clip(z - step_size, -1.0, 1.0)
        rows = np.arange(z.shape[0])
        split = far.shape[1]
        worst = best_z[rows, np.argmin(best_value[:, :split], axis=1)]
        nearest = best_z[rows, split + np.argmin(best_value[:, split:], axis=1)]
        return worst, nearest

    def member(self, z: np.ndarray) -> np.ndarray:
        """The reward of the consistent set at z ``[n, K]``, ``[n, S, A, S]``."""
        n_mdps, n_states = self.representative.shape[:2]
        potential = np.zeros((n_mdps, n_states))
        if self.n_potential:
            potential = (
                z[:, : self.n_potential]
                * (self.search_settings.potential_bound * self.scale)[:, None]
            )
        direction = np.zeros_like(self.representative)
        if self.n_redistribution:
            shift = z[:, self.n_potential :].reshape(self.representative.shape[:3])
            bound = self.search_settings.redistribution_bound * self.scale
            direction = shift[..., None] * bound[:, None, None, None] * self.sign
        return consistent_member(
            self.representative,
            potential,
            direction,
            self.assumed_transition,
            self.assumed_discount,
        )
