"""System 3 kernels: LIS, progress recognizer, discount mapping, OT proxy reward."""

from __future__ import annotations

import itertools

import numpy as np
import ot
import pytest
from scipy.spatial.distance import cdist

from seqrl.mechanisms.ads_discount_scheduling import (
    DiscountParams,
    ProgressParams,
    agent_statistic,
    discount_from_progress,
    linear_discount,
    longest_increasing_subsequence_length,
    match_scores,
    nearest_frame_indices,
    recognizer_margin,
    reference_scores,
    update_progress,
)
from seqrl.mechanisms.ads_ot_reward import (
    FeatureStandardizer,
    OTRewardParams,
    best_demo_rewards,
    cost_matrices,
    ot_rewards,
    reward_scale,
    transport_plans,
)


def brute_force_lis(sequence: list[int]) -> int:
    """Longest strictly increasing subsequence by enumerating every subsequence."""
    for length in range(len(sequence), 0, -1):
        for combo in itertools.combinations(sequence, length):
            if all(a < b for a, b in itertools.pairwise(combo)):
                return length
    return 0


# ---------------------------------------------------------------- LIS


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [
        ([3, 1, 2, 5, 4], 3),
        ([1, 1, 1], 1),
        ([0, 1, 2, 3], 4),
        ([5, 4, 3], 1),
        ([2, 2, 3], 2),
        ([7], 1),
    ],
)
def test_lis_hand_worked_cases(sequence: list[int], expected: int) -> None:
    assert longest_increasing_subsequence_length(np.array(sequence)) == expected


def test_lis_batched_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    sequences = rng.integers(0, 6, size=(4, 5, 8))
    lengths = longest_increasing_subsequence_length(sequences)
    assert lengths.shape == (4, 5)
    for index in np.ndindex(4, 5):
        assert lengths[index] == brute_force_lis(sequences[index].tolist())


# ---------------------------------------------------------------- progress recognizer


def line_frames(indices: list[int]) -> np.ndarray:
    """Frames on a line: frame k is the point (k, 0); Euclidean costs are |i - j|."""
    return np.array([[float(k), 0.0] for k in indices])


def test_nearest_frame_indices_restricts_to_progress_block() -> None:
    costs = np.array([[0.5, 0.9, 0.1], [0.2, 0.1, 0.0], [0.3, 0.4, 0.9]])
    # p = 2 looks at the 2 x 2 block only: row 0 -> 0, row 1 -> 1.
    np.testing.assert_array_equal(nearest_frame_indices(costs, 2), [0, 1])
    np.testing.assert_array_equal(nearest_frame_indices(costs, 3), [2, 2, 0])
    assert match_scores(costs, 3) == 1
    assert match_scores(costs, 2) == 2


def test_reference_scores_identical_and_reversed_demos() -> None:
    demo = line_frames(list(range(6)))
    demos = np.stack([demo, demo])
    costs = cost_matrices(demos[:, None], demos[None, :], "euclidean")
    np.testing.assert_array_equal(reference_scores(costs), np.arange(1, 7))
    # A reversed demo matches every frame to the block's last frame: score 1 for every k,
    # in both directions; the median over the 2 ordered pairs is 1.
    reversed_demos = np.stack([demo, demo[::-1]])
    costs = cost_matrices(reversed_demos[:, None], reversed_demos[None, :], "euclidean")
    np.testing.assert_array_equal(reference_scores(costs), np.ones(6))


def test_reference_scores_need_two_demos() -> None:
    with pytest.raises(ValueError, match="need >= 2 demos, got 1"):
        reference_scores(np.zeros((1, 1, 4, 4)))


def test_agent_statistic_percentile_of_scores() -> None:
    horizon = 10
    demo = line_frames(list(range(horizon)))
    # Rollout m copies demo frames 0..m-1 then stays at frame m-1: score m at p = T.
    rollouts = np.stack(
        [line_frames(list(range(m)) + [m - 1] * (horizon - m)) for m in range(1, horizon + 1)]
    )
    costs = cost_matrices(rollouts, demo, "euclidean")
    np.testing.assert_array_equal(match_scores(costs, horizon), np.arange(1, horizon + 1))
    # numpy's linear interpolation: 90th percentile of 1..10 is 1 + 0.9 * 9 = 9.1.
    assert agent_statistic(costs, horizon, 90.0) == pytest.approx(9.1)


