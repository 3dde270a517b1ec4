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
