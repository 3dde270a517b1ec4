"""Private sequential learning: mechanisms against quadrature, exact chains and textbook closed forms."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from seqrl.mechanisms.dp_privacy import (
    HeterogeneousBudget,
    NoPrivacy,
    PrivacyMechanism,
    RandomizedResponse,
    SmoothedRandomizedResponse,
    make_mechanism,
    report_llr_increment,
    smoothed_rr_log_likelihood,
)
from seqrl.mechanisms.dp_sequential import (
    BinaryCascadeClosedForm,
    bellman_hitting_time,
    learning_speed_slopes,
)
from seqrl.mechanisms.dp_signals import BinarySignal, GaussianSignal, bayesian_action


def _smoothed_report_quadrature(report, public_llr, theta, sigma, epsilon, amplitude):
    """P(x | l, theta) = int P(x | s) phi(s; theta, sigma) ds, integrated numerically."""
    threshold = -(sigma**2) * public_llr / 2

    def integrand(signal):
        flip = amplitude * math.exp(-epsilon * abs(signal - threshold))
        action = 1 if signal > threshold else -1
        return ((1 - flip) if action == report else flip) * stats.norm.pdf(signal, theta, sigma)

    options = {"limit": 400, "epsabs": 0, "epsrel": 1e-12}
    return (
        integrate.quad(integrand, -np.inf, threshold, **options)[0]
        + integrate.quad(integrand, threshold, np.inf, **options)[0]
    )


@pytest.mark.parametrize(
    ("public_llr", "theta", "sigma", "epsilon", "amplitude"),
    [
        (0.0, 1, 1.0, 0.5, 0.5),
        (3.0, -1, 1.0, 1.0, 0.5),
        (-7.0, 1, 0.7, 2.0, 0.3),
        (1.5, 1, 2.0, 0.1, 0.5),
        (40.0, 1, 1.0, 0.1, 0.5),
        (-40.0, 1, 1.0, 0.1, 0.5),
        (25.0, -1, 1.5, 1.0, 0.2),
    ],
)
@pytest.mark.parametrize("report", [1, -1])
def test_smoothed_rr_closed_form_matches_quadrature(
    report, public_llr, theta, sigma, epsilon, amplitude
):
    expected = _smoothed_report_quadrature(report, public_llr, theta, sigma, epsilon, amplitude)
    mechanism = SmoothedRandomizedResponse(epsilon, amplitude)
    got = np.exp(mechanism.report_log_likelihood(report, public_llr, theta, GaussianSignal(sigma)))
    assert got == pytest.approx(expected, rel=1e-9)


def test_smoothed_rr_log_likelihood_is_finite_far_in_the_tails():
    llr = np.array([-2000.0, -300.0, 300.0, 2000.0])
    for report in (1, -1):
        value = smoothed_rr_log_likelihood(report, -llr / 2, 1, 1.0, 0.5, 0.5)
        assert np.all(np.isfinite(value))
    # Far on the +1 side a -1 report has probability ~ c exp(epsilon (t - theta) + epsilon^2/2).
    t = -150.0
    tail = smoothed_rr_log_likelihood(-1, t, 1, 1.0, 0.5, 0.5)
    assert tail == pytest.approx(math.log(0.5) + 0.5 * (t - 1) + 0.125, rel=1e-12)


MECHANISMS = [
    (NoPrivacy(), BinarySignal(0.7)),
    (NoPrivacy(), GaussianSignal(1.3)),
    (RandomizedResponse(0.8), BinarySignal(0.6)),
    (RandomizedResponse(0.8), GaussianSignal(0.9)),
    (SmoothedRandomizedResponse(1.2, 0.4), GaussianSignal(1.0)),
    (
        HeterogeneousBudget(SmoothedRandomizedResponse(1.0), "uniform", 0.0, 1.0),
        GaussianSignal(1.0),
    ),
    (
        HeterogeneousBudget(SmoothedRandomizedResponse(1.0, 0.3), "two_point", 0.2, 3.0, 0.4),
        GaussianSignal(0.8),
    ),
    (HeterogeneousBudget(RandomizedResponse(1.0), "two_point", 0.2, 3.0, 0.3), BinarySignal(0.8)),
    (
        HeterogeneousBudget(RandomizedResponse(1.0), "uniform", 0.2, 3.0, observed=True),
        BinarySignal(0.8),
    ),
]


@pytest.mark.parametrize(("mechanism", "signal_model"), MECHANISMS)
def test_every_mechanism_satisfies_the_privacy_protocol(mechanism, signal_model):
    assert isinstance(mechanism, PrivacyMechanism)


@pytest.mark.parametrize(("mechanism", "signal_model"), MECHANISMS)
def test_report_likelihoods_sum_to_one(mechanism, signal_model):
    llr = np.linspace(-9, 9, 37)
    for theta in (1, -1):
        total = sum(
            np.exp(
                mechanism.report_log_likelihood(
                    x, llr, theta, signal_model, np.full(llr.shape, 0.7)
                )
            )
            for x in (1, -1)
        )
        np.testing.assert_allclose(total, 1.0, rtol=1e-12)


def test_randomized_response_is_epsilon_dp_and_smoothed_rr_is_metric_dp():
    epsilon = 0.9
    flip = RandomizedResponse(epsilon).flip_probability(np.zeros(3), np.zeros(3), BinarySignal(0.7))
    assert np.log((1 - flip) / flip) == pytest.approx(np.full(3, epsilon))
    # With amplitude 1/2, P(x = +1 | s) is epsilon-Lipschitz in s in log scale.
    signals = np.linspace(-6, 6, 2001)
    model = GaussianSignal(1.0)
    mechanism = SmoothedRandomizedResponse(epsilon, 0.5)
    flip = mechanism.flip_probability(signals, 0.3, model)
    action = bayesian_action(0.3, model.private_llr(signals))
    prob_plus = np.where(action > 0, 1 - flip, flip)
    for probability in (prob_plus, 1 - prob_plus):
        slope = np.abs(np.diff(np.log(probability))) / np.diff(signals)
        assert slope.max() <= epsilon * (1 + 1e-9)


def test_hidden_uniform_budget_marginalises_over_epsilon():
    budget = HeterogeneousBudget(SmoothedRandomizedResponse(1.0, 0.5), "uniform", 0.0, 1.0)
    model = GaussianSignal(1.0)
    for public_llr, theta, report in [(0.0, 1, 1), (-4.0, -1, -1)]:
        expected = integrate.quad(
            lambda eps, x=report, llr=public_llr, th=theta: _smoothed_report_quadrature(
                x, llr, th, 1.0, eps, 0.5
            ),
            0.0,
            1.0,
            epsabs=0,
            epsrel=1e-9,
        )[0]
        got = np.exp(budget.report_log_likelihood(report, public_llr, theta, model))
        assert got == pytest.approx(expected, rel=1e-8)
    # Randomized response: the average flip probability int_a^b 1/(1+e^eps) deps / (b - a).
    rr = HeterogeneousBudget(RandomizedResponse(1.0), "uniform", 0.5, 2.5)
    antiderivative = lambda eps: eps - math.log1p(math.exp(eps))  # noqa: E731
    mean_flip = (antiderivative(2.5) - antiderivative(0.5)) / 2.0
    binary = BinarySignal(0.7)
    got = np.exp(rr.report_log_likelihood(1, 0.0, 1, binary))
    assert got == pytest.approx(0.7 * (1 - mean_flip) + 0.3 * mean_flip, rel=1e-12)


@pytest.mark.parametrize("observed", [True, False])
def test_heterogeneous_budget_uses_its_base_at_each_agents_budget(observed):
    # The base's own epsilon (5.0) is replaced by the agents' budgets; its amplitude is kept.
    budget = HeterogeneousBudget(
        SmoothedRandomizedResponse(5.0, 0.3), "two_point", 0.4, 2.0, 0.25, observed=observed
    )
    model = GaussianSignal(0.8)
    llr = np.linspace(-6, 6, 13)
    own = np.where(np.arange(llr.size) % 2 == 0, 0.4, 2.0)
    at = [SmoothedRandomizedResponse(eps, 0.3) for eps in (0.4, 2.0)]
    signals = np.linspace(-2, 2, llr.size)
    np.testing.assert_array_equal(
        budget.flip_probability(signals, llr, model, own),
        np.where(own == 0.4, *(m.flip_probability(signals, llr, model) for m in at)),
    )
    for report in (1, -1):
        if observed:
            expected = np.where(
                own == 0.4, *(m.report_log_likelihood(report, llr, 1, model) for m in at)
            )
        else:  # the two atoms' likelihoods, mixed with weights 0.75 and 0.25
            low, high = (np.exp(m.report_log_likelihood(report, llr, 1, model)) for m in at)
            expected = np.log(0.75 * low + 0.25 * high)
        got = budget.report_log_likelihood(report, llr, 1, model, own)
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        # The increment is the log ratio of the same likelihoods under theta = +1 and -1.
        ratio = got - budget.report_log_likelihood(report, llr, -1, model, own)
        np.testing.assert_allclose(
            budget.llr_increment(report, llr, model, own), ratio, rtol=1e-9, atol=1e-12
        )


def test_observed_budgets_need_each_agents_budget():
    budget = HeterogeneousBudget(RandomizedResponse(1.0), observed=True)
    signal_model = BinarySignal(0.7)
    with pytest.raises(ValueError, match="epsilon is required"):
        budget.report_log_likelihood(1, 0.0, 1, signal_model)
    with pytest.raises(ValueError, match="epsilon is required"):
        budget.llr_increment(1, 0.0, signal_model)
    with pytest.raises(ValueError, match="own budget"):
        budget.flip_probability(0.0, 0.0, signal_model)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: RandomizedResponse(-1.0), "epsilon must be > 0"),
        (lambda: RandomizedResponse(0.0), "epsilon must be > 0"),
        (lambda: SmoothedRandomizedResponse(math.nan), "epsilon must be > 0"),
        (lambda: make_mechanism("smoothed", -2.0), "got -2.0"),
        (lambda: BinarySignal(0.5), "p must be in (1/2, 1), got 0.5"),
        (lambda: BinarySignal(1.2), "p must be in (1/2, 1), got 1.2"),
        (lambda: BinarySignal(math.nan), "p must be in (1/2, 1)"),
        (lambda: GaussianSignal(0.0), "sigma must be > 0"),
        (lambda: GaussianSignal(-1.0), "got -1.0"),
        (lambda: SmoothedRandomizedResponse(1.0, 0.0), "amplitude must be in (0, 1/2], got 0.0"),
        (lambda: SmoothedRandomizedResponse(1.0, 0.6), "amplitude must be in (0, 1/2], got 0.6"),
        (lambda: make_mechanism("smoothed", math.inf, 0.7), "amplitude must be in (0, 1/2]"),
        (
            lambda: HeterogeneousBudget(RandomizedResponse(1.0), low=1.0, high=0.5),
            "high must be > low",
        ),
        (lambda: HeterogeneousBudget(NoPrivacy()), "base must be a RandomizedResponse"),
        (lambda: BinaryCascadeClosedForm(0.7, -0.1), "epsilon must be > 0"),
    ],
)
def test_bad_parameters_name_the_parameter_value_and_range(build, message):
    with pytest.raises(ValueError) as error:
        build()
    assert message in str(error.value)


def test_infinite_epsilon_means_no_privacy():
    assert isinstance(make_mechanism("randomized_response", math.inf), NoPrivacy)
    assert isinstance(make_mechanism("smoothed", math.inf), NoPrivacy)


def test_ties_follow_the_own_signal():
    magnitude = BinarySignal(0.7).private_llr_magnitude
    # l = L exactly, or L accumulated by floating-point steps: a -L signal ties and is followed.
    accumulated = sum([magnitude / 3] * 3)
    for public_llr in (magnitude, accumulated, -magnitude):
        sign = 1 if public_llr > 0 else -1
        assert bayesian_action(public_llr, -sign * magnitude) == -sign
        assert bayesian_action(public_llr, sign * magnitude) == sign
    assert bayesian_action(1.01 * magnitude, -magnitude) == 1


def _exact_cascade_chain(p, epsilon):
    """Absorption probabilities and times of the net report count, built from the model itself.

    States are net counts k; l = k D; the chain stops where the agent's action ignores its signal
    (checked with the decision rule, not with the closed form's threshold). Solved with the
    fundamental matrix of the absorbing chain.
    """
    flip = 0.0 if math.isinf(epsilon) else 1 / (1 + math.exp(epsilon))
    q = p * (1 - flip) + (1 - p) * flip
    step = math.log(q / (1 - q))
    magnitude = math.log(p / (1 - p))
    count = 1
    while bayesian_action(count * step, -magnitude) != bayesian_action(count * step, magnitude):
        count += 1
    states = np.arange(-count + 1, count)  # transient states
    size = states.size
    transitions = np.zeros((size, size))
    to_plus = np.zeros(size)
    for i in range(size):
        if i + 1 < size:
            transitions[i, i + 1] = q
        else:
            to_plus[i] = q
        if i > 0:
            transitions[i, i - 1] = 1 - q
    fundamental = np.linalg.inv(np.eye(size) - transitions)
    start = size // 2
    return count, float(fundamental[start] @ to_plus), float(fundamental[start].sum())


@pytest.mark.parametrize(
    ("p", "epsilon"),
    [(0.7, math.inf), (0.7, 1.0), (0.55, 0.3), (0.9, 0.5), (0.9, 4.0), (0.6, 2.2)],
)
def test_gamblers_ruin_closed_form_matches_exact_chain(p, epsilon):
    closed = BinaryCascadeClosedForm(p, epsilon)
    count, correct, start = _exact_cascade_chain(p, epsilon)
    assert closed.threshold_count == count
    assert closed.probability_correct == pytest.approx(correct, rel=1e-10)
    assert closed.expected_start == pytest.approx(start, rel=1e-10)


def test_non_private_cascade_is_the_classical_two_report_threshold():
    for p in (0.55, 0.7, 0.9):
        closed = BinaryCascadeClosedForm(p, math.inf)
        assert closed.threshold_count == 2
        assert closed.probability_correct == pytest.approx(p**2 / (p**2 + (1 - p) ** 2))


def test_correct_cascade_probability_is_not_monotone_in_epsilon():
    epsilons = np.linspace(0.05, 5, 400)
    values = np.array([BinaryCascadeClosedForm(0.7, e).probability_correct for e in epsilons])
    steps = np.diff(values)
    assert (steps > 1e-6).any() and (steps < -1e-6).any()
    non_private = BinaryCascadeClosedForm(0.7, math.inf).probability_correct
    assert values.max() <= non_private + 1e-12


def test_bellman_solver_reproduces_lattice_gamblers_ruin():
    # Steps of +-h with constant up-probability q, B = K h: the grid contains the lattice, so
    # interpolation is exact and H(0) is the textbook K (1 - r^K) / ((2q - 1)(1 + r^K)).
    for q, count in [(0.6, 5), (0.5, 4), (0.8, 10)]:
        spacing = 0.25
        bound = count * spacing

        def transition(llr, q=q, spacing=spacing):
            return np.full(llr.shape, q), np.full(llr.shape, spacing), np.full(llr.shape, -spacing)

        got = bellman_hitting_time(transition, bound, grid_points=2 * count)
        if q == 0.5:
            expected = count**2
        else:
            ruin = ((1 - q) / q) ** count
            expected = count * (1 - ruin) / ((2 * q - 1) * (1 + ruin))
        assert got == pytest.approx(expected, rel=1e-9)


def test_learning_speed_slopes_recover_known_growth():
    n = np.geomspace(10, 1e5, 40)
    slope_log, _ = learning_speed_slopes(n, 2.0 * np.log(n) + 1.0)
    assert slope_log == pytest.approx(2.0)
    _, slope_sqrt = learning_speed_slopes(n, 2.8 * np.sqrt(np.log(n)) - 0.5)
    assert slope_sqrt == pytest.approx(2.8)


def test_report_increment_is_zero_inside_a_binary_cascade():
    signal_model = BinarySignal(0.7)
    magnitude = signal_model.private_llr_magnitude
    inside = np.array([1.5 * magnitude, -3 * magnitude])
    for mechanism in (NoPrivacy(), RandomizedResponse(1.0)):
        for report in (1, -1):
            np.testing.assert_array_equal(
                report_llr_increment(mechanism, report, inside, signal_model), 0.0
            )


# --------------------------------------------------------------------------------------------------
# The compiled kernel (seqrl.mechanisms.dp_kernels) against numpy's generator and the closed forms.

KERNEL_TYPES = {
    "smoothed-1-1": (GaussianSignal(1.0), SmoothedRandomizedResponse(1.0)),
    "smoothed-0.3-0.3": (GaussianSignal(0.3), SmoothedRandomizedResponse(0.3, 0.2)),
    "smoothed-4-2": (GaussianSignal(4.0), SmoothedRandomizedResponse(2.0)),
    "smoothed-1-0.05": (GaussianSignal(1.0), SmoothedRandomizedResponse(0.05)),
    "rr-gaussian": (GaussianSignal(0.5), RandomizedResponse(3.0)),
    "none-gaussian": (GaussianSignal(2.0), NoPrivacy()),
}


def test_kernel_generator_is_numpys_sfc64_bit_for_bit():
    import numba

    from seqrl.mechanisms.dp_kernels import next_double, next_uint64, state_of

    @numba.njit
    def stream(state, count):
        words, doubles = np.empty(count, dtype=np.uint64), np.empty(count)
        for index in range(count):
            words[index], state = next_uint64(state)
        for index in range(count):
            doubles[index], state = next_double(state)
        return words, doubles

    bit_generator = np.random.SFC64(2024)
    words, doubles = stream(state_of(bit_generator), 2000)
    np.testing.assert_array_equal(words, bit_generator.random_raw(2000))
    np.testing.assert_array_equal(doubles, np.random.Generator(bit_generator).random(2000))


def _kernel_sample(next_draw, seed: int, count: int) -> np.ndarray:
    """``count`` draws of a compiled sampler ``next_draw(state) -> (x, state)``."""
    import numba

    from seqrl.mechanisms import dp_kernels

    @numba.njit
    def draws(state, count):
        out = np.empty(count)
        for index in range(count):
            out[index], state = next_draw(state)
        return out

    return draws(dp_kernels.seed_state(np.random.default_rng(seed)), count)


def test_ziggurat_layers_have_equal_area_and_draws_are_standard_normal():
    from seqrl.mechanisms import dp_kernels

    # Every layer's area equals v (the base strip: the rectangle to r and the tail beyond).
    r = dp_kernels._ZIG_R
    width = dp_kernels._ZIG_W * float(1 << 52)
    heights = dp_kernels._ZIG_F
    area = r * math.exp(-r * r / 2) + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))
    assert width[0] * heights[1] == pytest.approx(area, rel=1e-14)
    layers = width[1:] * (heights[2:] - heights[1:-1])
    np.testing.assert_allclose(layers, area, rtol=1e-9)
    assert heights[-1] == 1.0

    sample = _kernel_sample(dp_kernels.next_normal, seed=3, count=400_000)
    assert stats.kstest(sample, "norm").pvalue > 1e-3
    # The tail beyond r (its own sampler) has the right mass and the right shape.
    tail = np.abs(sample) > r
    expected = 2 * stats.norm.sf(r)
    assert abs(tail.mean() - expected) < 4.5 * math.sqrt(expected / sample.size)
    assert abs(sample.mean()) < 4.5 / math.sqrt(sample.size)
    assert abs(sample.var() - 1) < 4.5 * math.sqrt(2 / sample.size)


def test_exponential_ziggurat_has_equal_layers_and_draws_are_standard_exponential():
    from seqrl.mechanisms import dp_kernels

    r = dp_kernels._EXP_R
    width = dp_kernels._EXP_W * float(1 << 52)
    heights = dp_kernels._EXP_F
    area = r * math.exp(-r) + math.exp(-r)  # the rectangle to r and the tail beyond
    assert width[0] * heights[1] == pytest.approx(area, rel=1e-14)
    np.testing.assert_allclose(width[1:] * (heights[2:] - heights[1:-1]), area, rtol=1e-9)
    assert heights[-1] == 1.0

    sample = _kernel_sample(dp_kernels.next_exponential, seed=4, count=400_000)
    assert sample.min() >= 0.0
    assert stats.kstest(sample, "expon").pvalue > 1e-3
    # The tail beyond r (r plus a fresh draw) has the right mass and, memoryless, mean r + 1.
    tail = sample[sample > r]
    expected = math.exp(-r)
    assert abs(tail.size / sample.size - expected) < 4.5 * math.sqrt(expected / sample.size)
    assert abs(sample.mean() - 1) < 4.5 / math.sqrt(sample.size)
    assert abs(sample.var() - 1) < 4.5 * math.sqrt(8 / sample.size)


def test_compiled_log_ndtr_matches_scipy_in_both_tails():
    from scipy.special import log_ndtr

    from seqrl.mechanisms.dp_kernels import log_ndtr_many

    z = np.concatenate([np.linspace(-60, 40, 200_001), -np.geomspace(20, 1e6, 500)])
    expected = log_ndtr(z)
    relative = np.abs(log_ndtr_many(z) - expected) / np.maximum(1.0, np.abs(expected))
    assert relative.max() < 1e-14


@pytest.mark.parametrize("name", KERNEL_TYPES)
def test_compiled_closed_form_matches_numpy_closed_form(name):
    from seqrl.mechanisms.dp_kernels import decision_kernel, exact_increment_many

    signal, mechanism = KERNEL_TYPES[name]
    kernel = decision_kernel(signal, mechanism)
    llr = np.concatenate([np.linspace(-400, 400, 40_001), [-1e4, 1e4, 3e4]]) / signal.sigma**2
    expected = mechanism.llr_increment(1, llr, signal)
    got = exact_increment_many(llr, kernel.params)
    assert np.max(np.abs(got - expected) / np.maximum(1.0, np.abs(expected))) < 1e-12


def test_one_table_serves_both_reports_by_symmetry():
    # P(x | l, theta) = P(-x | -l, -theta), so D(-1, l) = -D(+1, -l): checked on the numpy closed form.
    llr = np.linspace(-30, 30, 601)
    for signal, mechanism in KERNEL_TYPES.values():
        np.testing.assert_allclose(
            mechanism.llr_increment(-1, llr, signal),
            -mechanism.llr_increment(1, -llr, signal),
            rtol=1e-12,
            atol=1e-14,
        )


@pytest.mark.parametrize("name", KERNEL_TYPES)
def test_tabulated_increment_is_within_1e_9_of_the_closed_form(name):
    from seqrl.mechanisms.dp_kernels import TABLE_ERROR_BOUND, decision_kernel, increment_many

    signal, mechanism = KERNEL_TYPES[name]
    kernel = decision_kernel(signal, mechanism)
    assert kernel.checked_error <= TABLE_ERROR_BOUND / 4
    rng = np.random.default_rng(11)
    # 10^6 random points over the table and beyond it (where the closed form takes over), and the
    # midpoint of every cell (where the spline's error peaks), for both reports.
    span = kernel.high - kernel.low
    llr = np.concatenate(
        [
            rng.uniform(kernel.low - 0.2 * span, kernel.high + 0.2 * span, 1_000_000),
            kernel.low + kernel.step * (np.arange(kernel.table.shape[0]) + 0.5),
        ]
    )
    for report in (-1, 1):
        reports = np.full(llr.size, report, dtype=np.int8)
        got = increment_many(reports, llr, kernel.kind, kernel.params, kernel.table)
        expected = mechanism.llr_increment(report, llr, signal)
        inside = (report * llr >= kernel.low) & (report * llr < kernel.high)
        assert np.abs(got - expected)[inside].max() <= TABLE_ERROR_BOUND
        outside = np.abs(got - expected)[~inside] / np.maximum(1.0, np.abs(expected[~inside]))
        assert outside.max() < 1e-12


@pytest.mark.parametrize("name", ["smoothed-1-1", "smoothed-0.3-0.3", "rr-gaussian"])
def test_flips_on_the_kernels_own_draws_happen_with_the_mechanisms_probability(name):
    import numba

    from seqrl.mechanisms import dp_kernels

    signal_model, mechanism = KERNEL_TYPES[name]
    kernel = dp_kernels.decision_kernel(signal_model, mechanism)

    @numba.njit
    def flip_rate(state, signal, public_llr, count, kind, flip_kind, params):
        flipped = 0
        for _ in range(count):
            _, flip_draw, state = dp_kernels.draw_inputs(state, kind, flip_kind, params)
            flipped += dp_kernels.flips(signal, public_llr, flip_draw, kind, flip_kind, params)
        return flipped / count

    count = 400_000
    cases = [(0.0, 0.0), (0.4, -1.0), (-2.5, 3.0), (3.0, 0.0)]
    for seed, (signal, public_llr) in enumerate(cases):
        state = dp_kernels.seed_state(np.random.default_rng(seed))
        expected = float(
            mechanism.flip_probability(np.array(signal), np.array(public_llr), signal_model)
        )
        got = flip_rate(
            state, signal, public_llr, count, kernel.kind, kernel.flip_kind, kernel.params
        )
        assert abs(got - expected) < 4.5 * math.sqrt(expected * (1 - expected) / count) + 1e-12


@pytest.mark.parametrize(
    ("signal", "mechanism"),
    [
        *KERNEL_TYPES.values(),
        (BinarySignal(0.7), RandomizedResponse(1.0)),
        (BinarySignal(0.6), NoPrivacy()),
    ],
)
def test_compiled_decision_equals_the_numpy_rule_on_the_same_draws(signal, mechanism):
    from seqrl.mechanisms.dp_kernels import decide_many, decision_kernel
    from seqrl.mechanisms.dp_signals import bayesian_action

    kernel = decision_kernel(signal, mechanism)
    rng = np.random.default_rng(5)
    size = 200_000
    llr = rng.normal(0, 3, size)
    llr[:1000] = 0.0  # ties of binary signals
    theta = np.where(rng.random(size) < 0.5, 1, -1).astype(np.int8)
    binary = isinstance(signal, BinarySignal)
    draws = rng.random(size) if binary else rng.standard_normal(size)
    # Binary signals flip on a uniform U < u, Gaussian ones on an exponential E > -log u, which is
    # the event U < u for U = exp(-E).
    flip_draws = rng.random(size) if binary else rng.standard_exponential(size)
    uniforms = flip_draws if binary else np.exp(-flip_draws)
    signals, actions, reports, after = decide_many(
        llr, theta, draws, flip_draws, kernel.kind, kernel.flip_kind, kernel.params, kernel.table
    )
    expected_signal = signal.sample(theta, draws)
    expected_action = bayesian_action(llr, signal.private_llr(expected_signal))
    flip = mechanism.flip_probability(expected_signal, llr, signal)
    expected_report = np.where(uniforms < flip, -expected_action, expected_action)
    np.testing.assert_array_equal(signals, expected_signal)
    np.testing.assert_array_equal(actions, expected_action)
    np.testing.assert_array_equal(reports, expected_report)
    increment = mechanism.llr_increment(expected_report, llr, signal)
    tolerance = 0.0 if isinstance(signal, BinarySignal) else 1e-9
    assert np.max(np.abs(after - (llr + increment))) <= tolerance


def test_heterogeneous_budgets_have_no_compiled_kernel():
    from seqrl.mechanisms.dp_kernels import decision_kernel

    budget = HeterogeneousBudget(SmoothedRandomizedResponse(1.0), "uniform", 0.0, 1.0)
    assert decision_kernel(GaussianSignal(1.0), budget) is None
    assert decision_kernel(BinarySignal(0.7), RandomizedResponse(1.0)) is not None
