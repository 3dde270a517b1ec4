"""Private sequential learning: the vectorized engine against closed forms, Bellman and calibration."""

import math
import threading

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit

from seqrl.agents.dp_bayesian_learner import BayesianLearner, BayesianPolicy
from seqrl.agents.dp_engine import (
    _run_blocks,
    log_checkpoints,
    simulate_first_correct,
    simulate_hitting_times,
    simulate_sequences,
)
from seqrl.mechanisms.dp_privacy import (
    HeterogeneousBudget,
    RandomizedResponse,
    SmoothedRandomizedResponse,
    make_mechanism,
)
from seqrl.mechanisms.dp_sequential import BinaryCascadeClosedForm
from seqrl.mechanisms.dp_signals import BinarySignal, GaussianSignal


def _binary(p, epsilon):
    return BayesianLearner(BinarySignal(p), make_mechanism("randomized_response", epsilon))


def _smoothed(epsilon, sigma=1.0, amplitude=0.5):
    return BayesianLearner(GaussianSignal(sigma), make_mechanism("smoothed", epsilon, amplitude))


@pytest.mark.parametrize(
    ("p", "epsilon", "seed"), [(0.7, math.inf, 1), (0.7, 1.0, 2), (0.55, 2.0, 3), (0.9, 0.5, 4)]
)
def test_binary_cascades_match_gamblers_ruin(p, epsilon, seed):
    closed = BinaryCascadeClosedForm(p, epsilon)
    n_agents = int(closed.expected_start * 20) + 50  # P(no cascade by then) is negligible
    summary = simulate_sequences(_binary(p, epsilon), n_agents, 6000, np.random.default_rng(seed))
    started = summary.cascade_start >= 0
    assert started.all()
    correct = summary.cascade_correct.mean()
    correct_se = math.sqrt(closed.probability_correct * (1 - closed.probability_correct) / 6000)
    assert abs(correct - closed.probability_correct) < 4 * correct_se
    start = summary.cascade_start
    assert abs(start.mean() - closed.expected_start) < 4 * start.std() / math.sqrt(start.size)
    # Inside the cascade the public LLR no longer moves.
    assert np.all(np.abs(summary.public_llr[-1]) > BinarySignal(p).private_llr_magnitude)


def test_correct_cascade_probability_drops_where_the_threshold_count_jumps():
    # Where the threshold count K drops by one as epsilon grows, P(correct) drops: take the largest
    # such drop on a grid and check that the simulation shows it too.
    grid = np.linspace(0.3, 5, 300)
    values = [BinaryCascadeClosedForm(0.7, e).probability_correct for e in grid]
    drop = int(np.argmin(np.diff(values)))
    low_eps, high_eps = grid[drop], grid[drop + 1]
    assert values[drop] > values[drop + 1] + 0.02
    rates = []
    for index, epsilon in enumerate((low_eps, high_eps)):
        summary = simulate_sequences(
            _binary(0.7, epsilon), 400, 8000, np.random.default_rng(10 + index)
        )
        rates.append(summary.cascade_correct.mean())
    standard_error = math.sqrt(0.25 / 8000 * 2)
    assert rates[0] - rates[1] > 0.02 - 4 * standard_error
    assert rates[0] > rates[1]


def test_first_agent_action_and_report_match_their_probabilities():
    sigma, epsilon = 1.3, 0.8
    learner = _smoothed(epsilon, sigma)
    runs = 40_000
    summary = simulate_sequences(learner, 1, runs, np.random.default_rng(5), checkpoints=[1, 2])
    wrong_action_rate = summary.wrong_actions.mean()
    expected_action = stats.norm.cdf(-1 / sigma)
    assert abs(wrong_action_rate - expected_action) < 4 * math.sqrt(expected_action / runs)
    # Report probability by direct Monte Carlo-free integration: P(x = -theta) at l = 0.
    signal = np.linspace(-12, 12, 200_001)
    density = stats.norm.pdf(signal, 1, sigma)
    flip = 0.5 * np.exp(-epsilon * np.abs(signal))
    expected_report = np.trapezoid(np.where(signal > 0, flip, 1 - flip) * density, signal)
    se = math.sqrt(expected_report * (1 - expected_report) / runs)
    assert abs(summary.wrong_reports.mean() - expected_report) < 4 * se


