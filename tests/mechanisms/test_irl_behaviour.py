"""Behavioural models against independent solvers and the paper's identities."""

import numpy as np
import pytest
from scipy.special import logsumexp

from seqrl.mechanisms.irl_behaviour import (
    BehaviouralModel,
    ConvergenceError,
    behaviour_policy,
    perturb_policy,
    policy_iteration,
    regret,
    value_iteration,
)
from seqrl.mechanisms.irl_mdp import policy_distance, random_transition


@pytest.fixture(scope="module")
def mdp():
    rng = np.random.default_rng(0)
    transition = random_transition(rng, 6, 3)
    rewards = rng.normal(size=(4, 6, 3, 6))
    return transition, rewards


def test_value_iteration_matches_policy_iteration(mdp):
    transition, rewards = mdp
    values, q_values = value_iteration(transition, rewards, 0.9, tolerance=1e-11)
    exact_values, exact_q = policy_iteration(transition, rewards, 0.9)
    np.testing.assert_allclose(values, exact_values, atol=1e-10)
    np.testing.assert_allclose(q_values, exact_q, atol=1e-10)


@pytest.mark.parametrize("temperature", [0.3, 1.0, 4.0])
def test_soft_value_iteration_matches_long_finite_horizon_recursion(mdp, temperature):
    transition, rewards = mdp
    reward = rewards[0]
    values, q_values = value_iteration(
        transition, reward, 0.9, temperature=temperature, tolerance=1e-11
    )
    # Independent: backward soft Bellman recursion over a horizon of 500 steps, state by state.
    horizon_values = np.zeros(6)
    for _ in range(500):
        q = np.array(
            [
                [transition[s, a] @ (reward[s, a] + 0.9 * horizon_values) for a in range(3)]
                for s in range(6)
            ]
        )
        horizon_values = temperature * logsumexp(q / temperature, axis=1)
    np.testing.assert_allclose(values, horizon_values, atol=1e-9)
    np.testing.assert_allclose(q_values, q, atol=1e-9)


def test_batched_solve_equals_single_solves(mdp):
    transition, rewards = mdp
    model = BehaviouralModel("mce", 0.5, 0.8)
    batched = behaviour_policy(model, transition, rewards)
    for index in range(len(rewards)):
        np.testing.assert_allclose(
            batched[index], behaviour_policy(model, transition, rewards[index]), atol=1e-12
        )


def test_iteration_cap_raises_a_clear_error(mdp):
    transition, rewards = mdp
    with pytest.raises(ConvergenceError, match="did not converge.*raise max_iterations"):
        value_iteration(transition, rewards, 0.99, tolerance=1e-12, max_iterations=10)


def test_temperature_is_a_reward_scale(mdp):
    transition, rewards = mdp
    boltzmann = behaviour_policy(BehaviouralModel("boltzmann", 3.0, 0.9), transition, rewards)
    scaled = behaviour_policy(BehaviouralModel("boltzmann", 1.0, 0.9), transition, 3.0 * rewards)
    np.testing.assert_allclose(boltzmann, scaled, atol=1e-9)
    entropic = behaviour_policy(BehaviouralModel("mce", 2.0, 0.9), transition, rewards)
    scaled = behaviour_policy(BehaviouralModel("mce", 1.0, 0.9), transition, rewards / 2.0)
    np.testing.assert_allclose(entropic, scaled, atol=1e-9)


def test_boltzmann_tends_to_optimal_and_optimal_splits_ties():
    transition = np.full((2, 3, 2), 0.5)
    reward = np.zeros((2, 3, 2))
    reward[:, 0] = 1.0
    reward[:, 1] = 1.0
    optimal = behaviour_policy(BehaviouralModel("optimal", 1.0, 0.9), transition, reward)
    np.testing.assert_allclose(optimal, [[0.5, 0.5, 0.0]] * 2)
    sharp = behaviour_policy(BehaviouralModel("boltzmann", 200.0, 0.9), transition, reward)
    np.testing.assert_allclose(sharp, optimal, atol=1e-12)


def test_mce_policy_is_normalised_and_differs_from_boltzmann(mdp):
    transition, rewards = mdp
    mce = behaviour_policy(BehaviouralModel("mce", 1.0, 0.9), transition, rewards)
    boltzmann = behaviour_policy(BehaviouralModel("boltzmann", 1.0, 0.9), transition, rewards)
    np.testing.assert_allclose(mce.sum(-1), 1.0)
    assert policy_distance(mce, boltzmann).min() > 1e-3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "greedy"}, "kind must be one of"),
        ({"temperature": 0.0}, "temperature must be > 0, got 0.0"),
        ({"temperature": -1.0}, "temperature must be > 0"),
        ({"discount": 1.0}, r"discount must be in \[0, 1\), got 1.0"),
    ],
)
def test_bad_model_parameters_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BehaviouralModel(**kwargs)


def test_regret_is_zero_for_optimal_and_one_for_worst_policy(mdp):
    transition, rewards = mdp
    initial = np.full(6, 1 / 6)
    _, q_values = policy_iteration(transition, rewards, 0.9)
    best = np.eye(3)[q_values.argmax(-1)]
    _, worst_q = policy_iteration(transition, -rewards, 0.9)
    worst = np.eye(3)[worst_q.argmax(-1)]
    np.testing.assert_allclose(regret(transition, rewards, initial, 0.9, best), 0.0, atol=1e-10)
    np.testing.assert_allclose(regret(transition, rewards, initial, 0.9, worst), 1.0, atol=1e-10)
    uniform = np.full((4, 6, 3), 1 / 3)
    assert np.all(
        (regret(transition, rewards, initial, 0.9, uniform) > 0.05)
        & (regret(transition, rewards, initial, 0.9, uniform) < 0.95)
    )


def test_perturb_policy_moves_exactly_delta(mdp):
    transition, rewards = mdp
    policy = behaviour_policy(BehaviouralModel("boltzmann", 1.0, 0.9), transition, rewards)
    perturbed = perturb_policy(policy, 0.05, np.random.default_rng(1))
    np.testing.assert_allclose(policy_distance(policy, perturbed), 0.05)
    np.testing.assert_allclose(perturbed.sum(-1), 1.0)
