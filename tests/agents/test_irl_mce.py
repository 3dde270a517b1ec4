"""MCE-IRL by occupancy matching recovers rewards of its class."""

import numpy as np
import pytest

from seqrl.agents.irl_mce import demonstration_occupancy, mce_irl, reward_features
from seqrl.mechanisms.irl_behaviour import BehaviouralModel, behaviour_policy
from seqrl.mechanisms.irl_mdp import (
    discounted_occupancy,
    policy_distance,
    random_transition,
    sample_trajectories,
)
from seqrl.mechanisms.irl_rewards import starc_distance

N_STATES, N_ACTIONS = 6, 3


@pytest.fixture(scope="module")
def small_mdp():
    rng = np.random.default_rng(0)
    transition = random_transition(rng, N_STATES, N_ACTIONS)
    initial = np.full(N_STATES, 1 / N_STATES)
    state_reward = rng.normal(size=N_STATES)
    reward = np.broadcast_to(state_reward[:, None, None], (N_STATES, N_ACTIONS, N_STATES)).copy()
    return rng, transition, initial, state_reward, reward


def test_recovers_a_state_only_reward_from_exact_occupancy(small_mdp):
    _, transition, initial, state_reward, reward = small_mdp
    model = BehaviouralModel("mce", 1.0, 0.9)
    policy = behaviour_policy(model, transition, reward)
    occupancy = discounted_occupancy(transition, initial, 0.9, policy)
    result = mce_irl(transition, initial, occupancy, model)
    # State-only rewards are identified up to a constant (shaping with a constant potential).
    centred = result.parameters - result.parameters.mean()
    np.testing.assert_allclose(centred, state_reward - state_reward.mean(), atol=1e-4)
    np.testing.assert_allclose(result.policy, policy, atol=1e-6)
    assert starc_distance(result.reward, reward, transition, 0.9) < 1e-4


def test_state_action_class_matches_the_policy(small_mdp):
    _, transition, initial, _, _ = small_mdp
    reward = np.random.default_rng(1).normal(size=(N_STATES, N_ACTIONS, N_STATES))
    model = BehaviouralModel("mce", 0.5, 0.8)
    policy = behaviour_policy(model, transition, reward)
    occupancy = discounted_occupancy(transition, initial, 0.8, policy)
    result = mce_irl(transition, initial, occupancy, model, reward_class="state_action")
    np.testing.assert_allclose(result.policy, policy, atol=1e-5)
    assert starc_distance(result.reward, reward, transition, 0.8) < 1e-4


def test_linear_features_recover_the_weights(small_mdp):
    _, transition, initial, _, _ = small_mdp
    features = np.random.default_rng(2).normal(size=(N_STATES, 2))
    weights = np.array([1.5, -0.7])
    reward = np.broadcast_to((features @ weights)[:, None, None], (N_STATES, N_ACTIONS, N_STATES))
    model = BehaviouralModel("mce", 1.0, 0.9)
    occupancy = discounted_occupancy(
        transition, initial, 0.9, behaviour_policy(model, transition, reward)
    )
    result = mce_irl(
        transition, initial, occupancy, model, reward_class="features", features=features
    )
    np.testing.assert_allclose(result.parameters, weights, atol=1e-4)


def test_sampled_demonstrations_converge_to_the_demonstrator(small_mdp):
    _, transition, initial, _, reward = small_mdp
    model = BehaviouralModel("mce", 1.0, 0.9)
    policy = behaviour_policy(model, transition, reward)
    errors = []
    for seed, n_trajectories in ((3, 500), (4, 8000)):
        rng = np.random.default_rng(seed)
        states, actions = sample_trajectories(rng, transition, initial, policy, n_trajectories, 150)
        occupancy = demonstration_occupancy(states, actions, N_STATES, N_ACTIONS, 0.9)
        np.testing.assert_allclose(occupancy.sum(), (1 - 0.9**150) / 0.1)
        result = mce_irl(transition, initial, occupancy, model, l2_penalty=1e-4)
        assert result.feature_gap < 1e-6  # the fitted model matches the empirical occupancy
        errors.append(policy_distance(result.policy, policy))
    # Sampling error is O(1 / sqrt(n)): 16x the data should cut it about 4x; require 2x.
    assert errors[1] < errors[0] / 2
    assert errors[1] < 0.05


def test_wrong_discount_gives_a_wrong_state_only_reward(small_mdp):
    _, transition, initial, _, reward = small_mdp
    policy = behaviour_policy(BehaviouralModel("mce", 1.0, 0.9), transition, reward)
    assumed = BehaviouralModel("mce", 1.0, 0.5)
    occupancy = discounted_occupancy(transition, initial, 0.5, policy)
    result = mce_irl(transition, initial, occupancy, assumed)
    assert starc_distance(result.reward, reward, transition, 0.9) > 1e-3


def test_bad_inputs_are_refused(small_mdp):
    _, transition, initial, _, _ = small_mdp
    occupancy = np.ones((N_STATES, N_ACTIONS))
    with pytest.raises(ValueError, match="needs an 'mce' model"):
        mce_irl(transition, initial, occupancy, BehaviouralModel("boltzmann"))
    with pytest.raises(ValueError, match="occupancy must have shape"):
        mce_irl(transition, initial, occupancy[:2], BehaviouralModel("mce"))
    with pytest.raises(ValueError, match="features must be given"):
        reward_features(N_STATES, N_ACTIONS, "features")
    with pytest.raises(ValueError, match="reward_class must be one of"):
        reward_features(N_STATES, N_ACTIONS, "pixels")