def stalled_rollout_costs(horizon: int, matched: int) -> np.ndarray:
    """Costs of a rollout that follows the demo for ``matched`` frames and then stops."""
    demo = line_frames(list(range(horizon)))
    rollout = line_frames(list(range(matched)) + [matched - 1] * (horizon - matched))
    return cost_matrices(rollout[None], demo, "euclidean")


def test_update_progress_hand_worked() -> None:
    horizon = 20
    params = ProgressParams(horizon=horizon)
    reference = np.arange(1, horizon + 1, dtype=float)  # R_k = k
    costs = stalled_rollout_costs(horizon, matched=7)  # S_p = min(p, 7)
    # p=5: 5 >= floor(4.5)=4 -> 6: 6 >= 5 -> 7: 7 >= 6 -> 8: 7 >= 7 -> 9: 7 < floor(8.1)=8, stop.
    assert update_progress(5, costs, reference, params) == 9
    # At most 5 increments per update: 2 -> 7 although the rule would allow 9.
    assert update_progress(2, costs, reference, params) == 7
    # Never above the horizon, never below the current value.
    perfect = stalled_rollout_costs(horizon, matched=horizon)
    assert update_progress(horizon - 1, perfect, reference, params) == horizon
    assert update_progress(horizon, perfect, reference, params) == horizon
    hopeless = stalled_rollout_costs(horizon, matched=1)
    assert update_progress(12, hopeless, reference, params) == 12


def test_recognizer_margin_hand_worked_and_where_progress_stops() -> None:
    horizon = 20
    params = ProgressParams(horizon=horizon)
    reference = np.arange(1, horizon + 1, dtype=float)  # R_k = k
    costs = stalled_rollout_costs(horizon, matched=7)  # S_p = min(p, 7)
    assert recognizer_margin(5, costs, reference, params) == 5 - 4  # floor(0.9 * 5) = 4
    assert recognizer_margin(8, costs, reference, params) == 7 - 7
    assert recognizer_margin(9, costs, reference, params) == 7 - 8  # floor(8.1) = 8
    assert recognizer_margin(horizon, costs, reference, params) == 7 - 18
    # The update stops at the first p with a negative margin (5 -> 9 above).
    assert recognizer_margin(update_progress(5, costs, reference, params), costs, reference,
                             params) < 0  # fmt: skip


def test_update_progress_threshold_and_increment_limit() -> None:
    horizon = 20
    reference = np.arange(1, horizon + 1, dtype=float)
    costs = stalled_rollout_costs(horizon, matched=7)
    # lambda = 0.5: S_p = 7 >= floor(0.5 p) up to p = 15, so p stops at 16 with enough increments.
    loose = ProgressParams(horizon=horizon, threshold=0.5, max_increments=100)
    assert update_progress(3, costs, reference, loose) == 16
    frozen = ProgressParams(horizon=horizon, max_increments=0)
    assert update_progress(3, costs, reference, frozen) == 3


def test_progress_params_validation_and_initial_progress() -> None:
    assert ProgressParams(horizon=88).initial_progress == 17
    assert ProgressParams(horizon=3).initial_progress == 1
    with pytest.raises(ValueError, match="threshold must be in"):
        ProgressParams(horizon=10, threshold=1.5)
    with pytest.raises(ValueError, match="horizon must be >= 1, got 0"):
        ProgressParams(horizon=0)
    with pytest.raises(ValueError, match="progress must be in"):
        update_progress(0, np.zeros((1, 3, 3)), np.ones(3), ProgressParams(horizon=3))


# ---------------------------------------------------------------- discount mapping