@pytest.mark.parametrize(
    "learner",
    [
        _binary(0.7, 1.0),
        _smoothed(0.5),
        _smoothed(math.inf),
        BayesianLearner(
            GaussianSignal(1.0),
            HeterogeneousBudget(SmoothedRandomizedResponse(1.0), "uniform", 0.0, 1.0),
        ),
        BayesianLearner(
            GaussianSignal(0.8),
            HeterogeneousBudget(RandomizedResponse(1.0), "two_point", 0.3, 3.0, observed=True),
        ),
    ],
    ids=["binary-rr", "smoothed", "none", "hidden-uniform", "observed-two-point"],
)
def test_public_llr_is_calibrated(learner):
    # If observers update correctly, P(theta = +1 | l_n) = expit(l_n) at every n.
    summary = simulate_sequences(learner, 6, 30_000, np.random.default_rng(7), checkpoints=[3, 7])
    llr = summary.public_llr.ravel()
    truth = np.tile(summary.theta > 0, 2)
    edges = np.quantile(llr, np.linspace(0, 1, 9))
    bins = np.clip(np.searchsorted(edges, llr, side="right") - 1, 0, 7)
    for index in range(8):
        members = bins == index
        if members.sum() < 200:
            continue
        predicted = expit(llr[members])
        observed = truth[members].mean()
        se = math.sqrt(max(predicted.mean() * (1 - predicted.mean()), 1e-3) / members.sum())
        assert abs(observed - predicted.mean()) < 4.5 * se


@pytest.mark.parametrize(
    ("epsilon", "bound", "backend"),
    [(1.0, 4.0, "numba"), (0.5, 3.0, "numba"), (math.inf, 4.0, "numba"), (1.0, 4.0, "numpy")],
)
def test_bellman_hitting_time_matches_monte_carlo(epsilon, bound, backend):
    learner = _smoothed(epsilon)
    times = simulate_hitting_times(
        learner, bound, 100_000, 4000, np.random.default_rng(8), backend=backend
    )
    assert (times > 0).all()
    bellman = learner.expected_hitting_time(bound, grid_points=2000)
    standard_error = times.std() / math.sqrt(times.size)
    assert abs(times.mean() - bellman) < 4 * standard_error + 0.005 * bellman


def test_streamed_hitting_times_match_the_bellman_value():
    learner = _smoothed(1.0)
    summary = simulate_sequences(learner, 300, 4000, np.random.default_rng(14), bound=4.0)
    times = summary.hitting_time
    assert (times > 0).all()
    bellman = learner.expected_hitting_time(4.0, grid_points=2000)
    assert abs(times.mean() - bellman) < 4 * times.std() / math.sqrt(times.size) + 0.005 * bellman


def test_bellman_needs_a_report_law_that_depends_on_the_public_llr_alone():
    seen = HeterogeneousBudget(SmoothedRandomizedResponse(1.0), "uniform", 0.5, 1.5, observed=True)
    with pytest.raises(ValueError, match="depends on l alone"):
        BayesianLearner(GaussianSignal(1.0), seen).expected_hitting_time(2.0)
    # Hidden budgets: the marginal law depends on l alone, and E[tau_B] falls between the
    # homogeneous values at the distribution's ends (a lower budget flips more, so learns slower).
    hidden = HeterogeneousBudget(SmoothedRandomizedResponse(1.0), "uniform", 0.5, 1.5)
    tau = BayesianLearner(GaussianSignal(1.0), hidden).expected_hitting_time(2.0, 400)
    slow, fast = (_smoothed(epsilon).expected_hitting_time(2.0, 400) for epsilon in (0.5, 1.5))
    assert fast < tau < slow


def test_summaries_do_not_grow_with_the_number_of_agents():
    summary = simulate_sequences(_smoothed(1.0), 3000, 3, np.random.default_rng(9))
    assert summary.public_llr.shape == (log_checkpoints(3000).size, 3)
    assert summary.trajectory is None
    assert summary.first_correct_action.shape == (3,)
    assert summary.checkpoints[0] == 1 and summary.checkpoints[-1] == 3001


def test_recorded_trajectory_matches_checkpoints_and_chunks_are_independent():
    summary = simulate_sequences(
        _binary(0.7, 1.0), 50, 30, np.random.default_rng(11), record_runs=25, chunk_runs=10
    )
    assert summary.trajectory.shape == (51, 25)
    np.testing.assert_array_equal(
        summary.trajectory[summary.checkpoints - 1], summary.public_llr[:, :25]
    )
    # Wrong actions before n recorded at checkpoints are non-decreasing and end at the total.
    assert np.all(np.diff(summary.wrong_actions_before, axis=0) >= 0)
    np.testing.assert_array_equal(summary.wrong_actions_before[-1], summary.wrong_actions)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_wrong_actions_before_are_int32_counts_on_every_backend(backend):
    summary = simulate_sequences(
        _binary(0.7, 1.0), 50, 30, np.random.default_rng(11), backend=backend
    )
    assert summary.wrong_actions_before.dtype == np.int32
    np.testing.assert_array_equal(summary.wrong_actions_before[-1], summary.wrong_actions)


