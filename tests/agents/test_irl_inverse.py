"""Exact inverses of the behavioural models and the consistent-set search."""

import numpy as np
import pytest
from scipy.optimize import minimize

from seqrl.agents.irl_inverse import (
    ConsistentSetSearch,
    consistent_member,
    consistent_set_distances,
    invert_policy,
)
from seqrl.mechanisms.irl_behaviour import BehaviouralModel, behaviour_policy
from seqrl.mechanisms.irl_mdp import expected_reward, mix_transitions, random_transition
from seqrl.mechanisms.irl_rewards import canonicalisation_matrix, starc_distance


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    transition = random_transition(rng, 6, 3, batch_shape=(8,))
    rewards = rng.normal(size=(8, 6, 3, 6))
    other = random_transition(rng, 6, 3, batch_shape=(8,))
    return rng, transition, rewards, other


@pytest.mark.parametrize(
    "model",
    [
        BehaviouralModel("boltzmann", 2.0, 0.9),
        BehaviouralModel("mce", 0.5, 0.9),
        BehaviouralModel("optimal", 1.0, 0.9),
    ],
)
def test_exact_inverse_reproduces_the_policy_under_any_assumed_discount_and_dynamics(batch, model):
    _, transition, rewards, other = batch
    observed = behaviour_policy(model, transition, rewards)
    representative = invert_policy(model, observed)
    for discount in (0.5, 0.9, 0.99):
        assumed = BehaviouralModel(model.kind, model.temperature, discount)
        for dynamics in (transition, other):
            np.testing.assert_allclose(
                behaviour_policy(assumed, dynamics, representative), observed, atol=1e-9
            )


@pytest.mark.parametrize("kind", ["boltzmann", "mce"])
def test_inverse_recovers_the_true_reward_up_to_equivalence(batch, kind):
    _, transition, rewards, _ = batch
    model = BehaviouralModel(kind, 1.5, 0.9)
    representative = invert_policy(model, behaviour_policy(model, transition, rewards))
    np.testing.assert_allclose(
        starc_distance(representative, rewards, transition, 0.9), 0.0, atol=1e-6
    )


def test_without_misspecification_the_consistent_set_is_one_class(batch):
    rng, transition, rewards, _ = batch
    model = BehaviouralModel("boltzmann", 1.0, 0.9)
    representative = invert_policy(model, behaviour_policy(model, transition, rewards))
    result = consistent_set_distances(
        representative, rewards, transition, 0.9, transition, 0.9, rng
    )
    for distances in (result.representative, result.minimum, result.worst, result.supremum):
        np.testing.assert_allclose(distances, 0.0, atol=1e-6)


@pytest.mark.parametrize(("assumed_discount", "noise"), [(0.8, 0.0), (0.9, 0.05), (0.85, 0.05)])
def test_worst_member_is_consistent_and_far(batch, assumed_discount, noise):
    rng, transition, rewards, other = batch
    truth = BehaviouralModel("boltzmann", 1.0, 0.9)
    assumed = BehaviouralModel("boltzmann", 1.0, assumed_discount)
    assumed_transition = mix_transitions(transition, other, noise)
    observed = behaviour_policy(truth, transition, rewards)
    representative = invert_policy(assumed, observed)
    result = consistent_set_distances(
        representative, rewards, transition, 0.9, assumed_transition, assumed_discount, rng
    )
    # The member really is consistent with the data under the assumed model ...
    refit = behaviour_policy(
        assumed, assumed_transition, result.worst_reward, tolerance=1e-7, max_iterations=10**6
    )
    np.testing.assert_allclose(refit, observed, atol=1e-6)
    # ... and really is that far from the truth, while the representative is exact.
    np.testing.assert_allclose(
        starc_distance(result.worst_reward, rewards, transition, 0.9), result.worst, atol=1e-9
    )
    np.testing.assert_allclose(result.representative, 0.0, atol=1e-6)
    assert np.all(result.worst > 0.5)
    assert np.all(result.minimum <= result.typical + 1e-12)
    assert np.all(result.typical <= result.worst + 1e-12)
    assert np.all(result.worst <= result.supremum + 1e-12)


def test_consistent_member_helper_builds_shaping_plus_redistribution(batch):
    rng, transition, rewards, other = batch
    model = BehaviouralModel("mce", 1.0, 0.7)
    representative = invert_policy(model, behaviour_policy(model, other, rewards))
    member = consistent_member(
        representative, rng.normal(size=(8, 6)), rng.normal(size=rewards.shape), other, 0.7
    )
    np.testing.assert_allclose(
        behaviour_policy(model, other, member),
        behaviour_policy(model, other, representative),
        atol=1e-9,
    )