def test_discount_mapping_matches_paper_values() -> None:
    params = DiscountParams(alpha=0.2)
    # T = 88: gamma0 = 0.2^(1/17) = 0.910 and gamma_max = 0.2^(1/88) = 0.982 (paper note).
    assert float(discount_from_progress(17, params)) == pytest.approx(0.9097, abs=1e-4)
    assert float(discount_from_progress(88, params)) == pytest.approx(0.98188, abs=1e-5)
    progress = np.arange(1, 50)
    gamma = discount_from_progress(progress, params)
    np.testing.assert_allclose(gamma**progress, 0.2)
    assert np.all(np.diff(gamma) > 0)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.5, 2.0])
def test_discount_alpha_outside_unit_interval_rejected(alpha: float) -> None:
    with pytest.raises(ValueError, match=rf"alpha must be in \(0, 1\), got {alpha}"):
        DiscountParams(alpha=alpha)


def test_linear_discount() -> None:
    values = linear_discount(np.array([0, 50, 100, 200]), 100, 0.9, 0.98)
    np.testing.assert_allclose(values, [0.9, 0.94, 0.98, 0.98])


# ---------------------------------------------------------------- OT reward


def test_cost_matrices_match_scipy() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(3, 7, 4)), rng.normal(size=(3, 5, 4))
    cosine = cost_matrices(x, y, "cosine")
    euclidean = cost_matrices(x, y, "euclidean")
    for b in range(3):
        np.testing.assert_allclose(cosine[b], cdist(x[b], y[b], "cosine"), atol=1e-12)
        np.testing.assert_allclose(euclidean[b], cdist(x[b], y[b], "euclidean"), atol=1e-9)


def test_transport_plans_match_direct_pot_sinkhorn() -> None:
    rng = np.random.default_rng(2)
    costs = cost_matrices(rng.normal(size=(4, 6, 3)), rng.normal(size=(4, 8, 3)), "cosine")
    params = OTRewardParams(regularization=0.05, iterations=3000)
    plans = transport_plans(costs, params)
    for b in range(4):
        direct = ot.sinkhorn(
            np.full(6, 1 / 6), np.full(8, 1 / 8), costs[b], 0.05, numItermax=3000, stopThr=1e-14
        )
        np.testing.assert_allclose(plans[b], direct, atol=1e-8)
    np.testing.assert_allclose(ot_rewards(costs, params), -np.sum(plans * costs, axis=-1))


def test_known_transport_plans() -> None:
    params = OTRewardParams(cost="euclidean", iterations=1000)
    demo = line_frames([0, 1, 2, 3])
    # Identical trajectories in a shuffled order: the plan is the permutation / T, reward 0.
    agent = demo[[2, 0, 3, 1]]
    costs = cost_matrices(agent[None], demo[None], "euclidean")
    plan = transport_plans(costs, params)[0]
    np.testing.assert_allclose(plan, np.eye(4)[[2, 0, 3, 1]] / 4, atol=1e-6)
    np.testing.assert_allclose(ot_rewards(costs, params)[0], 0.0, atol=1e-6)
    # Shifted by one along the line: W1 = 1 (every unit of mass moves 1 on average), so the
    # rewards sum to -1; the W1 plan is not unique, so single rows are not pinned down.
    shifted = line_frames([1, 2, 3, 4])
    costs = cost_matrices(shifted[None], demo[None], "euclidean")
    assert ot_rewards(costs, params)[0].sum() == pytest.approx(-1.0, abs=1e-6)


def test_best_of_n_demos_and_scale() -> None:
    params = OTRewardParams(cost="euclidean", iterations=1000)
    agent = line_frames([0, 1, 2, 3])
    demos = np.stack(
        [line_frames([3, 4, 5, 6]), line_frames([0, 1, 2, 3]), line_frames([1, 2, 3, 4])]
    )
    costs = cost_matrices(agent[None], demos, "euclidean")
    rewards, best = best_demo_rewards(costs, params)
    assert best == 1
    np.testing.assert_allclose(rewards, 0.0, atol=1e-6)
    assert reward_scale(np.array([-1.0, -2.0, -2.0]), 10.0) == pytest.approx(2.0)
    assert reward_scale(np.zeros(3), 10.0) == 1.0


