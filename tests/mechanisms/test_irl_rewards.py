"""Reward transformations, canonicalisations, STARC and EPIC distances against theory."""

import numpy as np
import pytest

from seqrl.mechanisms.irl_behaviour import BehaviouralModel, behaviour_policy
from seqrl.mechanisms.irl_mdp import expected_reward, policy_evaluation, random_transition
from seqrl.mechanisms.irl_rewards import (
    canonicalisation_matrix,
    canonicalise,
    epic_canonicalisation,
    epic_distance,
    minimal_canonicalisation_iterative,
    potential_shaping,
    redistribute,
    scale_reward,
    starc_distance,
)

DISCOUNT = 0.85


@pytest.fixture(scope="module")
def setting():
    rng = np.random.default_rng(0)
    transition = random_transition(rng, 7, 3)
    rewards = rng.normal(size=(5, 7, 3, 7))
    return rng, transition, rewards


@pytest.mark.parametrize("method", ["minimal", "val"])
def test_shaping_redistribution_and_scaling_give_distance_zero(setting, method):
    rng, transition, rewards = setting
    shaped = potential_shaping(rewards, 10.0 * rng.normal(size=(5, 7)), DISCOUNT)
    moved = redistribute(shaped, transition, 10.0 * rng.normal(size=rewards.shape))
    equivalent = scale_reward(moved, 3.7)
    np.testing.assert_allclose(
        starc_distance(rewards, equivalent, transition, DISCOUNT, method), 0.0, atol=1e-7
    )


@pytest.mark.parametrize("method", ["minimal", "val"])
def test_opposite_reward_gives_distance_one_and_range_is_unit(setting, method):
    _, transition, rewards = setting
    np.testing.assert_allclose(starc_distance(rewards, -rewards, transition, DISCOUNT, method), 1.0)
    distances = starc_distance(rewards, rewards[::-1], transition, DISCOUNT, method)
    assert np.all((distances >= 0) & (distances <= 1))
    assert distances.max() > 0.1  # different rewards are told apart


def test_equivalent_rewards_have_the_same_policies(setting):
    # Sanity of the invariances: Boltzmann policies are unchanged by shaping and redistribution.
    rng, transition, rewards = setting
    shaped = potential_shaping(rewards, rng.normal(size=(5, 7)), DISCOUNT)
    moved = redistribute(shaped, transition, rng.normal(size=rewards.shape))
    model = BehaviouralModel("boltzmann", 1.0, DISCOUNT)
    np.testing.assert_allclose(
        behaviour_policy(model, transition, rewards),
        behaviour_policy(model, transition, moved),
        atol=1e-9,
    )


def test_zero_canonical_reward_normalises_to_zero(setting):
    rng, transition, rewards = setting
    pure_shaping = potential_shaping(np.zeros_like(rewards), rng.normal(size=(5, 7)), DISCOUNT)
    np.testing.assert_allclose(starc_distance(pure_shaping, rewards, transition, DISCOUNT), 0.5)


def test_minimal_canonicalisation_is_idempotent_and_minimal(setting):
    rng, transition, rewards = setting
    canonical = canonicalise(rewards, transition, DISCOUNT)
    np.testing.assert_allclose(canonicalise(canonical, transition, DISCOUNT), canonical, atol=1e-10)
    np.testing.assert_array_equal(np.broadcast_to(canonical[..., :1], canonical.shape), canonical)
    # No shaped variant of the expected reward has a smaller norm than the canonical one.
    norm = np.linalg.norm(canonical[..., 0], axis=(-2, -1))
    for _ in range(20):
        shaped = expected_reward(
            transition, potential_shaping(canonical, rng.normal(size=(5, 7)), DISCOUNT)
        )
        assert np.all(np.linalg.norm(shaped, axis=(-2, -1)) >= norm - 1e-10)


def test_minimal_canonicalisation_closed_form_equals_gradient_descent(setting):
    _, transition, rewards = setting
    closed = canonicalise(rewards, transition, DISCOUNT)
    iterative = minimal_canonicalisation_iterative(rewards, transition, DISCOUNT)
    np.testing.assert_allclose(closed, iterative, atol=1e-6)


def test_val_canonicalisation_is_the_advantage(setting):
    rng, transition, rewards = setting
    policy = rng.dirichlet(np.ones(3), size=7)
    canonical = canonicalise(rewards, transition, DISCOUNT, "val", policy=policy)[..., 0]
    values, q_values = policy_evaluation(transition, rewards, DISCOUNT, policy)
    np.testing.assert_allclose(canonical, q_values - values[..., None], atol=1e-10)
    np.testing.assert_allclose((policy * canonical).sum(-1), 0.0, atol=1e-10)


def test_weighted_minimal_canonicalisation_is_a_weighted_orthogonal_projection(setting):
    rng, transition, _ = setting
    weights = rng.uniform(0.1, 2.0, size=(7, 3))
    matrix = canonicalisation_matrix(transition, DISCOUNT, weights=weights)
    np.testing.assert_allclose(matrix @ matrix, matrix, atol=1e-10)
    weight = np.diag(weights.ravel())
    np.testing.assert_allclose(weight @ matrix, (weight @ matrix).T, atol=1e-10)


def test_epic_canonicalisation_matches_definition_by_loops():
    rng = np.random.default_rng(3)
    reward = rng.normal(size=(3, 2, 3))
    canonical = epic_canonicalisation(reward, DISCOUNT)
    expected = np.zeros_like(reward)
    for s in range(3):
        for a in range(2):
            for t in range(3):
                from_next = np.mean([reward[t, b, x] for b in range(2) for x in range(3)])
                from_here = np.mean([reward[s, b, x] for b in range(2) for x in range(3)])
                overall = np.mean(reward)
                expected[s, a, t] = (
                    reward[s, a, t] + DISCOUNT * from_next - from_here - DISCOUNT * overall
                )
    np.testing.assert_allclose(canonical, expected, atol=1e-12)


def test_epic_distance_invariances_and_pearson(setting):
    rng, _, rewards = setting
    shaped = scale_reward(potential_shaping(rewards, rng.normal(size=(5, 7)), DISCOUNT), 2.0)
    np.testing.assert_allclose(epic_distance(rewards, shaped, DISCOUNT), 0.0, atol=1e-7)
    np.testing.assert_allclose(epic_distance(rewards, -rewards, DISCOUNT), 1.0)
    first = epic_canonicalisation(rewards[0], DISCOUNT).ravel()
    second = epic_canonicalisation(rewards[1], DISCOUNT).ravel()
    correlation = np.corrcoef(first, second)[0, 1]
    assert epic_distance(rewards[0], rewards[1], DISCOUNT) == pytest.approx(
        np.sqrt((1 - correlation) / 2)
    )


def test_bad_inputs_raise(setting):
    _, transition, rewards = setting
    with pytest.raises(ValueError, match="factor must be > 0"):
        scale_reward(rewards, -1.0)
    with pytest.raises(ValueError, match=r"discount must be in \[0, 1\)"):
        starc_distance(rewards, rewards, transition, 1.0)
    with pytest.raises(ValueError, match="canonicalisation must be one of"):
        canonicalise(rewards, transition, DISCOUNT, "epic")