@pytest.mark.slow
@pytest.mark.parametrize("epsilon", [0.5, 1.0])
def test_private_learning_grows_like_two_over_epsilon_log_n(epsilon):
    summary = simulate_sequences(_smoothed(epsilon), 20_000, 200, np.random.default_rng(12))
    slope_log, _ = summary.learning_speed(start=200)
    assert slope_log == pytest.approx(2 / epsilon, rel=0.12)


def test_bayesian_policy_reproduces_the_learner_action():
    model = GaussianSignal(1.0)
    policy = BayesianPolicy(model)
    observation = np.array([[0.0, 0.3], [2.0, -0.9], [-2.0, 0.9], [-0.5, 0.2]])
    actions, _ = policy.predict(observation)
    np.testing.assert_array_equal(actions, [1, 1, 0, 0])


@pytest.mark.slow
def test_million_agent_sequences_stream_their_summaries():
    summary = simulate_sequences(_binary(0.7, 1.0), 1_000_000, 4, np.random.default_rng(13))
    assert summary.public_llr.shape == (log_checkpoints(1_000_000).size, 4)
    assert (summary.cascade_start >= 0).all()
    # After the cascade every action copies it: agents n_c .. N are all right or all wrong.
    slot = int(np.searchsorted(summary.checkpoints, 1000))
    later = 1_000_000 - summary.checkpoints[slot] + 1
    assert (summary.cascade_start < summary.checkpoints[slot]).all()
    wrong_after = summary.wrong_actions - summary.wrong_actions_before[slot]
    assert np.all((wrong_after == 0) | (wrong_after == later))


# --------------------------------------------------------------------------------------------------
# Backends: the compiled (numba) loop, the numpy loop and torch agree; threads change nothing.

BACKEND_TYPES = {
    "binary-rr": _binary(0.7, 1.0),
    "binary-none": _binary(0.6, math.inf),
    "smoothed": _smoothed(1.0),
    "gaussian-rr": BayesianLearner(GaussianSignal(0.8), make_mechanism("randomized_response", 2.0)),
}


def _same_law(reference, other, name):
    """Means within 4.5 standard errors and, for continuous laws, a two-sample KS test."""
    reference, other = np.asarray(reference, float), np.asarray(other, float)
    difference = reference.mean() - other.mean()
    error = math.sqrt(reference.var() / reference.size + other.var() / other.size)
    assert abs(difference) <= 4.5 * error + 1e-12, (name, reference.mean(), other.mean())
    assert stats.ks_2samp(reference, other).pvalue > 1e-3, name


@pytest.mark.parametrize("name", BACKEND_TYPES)
def test_numba_and_numpy_backends_agree_in_distribution(name):
    learner = BACKEND_TYPES[name]
    runs = dict(n_agents=30, n_runs=20_000, bound=2.0)
    compiled = simulate_sequences(learner, rng=np.random.default_rng(1), backend="numba", **runs)
    looped = simulate_sequences(learner, rng=np.random.default_rng(2), backend="numpy", **runs)
    _same_law(compiled.oriented_llr[-1], looped.oriented_llr[-1], f"{name} final LLR")
    _same_law(compiled.oriented_llr[5], looped.oriented_llr[5], f"{name} LLR at a checkpoint")
    for field in ("wrong_actions", "wrong_reports", "first_correct_report", "hitting_time"):
        _same_law(getattr(compiled, field), getattr(looped, field), f"{name} {field}")
    if name.startswith("binary"):
        _same_law(compiled.cascade_start, looped.cascade_start, f"{name} cascade start")


@pytest.mark.parametrize("name", ["binary-rr", "smoothed"])
def test_compiled_results_do_not_depend_on_the_number_of_threads(name):
    learner = BACKEND_TYPES[name]
    results = [
        simulate_sequences(
            learner,
            40,
            5000,
            np.random.default_rng(3),
            bound=3.0,
            record_runs=3000,
            threads=threads,
        )  # fmt: skip
        for threads in (1, 2, 3)
    ]
    for other in results[1:]:
        for field in ("theta", "public_llr", "wrong_actions_before", "first_correct_action",
                      "first_correct_report", "wrong_actions", "wrong_reports", "cascade_start",
                      "cascade_correct", "hitting_time", "trajectory"):  # fmt: skip
            np.testing.assert_array_equal(getattr(results[0], field), getattr(other, field))


