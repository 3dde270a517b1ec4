"""Closed forms and exact solvers of private sequential learning.

Liu & Rahimian, "Differentially Private Sequential Learning" (arXiv 2502.19525, 2025):
- the binary-signal cascade under randomized response, solved as a gambler's ruin on the net count
  of reports (derivation in :class:`BinaryCascadeClosedForm`);
- the expected hitting time E[tau_B] of |l| >= B from the Bellman equation
  H(l) = 1 + P+(l) H(l + D+(l)) + (1 - P+(l)) H(l + D-(l)), H = 0 for |l| >= B;
- learning-speed fits of l_n against log n and against sqrt(log n).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu

from seqrl.mechanisms.dp_privacy import randomized_response_flip_probability
from seqrl.mechanisms.dp_signals import TIE_TOLERANCE, BinarySignal


@dataclass(frozen=True)
class BinaryCascadeClosedForm:
    """Gambler's-ruin solution of the binary cascade under randomized response.

    Derivation (theta = +1; theta = -1 is its mirror image). Before a cascade, |l| <= L with
    L = log(p / (1 - p)), every agent follows its own signal (ties included), so its report is +1 with
    probability q = p (1 - u) + (1 - p) u under theta = +1 and 1 - q under theta = -1, where
    u = 1 / (1 + e^epsilon). Each report therefore moves l by +-D, D = log(q / (1 - q)) <= L, and
    l = k D where k is the net count of +1 reports. Agent n is in a cascade iff |l_n| > L, i.e.
    |k| >= K = floor(L / D) + 1 (at k D = L the agent ties and follows its signal). Inside a cascade
    the action ignores the signal, P(x | l, +1) = P(x | l, -1), and l stops moving forever. So k is a
    random walk with up-probability q absorbed at +-K. With r = (1 - q) / q:
        P(cascade correct) = (1 - r^K) / (1 - r^{2K}) = 1 / (1 + r^K) = 1 / (1 + e^{-K D}),
        E[reports before the cascade] = K (1 - r^K) / ((2q - 1)(1 + r^K))   (K^2 when q = 1/2).
    Since K D is the first multiple of D above L, it jumps as epsilon varies and P(correct) is not
    monotone in epsilon. Without privacy (u = 0) D = L and K = 2: P = p^2 / (p^2 + (1 - p)^2).

    Attributes:
        p: Signal accuracy in (1/2, 1).
        epsilon: Privacy budget, > 0; ``math.inf`` for no privacy.
    """

    p: float
    epsilon: float

    def __post_init__(self) -> None:
        BinarySignal(self.p)
        if not self.epsilon > 0:  # also rejects NaN
            raise ValueError(f"epsilon must be > 0 (inf for no privacy), got {self.epsilon!r}")

    @property
    def flip_probability(self) -> float:
        """u = 1 / (1 + e^epsilon) (0 without privacy)."""
        return float(randomized_response_flip_probability(self.epsilon))

    @property
    def report_accuracy(self) -> float:
        """q = P(x = theta) before a cascade."""
        u = self.flip_probability
        return self.p * (1.0 - u) + (1.0 - self.p) * u

    @property
    def step(self) -> float:
        """D = log(q / (1 - q)), the public-LLR step of one report before a cascade."""
        q = self.report_accuracy
        return math.log(q / (1.0 - q))

    @property
    def threshold_count(self) -> int:
        """K, the net report count at which the cascade starts."""
        ratio = BinarySignal(self.p).private_llr_magnitude / self.step
        return math.floor(ratio * (1.0 + TIE_TOLERANCE)) + 1

    @property
    def probability_correct(self) -> float:
        """P(the cascade is correct) = 1 / (1 + r^K)."""
        return 1.0 / (1.0 + math.exp(-self.threshold_count * self.step))

    @property
    def expected_start(self) -> float:
        """E[number of reports before the cascade starts]."""
        count = self.threshold_count
        q = self.report_accuracy
        ruin = math.exp(-count * self.step)  # r^K
        return count * (1.0 - ruin) / ((2.0 * q - 1.0) * (1.0 + ruin))


Transition = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def bellman_hitting_time(transition: Transition, bound: float, grid_points: int = 4000) -> float:
    """E[tau_B] from l = 0, solving the Bellman equation on a grid over l in [-B, B].

    H(l) = 1 + P+(l) H(l + D+(l)) + (1 - P+(l)) H(l + D-(l)) for |l| < B, and H(l) = 0 for |l| >= B,
    with H between grid nodes interpolated linearly; the resulting sparse linear system is solved
    exactly (sparse LU). tau_B counts the reports until |l| first reaches B.

    Args:
        transition: Maps public LLRs l to (P+(l), D+(l), D-(l)): the probability of a +1 report
            under the state used for the expectation, and the LLR steps after a +1 and a -1 report.
        bound: B > 0.
        grid_points: Number of grid intervals (made even so that l = 0 is a node).

    Returns:
        H(0).
    """
    if not bound > 0:
        raise ValueError(f"bound must be > 0, got {bound!r}")
    intervals = grid_points + grid_points % 2
    spacing = 2.0 * bound / intervals
    grid = np.linspace(-bound, bound, intervals + 1)[1:-1]  # unknowns: interior nodes 1..M-1
    size = grid.size
    prob_plus, step_plus, step_minus = (np.broadcast_to(a, grid.shape) for a in transition(grid))
    rows, cols, values = [], [], []
    for probability, step in ((prob_plus, step_plus), (1.0 - prob_plus, step_minus)):
        target = grid + step
        inside = np.abs(target) < bound
        position = (target[inside] + bound) / spacing
        left = np.floor(position).astype(int)
        weight_right = position - left
        row = np.flatnonzero(inside)
        for node, weight in ((left, 1.0 - weight_right), (left + 1, weight_right)):
            keep = (node >= 1) & (node <= size)  # boundary nodes 0 and M carry H = 0
            rows.append(row[keep])
            cols.append(node[keep] - 1)
            values.append(probability[inside][keep] * weight[keep])
    moves = sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(size, size)
    )
    system = (sparse.identity(size, format="csr") - moves).tocsc()
    values_h = splu(system).solve(np.ones(size))
    return float(values_h[size // 2])


def learning_speed_slopes(agent_index: np.ndarray, public_llr: np.ndarray) -> tuple[float, float]:
    """Least-squares slopes of l_n against log n and against sqrt(log n) (each with an intercept).

    Private learning predicts l_n ~ (2 / (epsilon sigma^2)) log n; non-private learning with Gaussian
    signals l_n ~ (2 sqrt(2) / sigma) sqrt(log n).

    Args:
        agent_index: n >= 2 at which l_n was recorded.
        public_llr: l_n at those n (oriented so that the truth is positive, or averaged over runs).

    Returns:
        (slope against log n, slope against sqrt(log n)).
    """
    log_n = np.log(np.asarray(agent_index, dtype=float))
    llr = np.asarray(public_llr, dtype=float)
    slopes = []
    for regressor in (log_n, np.sqrt(log_n)):
        centred = regressor - regressor.mean()
        slopes.append(float(centred @ (llr - llr.mean()) / (centred @ centred)))
    return slopes[0], slopes[1]
