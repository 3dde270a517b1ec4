"""TabularMDP validation, random dynamics, exact policy evaluation and occupancies."""

import numpy as np
import pytest

from seqrl.mechanisms.irl_mdp import (
    TabularMDP,
    discounted_occupancy,
    mix_transitions,
    policy_distance,
    policy_evaluation,
    random_transition,
    sample_trajectories,
)


def _uniform_mdp(n_states=3, n_actions=2):
    transition = np.full((n_states, n_actions, n_states), 1.0 / n_states)
    return transition, np.zeros_like(transition), np.full(n_states, 1.0 / n_states)


def test_valid_mdp_is_frozen_and_read_only():
    transition, reward, initial = _uniform_mdp()
    mdp = TabularMDP(transition, reward, initial, 0.9)
    assert (mdp.n_states, mdp.n_actions) == (3, 2)
    with pytest.raises(ValueError):
        mdp.transition[0, 0, 0] = 1.0
    transition[0, 0, 0] = 5.0  # the MDP keeps its own copy
    assert mdp.transition[0, 0, 0] == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t, r, i: (t * 0.9, r, i), "transition rows must sum to 1"),
        (lambda t, r, i: (t - 0.5, r, i), "transition must be non-negative"),
        (lambda t, r, i: (t, r[:, :, :2], i), "reward shape"),
        (lambda t, r, i: (t[:, :, :2], r, i), r"transition must have shape \[\.\.\., S, A, S\]"),
        (lambda t, r, i: (t, r, i[:2]), "initial_distribution shape"),
        (lambda t, r, i: (t, r, i * 2), "initial_distribution must sum to 1"),
        (lambda t, r, i: (t, r * np.nan, i), "reward must be finite"),
    ],
)
def test_bad_tensors_are_refused_naming_the_parameter(change, message):
    with pytest.raises(ValueError, match=message):
        TabularMDP(*change(*_uniform_mdp()), 0.9)


@pytest.mark.parametrize("discount", [1.0, -0.1, 1.5])
def test_discount_outside_unit_interval_is_refused(discount):
    with pytest.raises(ValueError, match=r"discount must be in \[0, 1\)"):
        TabularMDP(*_uniform_mdp(), discount)


def test_random_transition_rows_are_distributions_with_branching():
    rng = np.random.default_rng(0)
    transition = random_transition(rng, 10, 3, branching=2, batch_shape=(4,))
    assert transition.shape == (4, 10, 3, 10)
    np.testing.assert_allclose(transition.sum(-1), 1.0)
    assert np.all((transition > 1e-200).sum(-1) == 2)
    with pytest.raises(ValueError, match="branching"):
        random_transition(rng, 10, 3, branching=11)


def test_random_transition_rows_have_dirichlet_mean():
    # Dirichlet(c) rows have mean 1/S per entry; check the grand mean per next state within 4 SE.
    rng = np.random.default_rng(1)
    transition = random_transition(rng, 5, 2, concentration=0.5, batch_shape=(2000,))
    entries = transition.reshape(-1, 5)
    standard_error = entries.std(axis=0) / np.sqrt(len(entries))
    assert np.all(np.abs(entries.mean(axis=0) - 0.2) < 4 * standard_error)


def test_mixed_transitions_stay_distributions_within_l1_bound():
    rng = np.random.default_rng(2)
    first, second = random_transition(rng, 6, 2), random_transition(rng, 6, 2)
    mixed = mix_transitions(first, second, 0.1)
    np.testing.assert_allclose(mixed.sum(-1), 1.0)
    assert np.abs(mixed - first).sum(-1).max() <= 0.2 + 1e-12


def test_policy_evaluation_matches_long_truncated_series():
    rng = np.random.default_rng(3)
    transition = random_transition(rng, 5, 3)
    reward = rng.normal(size=transition.shape)
    policy = rng.dirichlet(np.ones(3), size=5)
    values, q_values = policy_evaluation(transition, reward, 0.8, policy)
    # Independent: sum_t gamma^t P_pi^t r_pi by explicit loops.
    step_matrix = np.array(
        [
            [sum(policy[s, a] * transition[s, a, t] for a in range(3)) for t in range(5)]
            for s in range(5)
        ]
    )
    reward_pi = np.array(
        [sum(policy[s, a] * transition[s, a] @ reward[s, a] for a in range(3)) for s in range(5)]
    )
    series, power = np.zeros(5), np.eye(5)
    for t in range(400):
        series += 0.8**t * power @ reward_pi
        power = power @ step_matrix
    np.testing.assert_allclose(values, series, atol=1e-10)
    np.testing.assert_allclose((policy * q_values).sum(-1), values, atol=1e-10)


def test_occupancy_mass_and_against_sampled_trajectories():
    rng = np.random.default_rng(4)
    transition = random_transition(rng, 4, 2)
    policy = rng.dirichlet(np.ones(2), size=4)
    initial = np.array([0.4, 0.3, 0.2, 0.1])
    occupancy = discounted_occupancy(transition, initial, 0.7, policy)
    assert occupancy.sum() == pytest.approx(1 / 0.3)
    states, actions = sample_trajectories(rng, transition, initial, policy, 20_000, 60)
    weights = 0.7 ** np.arange(60)
    per_trajectory = np.zeros((20_000, 8))
    for step in range(60):
        np.add.at(
            per_trajectory,
            (np.arange(20_000), states[:, step] * 2 + actions[:, step]),
            weights[step],
        )
    estimate = per_trajectory.mean(axis=0)
    standard_error = per_trajectory.std(axis=0) / np.sqrt(20_000)
    assert np.all(np.abs(estimate - occupancy.ravel()) < 4 * standard_error + 1e-9)


def test_policy_distance_is_max_total_variation():
    first = np.array([[1.0, 0.0], [0.5, 0.5]])
    second = np.array([[0.8, 0.2], [0.5, 0.5]])
    assert policy_distance(first, second) == pytest.approx(0.2)