def test_a_held_up_thread_leaves_its_blocks_to_the_others():
    """Thread 0 stalls on its first block; thread 1 finishes its own range, then takes 3, 2, 1."""
    done, ran = threading.Event(), []
    lock = threading.Lock()

    def work(block):
        if block == 0:
            assert done.wait(timeout=10), "the other thread never took the stalled thread's blocks"
        with lock:
            ran.append((block, threading.get_ident()))
            if len(ran) == 7:
                done.set()

    _run_blocks(work, 8, threads=2)
    assert sorted(block for block, _ in ran) == list(range(8))
    stalled = dict(ran)[0]
    assert [block for block, thread in ran if thread != stalled] == [4, 5, 6, 7, 3, 2, 1]


@pytest.mark.parametrize(("n_blocks", "threads"), [(1, 2), (3, 8), (10, 1), (10, 3)])
def test_every_block_runs_once_whatever_the_threads(n_blocks, threads):
    ran, lock = [], threading.Lock()

    def work(block):
        with lock:
            ran.append(block)

    _run_blocks(work, n_blocks, threads)
    assert sorted(ran) == list(range(n_blocks))


@pytest.mark.parametrize("name", ["smoothed", "gaussian-rr"])
def test_runs_that_leave_the_table_take_the_closed_form(name):
    # The compiled loop tabulates D+ without branching and repairs the runs outside the table
    # afterwards. With the table cut to |l| < 0.5 nearly every decision is repaired, and on the
    # same random stream the trajectories must equal those of the full table (to the table's error).
    import dataclasses

    from seqrl.agents.dp_engine import _simulate_compiled
    from seqrl.mechanisms import dp_kernels

    learner = BACKEND_TYPES[name]
    full = learner.kernel
    centre, keep = full.table.shape[0] // 2, max(1, int(0.5 / full.step))
    params = list(full.params)
    params[dp_kernels._TABLE_LOW] = full.low + (centre - keep) * full.step
    cut = dataclasses.replace(
        full, table=full.table[centre - keep : centre + keep], params=tuple(params),
        low=params[dp_kernels._TABLE_LOW],
    )  # fmt: skip
    assert cut.high <= 0.5 + full.step
    checkpoints = np.array([1, 20, 41])

    def run(kernel):
        return _simulate_compiled(kernel, 40, 3000, np.random.default_rng(12), 3.0, checkpoints,
                                  3000, 512, 1)  # fmt: skip

    reference, repaired = run(full), run(cut)
    assert (np.abs(repaired.trajectory) >= cut.high).mean() > 0.5  # mostly outside the cut table
    np.testing.assert_allclose(repaired.trajectory, reference.trajectory, rtol=0, atol=1e-7)
    for field in ("wrong_actions", "wrong_reports", "first_correct_action", "hitting_time"):
        np.testing.assert_array_equal(getattr(repaired, field), getattr(reference, field))


@pytest.mark.parametrize("name", list(BACKEND_TYPES))
def test_the_compiled_loop_makes_the_scalar_decision_on_the_same_draws(name):
    # The block's loops (split for Gaussian signals so that all but the spline lookup vectorize)
    # must make, run by run, the decision of the scalar kernel: replay its draw order (agent by
    # agent, the runs of a group in turn) through draw_decision from the same generator state.
    from seqrl.mechanisms import dp_kernels

    kernel = BACKEND_TYPES[name].kernel
    n_agents, n_runs = 30, 50  # one group of runs
    theta = np.where(np.arange(n_runs) % 3 == 0, -1, 1).astype(np.int8)
    checkpoints = np.array([n_agents + 1])
    trajectory = np.empty((n_agents + 1, n_runs))
    state = dp_kernels.seed_state(np.random.default_rng(21))
    dp_kernels.sequence_block(kernel.kind, kernel.flip_kind)(
        state, n_agents, theta, np.zeros(1, dtype=np.int64), checkpoints, np.inf, kernel.params,
        kernel.table, np.empty((1, n_runs)), np.empty((1, n_runs), dtype=np.int32),
        np.empty((6, n_runs), dtype=np.int64), np.empty(n_runs), trajectory,
    )  # fmt: skip
    replay = np.zeros((n_agents + 1, n_runs))
    for agent in range(n_agents):
        for run in range(n_runs):
            *_, replay[agent + 1, run], state = dp_kernels.draw_decision(
                replay[agent, run], int(theta[run]), state, kernel.kind, kernel.flip_kind,
                kernel.params, kernel.table,
            )  # fmt: skip
            state = tuple(np.uint64(word) for word in state)  # numba returns Python ints
    np.testing.assert_array_equal(trajectory, replay)
    assert np.unique(trajectory).size > 20  # the sequences went somewhere