def test_standardizer_and_params_validation() -> None:
    rng = np.random.default_rng(3)
    frames = rng.normal(3.0, 2.0, size=(5, 20, 4))
    frames[..., 3] = 1.0
    standardizer = FeatureStandardizer.fit(frames)
    standardised = standardizer(frames).reshape(-1, 4)
    np.testing.assert_allclose(standardised[:, :3].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(standardised[:, :3].std(axis=0), 1.0)
    np.testing.assert_allclose(standardised[:, 3], 0.0)
    with pytest.raises(ValueError, match="cost must be one of cosine, euclidean, got 'l1'"):
        OTRewardParams(cost="l1")
    with pytest.raises(ValueError, match="regularization must be > 0, got 0"):
        OTRewardParams(regularization=0)


@pytest.mark.parametrize("iterations", [1, 2, 7, 100])
@pytest.mark.parametrize("absorb_every", [None, 1, 3])
def test_underflowing_kernels_match_pot_log_sinkhorn_iteration_for_iteration(
    iterations, absorb_every, monkeypatch
) -> None:
    # exp(-C / reg) underflows: the plain updates alone would divide by zero, so the solver must
    # absorb into log potentials and still make POT's log-domain iterates. Forcing absorptions
    # at every (or every third) half-step checks the absorption's algebra wherever it happens,
    # with the other scaling away from 1.
    from ot.batch import solve_batch

    from seqrl.mechanisms import ads_ot_reward

    if absorb_every is not None:
        checks, in_range = itertools.count(1), ads_ot_reward._in_range
        monkeypatch.setattr(
            ads_ot_reward, "_in_range",
            lambda scaling: next(checks) % absorb_every != 0 and in_range(scaling),
        )  # fmt: skip
    rng = np.random.default_rng(4)
    costs = cost_matrices(rng.normal(size=(3, 9, 6)), rng.normal(size=(3, 7, 6)), "euclidean") * 5
    params = OTRewardParams(cost="euclidean", regularization=0.01, iterations=iterations)
    assert (np.exp(-costs / params.regularization) == 0).any()
    plans = transport_plans(costs, params)
    reference = solve_batch(
        costs, 0.01, max_iter=iterations, tol=0.0, method="log_sinkhorn"
    ).plan  # fmt: skip
    np.testing.assert_allclose(plans, reference, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(plans.sum(axis=-2), 1 / 7, rtol=1e-9)  # after a column update


@pytest.mark.parametrize("iterations", [1, 5, 100])
def test_plans_do_not_change_when_a_row_of_costs_is_shifted(iterations) -> None:
    # From f = g = 1, a row update absorbs C_ij + r_i exactly (u_i moves by r_i / reg), so every
    # iterate's plan is unchanged. Shifts of 20 / reg = 2000 make every kernel entry underflow.
    rng = np.random.default_rng(6)
    costs = cost_matrices(rng.normal(size=(4, 24, 6)), rng.normal(size=(4, 24, 6)), "euclidean")
    params = OTRewardParams(cost="euclidean", regularization=0.01, iterations=iterations)
    shifts = rng.uniform(0.0, 20.0, size=(4, 24, 1))
    assert (np.exp(-(costs + shifts) / params.regularization) == 0).all(axis=-1).any()
    np.testing.assert_allclose(
        transport_plans(costs + shifts, params), transport_plans(costs, params), rtol=1e-9,
        atol=1e-15,
    )  # fmt: skip


@pytest.mark.parametrize("iterations", [1, 7, 100])
def test_plain_path_matches_pot_batched_sinkhorn_iteration_for_iteration(iterations) -> None:
    """Fixed iteration counts (not converged): the same updates as POT, not just the same limit."""
    from ot.batch import solve_batch

    rng = np.random.default_rng(5)
    costs = cost_matrices(rng.normal(size=(20, 24, 3)), rng.normal(size=(20, 24, 3)), "euclidean")
    params = OTRewardParams(cost="euclidean", regularization=0.05, iterations=iterations)
    # POT's plain updates run as they are: no scaling leaves the solver's range
    assert np.exp(-costs / params.regularization).min() > 1e-100
    plans = transport_plans(costs, params)
    reference = solve_batch(costs, 0.05, max_iter=iterations, tol=0.0, method="sinkhorn").plan
    np.testing.assert_allclose(plans, reference, rtol=1e-10, atol=1e-15)
