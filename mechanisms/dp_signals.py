"""Private signals and the Bayesian threshold rule of sequential learning.

Liu & Rahimian, "Differentially Private Sequential Learning" (arXiv 2502.19525, 2025), Section 2.
The state is theta in {-1, +1} with equal prior. Agent n sees the public log-likelihood ratio l_n and
a private signal s_n, and acts a_n = +1 iff l_n + lambda(s_n) > 0, where lambda is the private LLR.
Ties (possible with binary signals) follow the agent's own signal.

Every function is batched: ``public_llr``, ``theta``, ``signal`` and ``action`` broadcast together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import log_ndtr, ndtr

#: Relative margin under which l + lambda counts as a tie (l is a sum of floating-point steps).
TIE_TOLERANCE = 1e-9


def prefers_plus(public_llr: npt.ArrayLike, private_llr: npt.ArrayLike) -> np.ndarray:
    """Whether the Bayesian rule picks +1: l + (1 + TIE_TOLERANCE) lambda > 0.

    The nudge of the private LLR breaks ties (l + lambda = 0 up to rounding) toward the own signal.
    """
    return np.add(public_llr, np.multiply(private_llr, 1.0 + TIE_TOLERANCE)) > 0


def bayesian_action(public_llr: npt.ArrayLike, private_llr: npt.ArrayLike) -> np.ndarray:
    """The Bayesian threshold rule a = sign(l + lambda); ties follow the own signal, sign(lambda).

    Args:
        public_llr: l_n, the public log-likelihood ratio before the agent acts.
        private_llr: lambda(s_n), the log-likelihood ratio of the private signal.

    Returns:
        Actions in {-1, +1} (int8), broadcast over the inputs.
    """
    return np.asarray(prefers_plus(public_llr, private_llr)).view(np.int8) * np.int8(2) - np.int8(1)


def _validate_number(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise ValueError(f"{name} must be a number, got {value!r}")


@dataclass(frozen=True)
class BinarySignal:
    """Binary signal: P(s = theta) = p with 1/2 < p < 1; private LLR lambda(s) = s log(p / (1 - p)).

    Attributes:
        p: Signal accuracy, in the open interval (1/2, 1).
    """

    p: float

    def __post_init__(self) -> None:
        _validate_number("p", self.p)
        if not 0.5 < self.p < 1.0:  # also rejects NaN
            raise ValueError(f"p must be in (1/2, 1), got {self.p!r}")

    @property
    def private_llr_magnitude(self) -> float:
        """L = log(p / (1 - p)), the absolute private LLR of one signal."""
        return math.log(self.p / (1.0 - self.p))

    def sample(self, theta: npt.ArrayLike, uniform: npt.ArrayLike) -> np.ndarray:
        """Signals s = theta with probability p, else -theta, from uniforms on [0, 1)."""
        theta = np.asarray(theta, dtype=np.int8)
        return np.where(np.asarray(uniform) < self.p, theta, -theta)

    def private_llr(self, signal: npt.ArrayLike) -> np.ndarray:
        """lambda(s) = s L."""
        return np.asarray(signal) * self.private_llr_magnitude

    def regime(self, public_llr: npt.ArrayLike) -> np.ndarray:
        """How many of the two signals lead to action +1 at l: 0 or 2 inside a cascade, 1 outside.

        regime(l) = 1{a(l, +L) = +1} + 1{a(l, -L) = +1}, i.e. 2 for l > L, 1 for |l| <= L (ties
        follow the signal), 0 for l < -L.
        """
        magnitude = self.private_llr_magnitude
        return np.add(
            prefers_plus(public_llr, magnitude), prefers_plus(public_llr, -magnitude), dtype=np.int8
        )

    def regime_action_probability(self, theta: int) -> np.ndarray:
        """P(a = +1 | regime, theta) for regimes 0, 1, 2: (0, P(s = +1 | theta), 1)."""
        return np.array([0.0, self.p if theta > 0 else 1.0 - self.p, 1.0])

    def action_probability(
        self, action: npt.ArrayLike, public_llr: npt.ArrayLike, theta: npt.ArrayLike
    ) -> np.ndarray:
        """P(a = action | l, theta) under :func:`bayesian_action`.

        P(a = +1 | l, theta) = P(s = +1 | theta) 1{a(l, +L) = +1} + P(s = -1 | theta) 1{a(l, -L) = +1},
        with P(s = +1 | theta) = p for theta = +1 and 1 - p for theta = -1: by regime, 0, P(s = +1 |
        theta) or 1.
        """
        regime = self.regime(public_llr)
        theta = np.asarray(theta)
        plus = np.where(
            theta > 0,
            self.regime_action_probability(1)[regime],
            self.regime_action_probability(-1)[regime],
        )
        return np.where(np.asarray(action) > 0, plus, 1.0 - plus)

    def action_probability_pair(
        self, action: npt.ArrayLike, public_llr: npt.ArrayLike, theta: npt.ArrayLike
    ) -> tuple[np.ndarray, np.ndarray]:
        """(P(a = action | l, theta), P(a = -action | l, theta))."""
        agree = self.action_probability(action, public_llr, theta)
        return agree, 1.0 - agree

    def in_cascade(self, public_llr: npt.ArrayLike) -> np.ndarray:
        """Whether the action no longer depends on the signal (regime 0 or 2, i.e. |l| > L)."""
        return self.regime(public_llr) != 1


@dataclass(frozen=True)
class GaussianSignal:
    """Gaussian signal s | theta ~ N(theta, sigma^2); private LLR lambda(s) = 2 s / sigma^2.

    The Bayesian action is a = +1 iff s > t(l) = -sigma^2 l / 2, so
    P(a = +1 | l, theta) = Phi((theta - t(l)) / sigma) = Phi((theta + sigma^2 l / 2) / sigma).

    Attributes:
        sigma: Signal standard deviation, > 0.
    """

    sigma: float

    def __post_init__(self) -> None:
        _validate_number("sigma", self.sigma)
        if not (self.sigma > 0 and math.isfinite(self.sigma)):
            raise ValueError(f"sigma must be > 0 and finite, got {self.sigma!r}")

    def sample(self, theta: npt.ArrayLike, normal: npt.ArrayLike) -> np.ndarray:
        """Signals s = theta + sigma z from standard normals z."""
        return np.asarray(theta) + self.sigma * np.asarray(normal)

    def private_llr(self, signal: npt.ArrayLike) -> np.ndarray:
        """lambda(s) = 2 s / sigma^2."""
        return np.asarray(signal) * (2.0 / self.sigma**2)

    def threshold(self, public_llr: npt.ArrayLike) -> np.ndarray:
        """t(l) = -sigma^2 l / 2: the agent acts +1 iff s > t(l)."""
        return -0.5 * self.sigma**2 * np.asarray(public_llr, dtype=float)

    def action_probability(
        self, action: npt.ArrayLike, public_llr: npt.ArrayLike, theta: npt.ArrayLike
    ) -> np.ndarray:
        """P(a = action | l, theta) = Phi(a (theta - t(l)) / sigma)."""
        return ndtr(self._standardized_margin(action, public_llr, theta))

    def action_probability_pair(
        self, action: npt.ArrayLike, public_llr: npt.ArrayLike, theta: npt.ArrayLike
    ) -> tuple[np.ndarray, np.ndarray]:
        """(P(a = action | l, theta), P(a = -action | l, theta)), each accurate in its tail."""
        margin = self._standardized_margin(action, public_llr, theta)
        return ndtr(margin), ndtr(-margin)

    def log_action_probability(
        self, action: npt.ArrayLike, public_llr: npt.ArrayLike, theta: npt.ArrayLike
    ) -> np.ndarray:
        """log P(a = action | l, theta), accurate in the tails."""
        return log_ndtr(self._standardized_margin(action, public_llr, theta))

    def in_cascade(self, public_llr: npt.ArrayLike) -> np.ndarray:
        """Gaussian signals are unbounded: no cascade ever starts."""
        return np.zeros(np.shape(public_llr), dtype=bool)

    def _standardized_margin(
        self, action: npt.ArrayLike, public_llr: npt.ArrayLike, theta: npt.ArrayLike
    ) -> np.ndarray:
        return np.asarray(action) * (np.asarray(theta) - self.threshold(public_llr)) / self.sigma


SignalModel = BinarySignal | GaussianSignal
