"""Differential-privacy mechanisms for reported actions and the report likelihoods observers use.

Liu & Rahimian, "Differentially Private Sequential Learning" (arXiv 2502.19525, 2025), Section 3.
Agent n reports x_n = a_n with probability 1 - u_n and x_n = -a_n with probability u_n. Observers know
the mechanism and update the public LLR with P(x | l, theta), the probability of a report given the
public LLR l the agent saw and the state theta:

- no privacy: u = 0, P(x | l, theta) = P(a = x | l, theta);
- randomized response (RR): u = 1 / (1 + e^epsilon), so
  P(x | l, theta) = (1 - u) P(a = x | l, theta) + u P(a = -x | l, theta);
- smoothed randomized response (Gaussian signals): u(s) = c exp(-epsilon |s - t(l)|) with amplitude c,
  whose report likelihood has the closed form of :func:`smoothed_rr_log_likelihood`;
- heterogeneous budgets: a base mechanism (RR or smoothed RR) at a budget epsilon_n drawn per agent;
  observers who do not see it use the likelihood averaged over the budget distribution,
  E_epsilon[P_epsilon(x | l, theta)] (for RR, equivalently the averaged flip probability, since P is
  linear in u).

Every mechanism satisfies the :class:`PrivacyMechanism` protocol, which the learner and the hosts
type against. All methods are batched: inputs broadcast together, with ``epsilon`` an optional
per-agent array; flip probabilities are returned broadcastable to the signals (a scalar when they do
not vary).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from scipy.special import expit, log_ndtr, logsumexp

from seqrl.mechanisms.dp_signals import BinarySignal, GaussianSignal, SignalModel


def _validate_epsilon(epsilon: float, name: str = "epsilon") -> None:
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float | np.floating | np.integer):
        raise ValueError(f"{name} must be a number, got {epsilon!r}")
    if not (epsilon > 0 and math.isfinite(epsilon)):  # also rejects NaN
        raise ValueError(
            f"{name} must be > 0 and finite (epsilon = inf means no privacy), got {epsilon!r}"
        )


def _validate_amplitude(amplitude: float) -> None:
    if isinstance(amplitude, bool) or not isinstance(amplitude, int | float | np.floating):
        raise ValueError(f"amplitude must be a number, got {amplitude!r}")
    if not 0.0 < amplitude <= 0.5:  # also rejects NaN
        raise ValueError(f"amplitude must be in (0, 1/2], got {amplitude!r}")


def randomized_response_flip_probability(epsilon: npt.ArrayLike) -> np.ndarray:
    """u = 1 / (1 + e^epsilon), the epsilon-DP randomized-response flip probability."""
    return expit(-np.asarray(epsilon, dtype=float))


def smoothed_rr_log_likelihood(
    report: npt.ArrayLike,
    threshold: npt.ArrayLike,
    theta: npt.ArrayLike,
    sigma: float | np.ndarray,
    epsilon: npt.ArrayLike,
    amplitude: float,
) -> np.ndarray:
    """log P(x | l, theta) under smoothed RR with Gaussian signals, in closed form.

    With t = t(l) = -sigma^2 l / 2 and flip probability u(s) = c exp(-epsilon |s - t|),
        P(x = +1 | l, theta) = Phi((theta - t)/sigma)
            - c exp(epsilon (t - theta) + epsilon^2 sigma^2 / 2) Phi((theta - t - epsilon sigma^2)/sigma)
            + c exp(epsilon (theta - t) + epsilon^2 sigma^2 / 2) Phi((t - theta - epsilon sigma^2)/sigma).
    By the symmetry (s, theta, t, x) -> -(s, theta, t, x), P(x | t, theta) = m(-x t, -x theta) with
    m(t, theta) = P(x = -1 | t, theta). Writing z = (t - theta)/sigma and e = epsilon sigma,
        m = Phi(z) - c e^{-e z + e^2/2} Phi(z - e) + c e^{e z + e^2/2} Phi(-z - e),
    evaluated here in log space (log Phi by ``scipy.special.log_ndtr``) so that neither term
    overflows for large |l|. The first two terms sum to at least (1 - c) Phi(z) >= 0, so no
    catastrophic cancellation occurs for c <= 1/2.
    """
    margin = (np.asarray(theta) - np.asarray(threshold)) / sigma
    z = np.asarray(report) * margin
    return _smoothed_rr_log_m(z, np.asarray(epsilon) * sigma, math.log(amplitude))


def _smoothed_rr_log_m(z: np.ndarray, scaled: np.ndarray, log_amplitude: float) -> np.ndarray:
    """log m = log[Phi(z) - c e^{-e z + e^2/2} Phi(z - e) + c e^{e z + e^2/2} Phi(-z - e)], e = scaled.

    Written as log(e^first (1 - e^{second - first}) + e^third), where second - first <= log c < 0.
    """
    offset = log_amplitude + 0.5 * scaled * scaled
    scaled_z = scaled * z
    first = log_ndtr(z)
    second = offset - scaled_z + log_ndtr(z - scaled)
    third = offset + scaled_z + log_ndtr(-z - scaled)
    return np.logaddexp(first + np.log1p(-np.exp(second - first)), third)


@runtime_checkable
class PrivacyMechanism(Protocol):
    """What the hosts and the learner need of a privacy mechanism (all methods batched).

    Implemented by :class:`NoPrivacy`, :class:`RandomizedResponse`,
    :class:`SmoothedRandomizedResponse` and :class:`HeterogeneousBudget`. ``epsilon``, where a method
    takes it, is the per-agent budget of heterogeneous budgets (None: the mechanism's own budget).
    """

    def sample_epsilon(
        self, rng: np.random.Generator, size: int | tuple[int, ...]
    ) -> np.ndarray | None:
        """Per-agent budgets epsilon_n, or None when every agent has the mechanism's own budget."""
        ...

    def flip_probability(
        self,
        signal: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        signal_model: SignalModel,
        epsilon: npt.ArrayLike | None = None,
    ) -> np.ndarray:
        """u, the probability that the report is the flipped action, -a."""
        ...

    def report_log_likelihood(
        self,
        report: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        theta: npt.ArrayLike,
        signal_model: SignalModel,
        epsilon: npt.ArrayLike | None = None,
    ) -> np.ndarray:
        """log P(x | l, theta), the report likelihood observers use."""
        ...

    def llr_increment(
        self,
        report: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        signal_model: SignalModel,
        epsilon: npt.ArrayLike | None = None,
    ) -> np.ndarray:
        """Observers' update log P(x | l, +1) - log P(x | l, -1) (0 where both are equal)."""
        ...


class _CommonBudget:
    """Every agent has the same budget (or none), so none is drawn per agent."""

    def sample_epsilon(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> None:
        """Nothing is drawn."""
        return None


def _budget(own: float, epsilon: npt.ArrayLike | None) -> npt.ArrayLike:
    """The per-agent budgets when given, else the mechanism's own epsilon."""
    return own if epsilon is None else epsilon


def _log_likelihood_difference(plus: np.ndarray, minus: np.ndarray) -> np.ndarray:
    """log P(x | l, +1) - log P(x | l, -1), and 0 where both are equal.

    Inside a binary cascade both likelihoods are equal (possibly log 0): the report is uninformative.
    """
    with np.errstate(invalid="ignore"):
        return np.where(plus == minus, 0.0, plus - minus)


@dataclass(frozen=True)
class NoPrivacy(_CommonBudget):
    """Truthful reports, x = a (epsilon = inf)."""

    def flip_probability(
        self,
        signal: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        signal_model: SignalModel,
        epsilon: npt.ArrayLike | None = None,
    ) -> np.ndarray:
        """u = 0."""
        return np.asarray(0.0)

    def report_log_likelihood(
        self,
        report: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        theta: npt.ArrayLike,
        signal_model: SignalModel,
        epsilon: npt.ArrayLike | None = None,
    ) -> np.ndarray:
        """log P(x | l, theta) = log P(a = x | l, theta)."""
        if isinstance(signal_model, GaussianSignal):
            return signal_model.log_action_probability(report, public_llr, theta)
        with np.errstate(divide="ignore"):
            return np.log(signal_model.action_probability(report, public_llr, theta))

    def llr_increment(
        self,
        report: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        signal_model: SignalModel,
        epsilon: npt.ArrayLike | None = None,
    ) -> np.ndarray:
        """log P(x | l, +1) - log P(x | l, -1) (tabulated by regime for binary signals)."""
        if isinstance(signal_model, BinarySignal):
            return _mixed_llr_increment(report, public_llr, signal_model, 0.0)
        return _log_likelihood_difference(
            self.report_log_likelihood(report, public_llr, 1, signal_model),
            self.report_log_likelihood(report, public_llr, -1, signal_model),
        )


@dataclass(frozen=True)
class RandomizedResponse(_CommonBudget):
    """Randomized response: flip the action with constant probability u = 1 / (1 + e^epsilon).

    Attributes:
        epsilon: Privacy budget, > 0 and finite.
    """

    epsilon: float

    def __post_init__(self) -> None:
        _validate_epsilon(self.epsilon)

    def flip_probability(
        self,
        signal: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        signal_model: SignalModel,
        epsilon: npt.ArrayLike | None = None,
    ) -> np.ndarray:
        """u = 1 / (1 + e^epsilon), whatever the signal (a scalar, or per agent)."""
        return randomized_response_flip_probability(_budget(self.epsilon, epsilon))

    def report_log_likelihood(
        self,
        report: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        theta: npt.ArrayLike,
        signal_model: SignalModel,
        epsilon: npt.ArrayLike | None = None,
    ) -> np.ndarray:
        """log[(1 - u) P(a = x | l, theta) + u P(a = -x | l, theta)]."""
        flip = randomized_response_flip_probability(_budget(self.epsilon, epsilon))
        return _mixed_log_likelihood(report, public_llr, theta, signal_model, flip)

    def llr_increment(
        self,
        report: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        signal_model: SignalModel,
        epsilon: npt.ArrayLike | None = None,
    ) -> np.ndarray:
        """log P(x | l, +1) / P(x | l, -1), as one logarithm of a ratio (P >= u > 0 never underflows)."""
        flip = randomized_response_flip_probability(_budget(self.epsilon, epsilon))
        return _mixed_llr_increment(report, public_llr, signal_model, flip)

    def marginal_log_likelihood(
        self,
        report: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        theta: npt.ArrayLike,
        signal_model: SignalModel,
        nodes: np.ndarray,
        weights: np.ndarray,
    ) -> np.ndarray:
        """log E_epsilon[P_epsilon(x | l, theta)] over budgets ``nodes`` with ``weights``.

        P is linear in u, so the expectation is the likelihood at the mean flip probability
        E[u] = sum_k w_k / (1 + e^{epsilon_k}).
        """
        flip = _mean_flip_probability(nodes, weights)
        return _mixed_log_likelihood(report, public_llr, theta, signal_model, flip)

    def marginal_llr_increment(
        self,
        report: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        signal_model: SignalModel,
        nodes: np.ndarray,
        weights: np.ndarray,
    ) -> np.ndarray:
        """The increment of the marginal likelihood: that of RR at the mean flip probability."""
        flip = _mean_flip_probability(nodes, weights)
        return _mixed_llr_increment(report, public_llr, signal_model, flip)


@dataclass(frozen=True)
class SmoothedRandomizedResponse(_CommonBudget):
    """Smoothed RR for Gaussian signals: u(s) = c exp(-epsilon |s - t(l)|).

    Attributes:
        epsilon: Privacy budget, > 0 and finite.
        amplitude: c in (0, 1/2]; 1/2 (default) makes P(x | s) epsilon-Lipschitz in s (metric DP).
    """

    epsilon: float
    amplitude: float = 0.5

    def __post_init__(self) -> None:
        _validate_epsilon(self.epsilon)
        _validate_amplitude(self.amplitude)

    def flip_probability(
        self,
        signal: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        signal_model: SignalModel,
        epsilon: npt.ArrayLike | None = None,
    ) -> np.ndarray:
        """u(s) = c exp(-epsilon |s - t(l)|)."""
        threshold = _require_gaussian(signal_model).threshold(public_llr)
        distance = np.abs(np.asarray(signal) - threshold)
        return self.amplitude * np.exp(-np.asarray(_budget(self.epsilon, epsilon)) * distance)

    def report_log_likelihood(
        self,
        report: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        theta: npt.ArrayLike,
        signal_model: SignalModel,
        epsilon: npt.ArrayLike | None = None,
    ) -> np.ndarray:
        """log P(x | l, theta) from :func:`smoothed_rr_log_likelihood` at the threshold t(l)."""
        signal_model = _require_gaussian(signal_model)
        return smoothed_rr_log_likelihood(
            report,
            signal_model.threshold(public_llr),
            theta,
            signal_model.sigma,
            _budget(self.epsilon, epsilon),
            self.amplitude,
        )

    def llr_increment(
        self,
        report: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        signal_model: SignalModel,
        epsilon: npt.ArrayLike | None = None,
    ) -> np.ndarray:
        """log P(x | l, +1) - log P(x | l, -1), sharing the standardised threshold of both states.

        With z_theta = x (theta - t(l)) / sigma = x (-t(l) / sigma) + x theta / sigma, the increment
        is log m(z_{+1}) - log m(z_{-1}) (see :func:`smoothed_rr_log_likelihood`).
        """
        signal_model = _require_gaussian(signal_model)
        sigma = signal_model.sigma
        report = np.asarray(report)
        centre = report * (-signal_model.threshold(public_llr) / sigma)
        shift = report / sigma
        scaled = np.asarray(_budget(self.epsilon, epsilon)) * sigma
        log_amplitude = math.log(self.amplitude)
        return _smoothed_rr_log_m(centre + shift, scaled, log_amplitude) - _smoothed_rr_log_m(
            centre - shift, scaled, log_amplitude
        )

    def marginal_log_likelihood(
        self,
        report: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        theta: npt.ArrayLike,
        signal_model: SignalModel,
        nodes: np.ndarray,
        weights: np.ndarray,
    ) -> np.ndarray:
        """log E_epsilon[P_epsilon(x | l, theta)] = log sum_k w_k P_{epsilon_k}(x | l, theta).

        P is not linear in epsilon here, so the closed form is evaluated at every node (on a trailing
        axis) and the weighted sum is taken in log space.
        """
        per_node = self.report_log_likelihood(
            np.asarray(report)[..., None],
            np.asarray(public_llr)[..., None],
            np.asarray(theta)[..., None],
            signal_model,
            nodes,
        )
        return logsumexp(per_node, axis=-1, b=weights)

    def marginal_llr_increment(
        self,
        report: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        signal_model: SignalModel,
        nodes: np.ndarray,
        weights: np.ndarray,
    ) -> np.ndarray:
        """The difference of :meth:`marginal_log_likelihood` under theta = +1 and theta = -1."""
        return _log_likelihood_difference(
            self.marginal_log_likelihood(report, public_llr, 1, signal_model, nodes, weights),
            self.marginal_log_likelihood(report, public_llr, -1, signal_model, nodes, weights),
        )


BaseMechanism = RandomizedResponse | SmoothedRandomizedResponse
"""The mechanisms with a finite budget epsilon, which :class:`HeterogeneousBudget` can wrap."""


@dataclass(frozen=True)
class HeterogeneousBudget:
    """Per-agent budgets epsilon_n drawn from a distribution, each agent using a base mechanism.

    Agent n privatises its action with ``base`` at its own budget epsilon_n (the base's own epsilon
    is replaced; its other parameters, such as the smoothed-RR amplitude, are kept). Observers who
    see epsilon_n (``observed``) use that agent's likelihood; otherwise they marginalise,
    P(x | l, theta) = E_epsilon[P_epsilon(x | l, theta)], computed by quadrature over the distribution
    (Gauss-Legendre for ``uniform``: the integrand is analytic in epsilon, so 32 nodes are exact to
    rounding; the two atoms for ``two_point``) through the base's ``marginal_log_likelihood``.

    Attributes:
        base: The mechanism of every agent: a :class:`RandomizedResponse` or a
            :class:`SmoothedRandomizedResponse`.
        distribution: ``uniform`` on [low, high], or ``two_point``: high with probability
            ``weight_high``, else low.
        low: Smallest budget, >= 0.
        high: Largest budget, > low and finite.
        weight_high: Probability of ``high`` under ``two_point``, in [0, 1].
        observed: Whether observers see each agent's budget.
        quadrature_nodes: Gauss-Legendre nodes for ``uniform``.
    """

    base: BaseMechanism
    distribution: Literal["uniform", "two_point"] = "uniform"
    low: float = 0.0
    high: float = 1.0
    weight_high: float = 0.5
    observed: bool = False
    quadrature_nodes: int = 32

    def __post_init__(self) -> None:
        if not isinstance(self.base, RandomizedResponse | SmoothedRandomizedResponse):
            raise ValueError(
                "base must be a RandomizedResponse or a SmoothedRandomizedResponse, "
                f"got {self.base!r}"
            )
        if self.distribution not in ("uniform", "two_point"):
            raise ValueError(
                f"distribution must be uniform or two_point, got {self.distribution!r}"
            )
        if not (self.low >= 0 and math.isfinite(self.low)):
            raise ValueError(f"low must be >= 0 and finite, got {self.low!r}")
        if not (self.high > self.low and math.isfinite(self.high)):
            raise ValueError(f"high must be > low ({self.low!r}) and finite, got {self.high!r}")
        if not 0.0 <= self.weight_high <= 1.0:
            raise ValueError(f"weight_high must be in [0, 1], got {self.weight_high!r}")
        if self.quadrature_nodes < 1:
            raise ValueError(f"quadrature_nodes must be >= 1, got {self.quadrature_nodes!r}")

    def quadrature(self) -> tuple[np.ndarray, np.ndarray]:
        """Nodes and weights (summing to 1) of the budget distribution."""
        if self.distribution == "two_point":
            return np.array([self.low, self.high]), np.array(
                [1 - self.weight_high, self.weight_high]
            )
        nodes, weights = _gauss_legendre(self.quadrature_nodes)
        half_width = 0.5 * (self.high - self.low)
        return self.low + half_width * (nodes + 1.0), 0.5 * weights

    @property
    def mean_epsilon(self) -> float:
        """E[epsilon]."""
        nodes, weights = self.quadrature()
        return float(nodes @ weights)

    def sample_epsilon(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """Draw per-agent budgets."""
        if self.distribution == "two_point":
            return np.where(rng.random(size) < self.weight_high, self.high, self.low)
        return rng.uniform(self.low, self.high, size)

    def flip_probability(
        self,
        signal: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        signal_model: SignalModel,
        epsilon: npt.ArrayLike | None = None,
    ) -> np.ndarray:
        """The base mechanism's flip probability at the agent's own budget ``epsilon``."""
        if epsilon is None:
            raise ValueError(
                "epsilon (the agent's own budget) is required for heterogeneous budgets"
            )
        return self.base.flip_probability(signal, public_llr, signal_model, epsilon)

    def report_log_likelihood(
        self,
        report: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        theta: npt.ArrayLike,
        signal_model: SignalModel,
        epsilon: npt.ArrayLike | None = None,
    ) -> np.ndarray:
        """log P(x | l, theta): at the seen budget if ``observed``, else averaged over the budgets."""
        if self.observed:
            return self.base.report_log_likelihood(
                report, public_llr, theta, signal_model, self._seen(epsilon)
            )
        return self.base.marginal_log_likelihood(
            report, public_llr, theta, signal_model, *self.quadrature()
        )

    def llr_increment(
        self,
        report: npt.ArrayLike,
        public_llr: npt.ArrayLike,
        signal_model: SignalModel,
        epsilon: npt.ArrayLike | None = None,
    ) -> np.ndarray:
        """log P(x | l, +1) / P(x | l, -1) at the seen budget, or of the marginal likelihood."""
        if self.observed:
            return self.base.llr_increment(report, public_llr, signal_model, self._seen(epsilon))
        return self.base.marginal_llr_increment(
            report, public_llr, signal_model, *self.quadrature()
        )

    def _seen(self, epsilon: npt.ArrayLike | None) -> npt.ArrayLike:
        if epsilon is None:
            raise ValueError("epsilon is required when budgets are observed")
        return epsilon


def make_mechanism(
    kind: Literal["randomized_response", "smoothed"], epsilon: float, amplitude: float = 0.5
) -> PrivacyMechanism:
    """Build a homogeneous mechanism; ``epsilon = inf`` gives :class:`NoPrivacy`.

    Raises:
        ValueError: epsilon <= 0 or NaN, amplitude outside (0, 1/2], or an unknown kind.
    """
    if isinstance(epsilon, int | float) and not isinstance(epsilon, bool) and epsilon == math.inf:
        _validate_amplitude(amplitude)
        return NoPrivacy()
    return make_base_mechanism(kind, epsilon, amplitude)


def make_base_mechanism(
    kind: Literal["randomized_response", "smoothed"], epsilon: float, amplitude: float = 0.5
) -> BaseMechanism:
    """Build a :class:`RandomizedResponse` or a :class:`SmoothedRandomizedResponse` by name.

    Raises:
        ValueError: epsilon <= 0, infinite or NaN, amplitude outside (0, 1/2], or an unknown kind.
    """
    if kind == "randomized_response":
        return RandomizedResponse(epsilon)
    if kind == "smoothed":
        return SmoothedRandomizedResponse(epsilon, amplitude)
    raise ValueError(f"mechanism must be randomized_response or smoothed, got {kind!r}")


def report_llr_increment(
    mechanism: PrivacyMechanism,
    report: npt.ArrayLike,
    public_llr: npt.ArrayLike,
    signal_model: SignalModel,
    epsilon: npt.ArrayLike | None = None,
) -> np.ndarray:
    """Observers' update l_{n+1} - l_n = log P(x | l, theta=+1) - log P(x | l, theta=-1)."""
    return mechanism.llr_increment(report, public_llr, signal_model, epsilon)


def _report_probability(
    agree: np.ndarray, disagree: np.ndarray, flip: np.ndarray | float
) -> np.ndarray:
    """P(x | l, theta) = (1 - u) P(a = x | l, theta) + u P(a = -x | l, theta)."""
    return (1.0 - flip) * agree + flip * disagree


def _mixed_log_likelihood(
    report: npt.ArrayLike,
    public_llr: npt.ArrayLike,
    theta: npt.ArrayLike,
    signal_model: SignalModel,
    flip: np.ndarray | float,
) -> np.ndarray:
    agree, disagree = signal_model.action_probability_pair(report, public_llr, theta)
    with np.errstate(divide="ignore"):
        return np.log(_report_probability(agree, disagree, flip))


def _log_ratio(plus: np.ndarray, minus: np.ndarray) -> np.ndarray:
    """log(plus / minus), and 0 where both are equal (an uninformative report, e.g. 0 / 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(plus == minus, 0.0, np.log(plus / minus))


def _mixed_llr_increment(
    report: npt.ArrayLike,
    public_llr: npt.ArrayLike,
    signal_model: SignalModel,
    flip: np.ndarray | float,
) -> np.ndarray:
    if isinstance(signal_model, BinarySignal) and np.ndim(flip) == 0:
        # Binary signals: P(x | l, theta) depends on l only through the regime (0, 1, 2), so the
        # increment is tabulated over (report, regime) and looked up, with no per-run logarithm.
        table = _binary_increment_table(signal_model, float(flip))
        index = signal_model.regime(public_llr) + np.int8(3) * (np.asarray(report) > 0)
        return table.take(index)
    plus = _report_probability(*signal_model.action_probability_pair(report, public_llr, 1), flip)
    minus = _report_probability(*signal_model.action_probability_pair(report, public_llr, -1), flip)
    return _log_ratio(plus, minus)


@functools.lru_cache(maxsize=64)
def _binary_increment_table(signal_model: BinarySignal, flip: float) -> np.ndarray:
    """LLR increments for (x = -1, regime 0..2) then (x = +1, regime 0..2), flattened."""
    by_theta = [signal_model.regime_action_probability(theta) for theta in (1, -1)]
    minus_report = _log_ratio(*(_report_probability(1.0 - p, p, flip) for p in by_theta))
    plus_report = _log_ratio(*(_report_probability(p, 1.0 - p, flip) for p in by_theta))
    table = np.concatenate([minus_report, plus_report])
    table.flags.writeable = False
    return table


@functools.lru_cache(maxsize=8)
def _gauss_legendre(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1] (cached: computing them solves an eigenproblem)."""
    return np.polynomial.legendre.leggauss(count)


def _mean_flip_probability(nodes: np.ndarray, weights: np.ndarray) -> float:
    """E[u] = sum_k w_k / (1 + e^{epsilon_k}), the randomized-response flip probability averaged."""
    return float(randomized_response_flip_probability(nodes) @ weights)


def _require_gaussian(signal_model: SignalModel) -> GaussianSignal:
    if not isinstance(signal_model, GaussianSignal):
        raise ValueError(
            f"smoothed randomized response needs Gaussian signals, got {type(signal_model).__name__}"
        )
    return signal_model


__all__ = [
    "BaseMechanism",
    "HeterogeneousBudget",
    "NoPrivacy",
    "PrivacyMechanism",
    "RandomizedResponse",
    "SmoothedRandomizedResponse",
    "make_base_mechanism",
    "make_mechanism",
    "randomized_response_flip_probability",
    "report_llr_increment",
    "smoothed_rr_log_likelihood",
]