def test_search_reaches_a_multistart_optimiser_on_a_small_mdp():
    # Discount misspecification only: the distance depends on the potential Phi in a box.
    rng = np.random.default_rng(5)
    transition = random_transition(rng, 4, 2)
    reward = rng.normal(size=(1, 4, 2, 4))
    truth, assumed = (
        BehaviouralModel("boltzmann", 1.0, 0.9),
        BehaviouralModel("boltzmann", 1.0, 0.8),
    )
    representative = invert_policy(assumed, behaviour_policy(truth, transition, reward))
    search = ConsistentSetSearch(potential_bound=3.0)
    result = consistent_set_distances(
        representative, reward, transition, 0.9, transition, 0.8, rng, search
    )
    bound = 3.0 * np.abs(representative).max()

    def negative_distance(potential):
        member = consistent_member(
            representative, potential[None], np.zeros_like(reward), transition, 0.8
        )
        return -float(starc_distance(member, reward, transition, 0.9)[0])

    best = max(
        -minimize(
            negative_distance,
            rng.uniform(-bound, bound, 4),
            bounds=[(-bound, bound)] * 4,
            method="L-BFGS-B",
        ).fun
        for _ in range(30)
    )
    assert result.worst[0] >= best - 0.01
    assert result.worst[0] <= best + 1e-6  # nothing beyond the box
    # The supremum over the unbounded set is at least the bounded optimum.
    assert result.supremum[0] >= best - 1e-9


def test_supremum_does_not_shrink_with_the_discount_error(batch):
    rng, transition, rewards, _ = batch
    truth = BehaviouralModel("boltzmann", 1.0, 0.9)
    representative = invert_policy(truth, behaviour_policy(truth, transition, rewards))
    suprema = []
    for assumed_discount in (0.6, 0.89, 0.8999):
        result = consistent_set_distances(
            representative, rewards, transition, 0.9, transition, assumed_discount, rng
        )
        suprema.append(result.supremum)
    np.testing.assert_allclose(suprema[0], suprema[1], atol=1e-6)
    np.testing.assert_allclose(suprema[0], suprema[2], atol=1e-6)
    assert np.all(suprema[0] > 0.7)
    # Independent check of the limit: P (gamma_a T - E) = (gamma_a - gamma_t) P T, so the directions
    # are the columns of P T, and the limit is sqrt((1 + ||proj u||) / 2) for the true canonical u.
    for index in range(8):
        projection = canonicalisation_matrix(transition[index], 0.9)
        directions = projection @ transition[index].reshape(18, 6)
        canonical = projection @ expected_reward(transition[index], rewards[index]).ravel()
        unit = canonical / np.linalg.norm(canonical)
        coefficients, *_ = np.linalg.lstsq(directions, unit, rcond=1e-10)  # P T 1 = 0
        limit = np.sqrt((1 + np.linalg.norm(directions @ coefficients)) / 2)
        assert suprema[0][index] == pytest.approx(limit, abs=1e-6)


def test_typical_and_minimum_distances_agree_with_explicit_members(batch):
    # Random members of the box, built explicitly, against the search's typical and minimum.
    rng, transition, rewards, _ = batch
    truth = BehaviouralModel("boltzmann", 1.0, 0.9)
    representative = invert_policy(truth, behaviour_policy(truth, transition, rewards))
    search = ConsistentSetSearch(potential_bound=2.0, n_typical=64)
    result = consistent_set_distances(
        representative, rewards, transition, 0.9, transition, 0.899, rng, search
    )
    bound = 2.0 * np.abs(representative).max(axis=(1, 2, 3))
    explicit = []
    for _ in range(64):
        potential = rng.uniform(-1, 1, size=(8, 6)) * bound[:, None]
        member = consistent_member(
            representative, potential, np.zeros_like(rewards), transition, 0.899
        )
        explicit.append(starc_distance(member, rewards, transition, 0.9))
    explicit = np.median(np.array(explicit), axis=0)
    # Medians of 64 draws each: agree within a few standard errors of a median.
    assert np.all(explicit > 1e-4)
    np.testing.assert_allclose(result.typical, explicit, rtol=0.35)
    assert np.all(result.minimum <= result.representative + 1e-12)