def test_compiled_first_passages_agree_with_the_numpy_loop():
    learner = _smoothed(0.5, sigma=1.3)
    for of in ("action", "report"):
        compiled = simulate_first_correct(learner, 500, 20_000, np.random.default_rng(4), of)
        looped = simulate_first_correct(
            learner, 500, 20_000, np.random.default_rng(5), of, backend="numpy"
        )
        _same_law(np.minimum(compiled, 500), np.minimum(looped, 500), of)


def test_heterogeneous_budgets_fall_back_to_numpy_and_refuse_numba():
    hidden = BayesianLearner(
        GaussianSignal(1.0),
        HeterogeneousBudget(SmoothedRandomizedResponse(1.0), "uniform", 0.0, 1.0),
    )
    assert hidden.kernel is None
    summary = simulate_sequences(hidden, 5, 10, np.random.default_rng(0))
    assert summary.n_runs == 10
    with pytest.raises(ValueError, match="no kernel"):
        simulate_sequences(hidden, 5, 10, np.random.default_rng(0), backend="numba")


@pytest.mark.parametrize("name", ["binary-rr", "smoothed"])
def test_torch_backend_on_cpu_matches_numba_in_distribution(name):
    pytest.importorskip("torch")
    learner = BACKEND_TYPES[name]
    runs = dict(n_agents=30, n_runs=20_000, bound=2.0, record_runs=4)
    compiled = simulate_sequences(learner, rng=np.random.default_rng(6), **runs)
    on_torch = simulate_sequences(
        learner, rng=np.random.default_rng(7), backend="torch", device="cpu", **runs
    )
    assert on_torch.trajectory.shape == (31, 4)
    np.testing.assert_array_equal(
        on_torch.trajectory[on_torch.checkpoints - 1], on_torch.public_llr[:, :4]
    )
    _same_law(compiled.oriented_llr[-1], on_torch.oriented_llr[-1], f"{name} final LLR")
    for field in ("wrong_actions", "wrong_reports", "first_correct_action", "hitting_time"):
        _same_law(getattr(compiled, field), getattr(on_torch, field), f"{name} {field}")


def test_torch_backend_reproduces_the_gamblers_ruin_closed_form():
    pytest.importorskip("torch")
    closed = BinaryCascadeClosedForm(0.7, 1.0)
    summary = simulate_sequences(
        _binary(0.7, 1.0), 200, 20_000, np.random.default_rng(8), backend="torch", device="cpu"
    )
    assert (summary.cascade_start >= 0).all()
    correct_se = math.sqrt(closed.probability_correct * (1 - closed.probability_correct) / 20_000)
    assert abs(summary.cascade_correct.mean() - closed.probability_correct) < 4 * correct_se
    start = summary.cascade_start
    assert abs(start.mean() - closed.expected_start) < 4 * start.std() / math.sqrt(start.size)


def test_learner_turn_runs_the_compiled_decision_with_numpys_draw_order():
    # Hosts stepping one agent at a time (Mesa, Gymnasium) call turn(): the compiled decision on
    # draws taken from their generator in the numpy path's order, so both paths see the same draws.
    learner = _smoothed(1.0)
    llr = np.linspace(-3, 3, 1000)
    compiled = learner.turn(llr, 1, np.random.default_rng(9))
    rng = np.random.default_rng(9)
    signal = learner.signal_model.sample(1, rng.standard_normal(llr.size))
    action = learner.act(llr, signal)
    report = learner.privatize(action, signal, llr, rng)
    np.testing.assert_array_equal(compiled.action, action)
    np.testing.assert_array_equal(compiled.report, report)
    expected = llr + learner.mechanism.llr_increment(report, llr, learner.signal_model)
    assert np.max(np.abs(compiled.public_llr - expected)) <= 1e-9
    assert np.max(np.abs(learner.observe(llr, report) - expected)) <= 1e-9
