"""Trajectory metrics on hand-built trajectories with known answers."""

import math

import numpy as np
import pytest

from seqrl.mechanisms.vad_affect import AffectDynamicsParams, simulate_dynamics
from seqrl.mechanisms.vad_metrics import (
    hysteresis,
    overshoot,
    perturbation_direction,
    recovery,
    response_latency,
    smoothness,
    trajectory_metrics,
)

NEUTRAL, HOSTILE, RECONCILE = [0.0] * 5, [-0.8] * 10, [0.8] * 10
STEP_INPUT = np.array(NEUTRAL + HOSTILE + RECONCILE)


def test_stateless_trajectory_has_no_lag_no_hysteresis_no_overshoot():
    metrics = trajectory_metrics(STEP_INPUT, STEP_INPUT, 0.0, 6, 16)
    assert metrics["response_latency"] == 0
    assert metrics["hysteresis"] == 0
    assert metrics["overshoot"] == 0
    assert metrics["recovered"] and metrics["recovery_turn"] == 16
    # |diff| is 0.8 at turn 6 and 1.6 at turn 16, over 24 differences.
    assert metrics["smoothness"] == pytest.approx(2.4 / 24)


def test_latency_counts_turns_from_onset_to_threshold():
    states = np.array(NEUTRAL + [-0.1, -0.15, -0.25, -0.5] + [-0.6] * 6 + [0.0] * 10)
    assert response_latency(states, 0.0, -1.0, 6, 0.2) == 2
    never = np.array(NEUTRAL + [-0.1] * 20)
    assert math.isnan(response_latency(never, 0.0, -1.0, 6, 0.2))


def test_recovery_needs_the_state_to_stay_back():
    tail = [-0.5, -0.3, -0.05, 0.0, 0.02, -0.15, 0.0, 0.0, 0.0, 0.0]
    states = np.array(NEUTRAL + [-0.6] * 10 + tail)
    recovered, turn = recovery(states, 0.0, -1.0, 16, 0.1)
    assert recovered and turn == 22  # turn 21 (-0.15) is the last one out
    stuck = np.array(NEUTRAL + [-0.6] * 19 + [-0.2])
    recovered, turn = recovery(stuck, 0.0, -1.0, 16, 0.1)
    assert not recovered and turn == 25  # censored at the last turn
    overshooting = np.array(NEUTRAL + [-0.6] * 10 + [0.9] * 10)
    assert recovery(overshooting, 0.0, -1.0, 16, 0.1) == (True, 16)


def test_recovery_is_measured_against_the_baseline_and_direction():
    baseline = 0.3
    states = np.array([baseline] * 5 + [0.9] * 10 + [0.5, 0.45, 0.35] + [0.3] * 7)
    direction = perturbation_direction(states, 6, 16)
    assert direction == 1.0
    recovered, turn = recovery(states, baseline, direction, 16, 0.1)
    assert recovered and turn == 18


def test_metrics_are_batched_over_leading_axes():
    rng = np.random.default_rng(2)
    states = rng.uniform(-1, 1, size=(4, 25))
    estimates = rng.uniform(-1, 1, size=(4, 25))
    batched = recovery(states, np.zeros(4), -np.ones(4), 16, 0.3)
    for row in range(4):
        single = recovery(states[row], 0.0, -1.0, 16, 0.3)
        assert (batched[0][row], batched[1][row]) == single
    np.testing.assert_allclose(
        hysteresis(states, estimates, 6),
        [np.abs(states[r, 5:] - estimates[r, 5:]).mean() for r in range(4)],
    )


def test_smoothness_is_the_mean_absolute_step():
    assert smoothness(np.array([0.0, 1.0, 0.0, 1.0])) == 1.0
    assert smoothness(np.full(10, 0.3)) == 0.0


def test_overshoot_on_a_hand_built_trajectory():
    assert overshoot(np.array([0.0, 0.0, -0.5, -1.2]), np.array([0.0, 0.0, -1.0, -1.0]), 0.0) == (
        pytest.approx(0.2)
    )


def test_first_order_never_overshoots():
    estimates = np.random.default_rng(3).uniform(-1, 1, size=(40, 6, 3))
    states = simulate_dynamics(estimates, AffectDynamicsParams(alpha=0.4))
    values = overshoot(np.moveaxis(states, 0, -1), np.moveaxis(estimates, 0, -1), np.zeros((6, 3)))
    np.testing.assert_array_equal(values, 0.0)


def test_second_order_overshoot_matches_the_closed_form_peak():
    # Step x = -0.5 from s_0 = 0: e_t = s_t - x = r^t (A cos(theta t) + B sin(theta t)) with
    # e_0 = 0.5, e_1 = (1 - eta) e_0; the overshoot is max_t (-e_t).
    mu, eta, x = 0.9, 0.1, -0.5
    r = math.sqrt(mu)
    theta = math.acos((1 + mu - eta) / (2 * r))
    a = -x
    b = ((1 - eta) * a / r - a * math.cos(theta)) / math.sin(theta)
    turns = np.arange(1, 200)
    error = r**turns * (a * np.cos(theta * turns) + b * np.sin(theta * turns))
    params = AffectDynamicsParams(condition="second-order", mu=mu, eta=eta)
    states = simulate_dynamics(np.full((199, 1), x), params, initial_state=np.zeros(1))[:, 0]
    assert overshoot(states, np.full(199, x), 0.0) == pytest.approx(max(0.0, (-error).max()))
    assert (-error).max() > 0.1
