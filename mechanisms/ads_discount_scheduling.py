"""Automatic Discount Scheduling (ADS; Liu et al., ICLR 2024, arXiv 2310.07433).

Progress recognizer. For an agent rollout ``x`` and a demo ``y`` with frame costs ``C_ij`` and a
progress ``p``, the nearest expert frame of each of the first ``p`` agent frames is
``m_i = argmin_{j <= p} C_ij`` (i = 1..p) and the match score is the length of the longest strictly
increasing subsequence of ``(m_1..m_p)``. The agent statistic ``S_p`` is the ``agent_percentile``
(90th) percentile of that score over (evaluation rollouts x demos); the reference ``R_k`` is the
``reference_percentile`` (50th) percentile over ordered pairs of distinct demos of the score on the
``k x k`` block. After each evaluation, up to ``max_increments`` (5) times: if
``S_p >= floor(threshold * R_p)`` then ``p <- p + 1``; progress never decreases and is at most T.

Discount mapping: ``gamma = alpha ** (1 / p)`` so that ``gamma ** p = alpha`` (alpha = 0.2): rewards
more than ``p`` steps ahead are discounted below ``alpha``.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal

import numpy as np

Schedule = Literal["ads", "fixed", "linear"]
"""Discount schedules: ADS (from the recognizer's progress), a fixed discount, or a linear ramp."""
SCHEDULES: tuple[Schedule, ...] = typing.get_args(Schedule)


@dataclass(frozen=True)
class ProgressParams:
    """Parameters of the progress recognizer.

    Attributes:
        horizon: Episode length T in agent steps (progress lies in [1, T]).
        threshold: lambda; advance when ``S_p >= floor(lambda * R_p)`` (paper: 0.9).
        initial_fraction: ``p0 = floor(initial_fraction * T)`` (paper: 0.2), at least 1.
        max_increments: Most increments of ``p`` per update (paper: 5).
        agent_percentile: Percentile of agent scores over rollouts x demos (paper: 90).
        reference_percentile: Percentile of demo-vs-demo scores (paper: 50, the median).
    """

    horizon: int
    threshold: float = 0.9
    initial_fraction: float = 0.2
    max_increments: int = 5
    agent_percentile: float = 90.0
    reference_percentile: float = 50.0

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {self.horizon}")
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if not 0 <= self.initial_fraction <= 1:
            raise ValueError(f"initial_fraction must be in [0, 1], got {self.initial_fraction}")
        if self.max_increments < 0:
            raise ValueError(f"max_increments must be >= 0, got {self.max_increments}")
        for name in ("agent_percentile", "reference_percentile"):
            value = getattr(self, name)
            if not 0 <= value <= 100:
                raise ValueError(f"{name} must be in [0, 100], got {value}")

    @property
    def initial_progress(self) -> int:
        """``p0 = max(1, floor(initial_fraction * T))``."""
        return max(1, int(np.floor(self.initial_fraction * self.horizon)))


@dataclass(frozen=True)
class DiscountParams:
    """Parameters of the progress-to-discount mapping.

    Attributes:
        alpha: ``gamma = alpha ** (1 / p)``; must lie in (0, 1) (paper: 0.2).
    """

    alpha: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")


def longest_increasing_subsequence_length(sequences: np.ndarray) -> np.ndarray:
    """Length of the longest strictly increasing subsequence of each row.

    ``L_i = 1 + max{L_j : j < i, a_j < a_i}`` (0 if none); answer ``max_i L_i``. The O(n^2) dynamic
    programme is vectorised over rows (the loop runs over positions, not over sequences); no
    library offers a batched LIS.

    Args:
        sequences: Integer array ``(..., n)`` with ``n >= 1``.

    Returns:
        Integer array ``(...)``.
    """
    values = np.asarray(sequences)
    batch_shape = values.shape[:-1]
    flat = values.reshape(-1, values.shape[-1])
    lengths = np.ones(flat.shape, dtype=np.int64)
    for i in range(1, flat.shape[1]):
        smaller = flat[:, :i] < flat[:, i : i + 1]
        lengths[:, i] = 1 + np.max(np.where(smaller, lengths[:, :i], 0), axis=1)
    return lengths.max(axis=1).reshape(batch_shape)


def nearest_frame_indices(costs: np.ndarray, progress: int) -> np.ndarray:
    """``m_i = argmin_{j < p} C_ij`` for the first ``p`` agent frames (0-based indices).

    Args:
        costs: ``(..., T_a, T_e)`` with ``T_a, T_e >= p``.
        progress: p >= 1.

    Returns:
        ``(..., p)`` integer indices.
    """
    return np.argmin(np.asarray(costs)[..., :progress, :progress], axis=-1)


def match_scores(costs: np.ndarray, progress: int) -> np.ndarray:
    """LIS length of the nearest-expert-frame indices on the ``p x p`` block, ``(...)``."""
    return longest_increasing_subsequence_length(nearest_frame_indices(costs, progress))


def reference_scores(demo_costs: np.ndarray, percentile: float = 50.0) -> np.ndarray:
    """Reference ``R_k`` for k = 1..T from demo-vs-demo costs.

    Args:
        demo_costs: ``(N, N, T, T)`` costs between every ordered pair of demos (N >= 2); the
            diagonal pairs are ignored.
        percentile: Percentile over the ``N (N - 1)`` ordered pairs (median in the paper).

    Returns:
        ``(T,)`` array; entry ``k - 1`` is ``R_k``.
    """
    demo_costs = np.asarray(demo_costs)
    n_demos, horizon = demo_costs.shape[0], demo_costs.shape[-1]
    if n_demos < 2:
        raise ValueError(f"reference scores need >= 2 demos, got {n_demos}")
    rows, columns = np.nonzero(~np.eye(n_demos, dtype=bool))
    pairs = demo_costs[rows, columns]
    scores = np.stack([match_scores(pairs, k) for k in range(1, horizon + 1)], axis=-1)
    return np.percentile(scores, percentile, axis=0)


def agent_statistic(agent_costs: np.ndarray, progress: int, percentile: float = 90.0) -> float:
    """``S_p``: percentile of match scores over all (rollout, demo) cost matrices ``(M, T, T)``."""
    return float(np.percentile(match_scores(agent_costs, progress), percentile))


def update_progress(
    progress: int, agent_costs: np.ndarray, reference: np.ndarray, params: ProgressParams
) -> int:
    """One recognizer update: at most ``max_increments`` steps of ``p <- p + 1``.

    Each step advances while ``p < T`` and ``S_p >= floor(threshold * R_p)``; ``S`` is recomputed
    at the new ``p``. Progress never decreases.

    Args:
        progress: Current p in [1, T].
        agent_costs: ``(M, T, T)`` costs of evaluation rollouts against demos (M = rollouts x demos).
        reference: ``(T,)`` reference scores from :func:`reference_scores`.
        params: Recognizer parameters.

    Returns:
        The new progress (>= ``progress``).
    """
    if not 1 <= progress <= params.horizon:
        raise ValueError(f"progress must be in [1, {params.horizon}], got {progress}")
    for _ in range(params.max_increments):
        if progress >= params.horizon:
            break
        if recognizer_margin(progress, agent_costs, reference, params) < 0:
            break
        progress += 1
    return progress


def recognizer_margin(
    progress: int, agent_costs: np.ndarray, reference: np.ndarray, params: ProgressParams
) -> float:
    """``S_p - floor(threshold * R_p)``: how far the agent's match score is above (>= 0: the
    recognizer advances) or below the bar at progress ``p``. Arguments as in
    :func:`update_progress`."""
    statistic = agent_statistic(agent_costs, progress, params.agent_percentile)
    return statistic - float(np.floor(params.threshold * reference[progress - 1]))


def discount_from_progress(progress: np.ndarray | int, params: DiscountParams) -> np.ndarray:
    """``gamma = alpha ** (1 / p)`` (batched over ``progress``)."""
    progress = np.asarray(progress, dtype=np.float64)
    if np.any(progress <= 0):
        raise ValueError(f"progress must be > 0, got {progress}")
    return params.alpha ** (1.0 / progress)


def linear_discount(
    step: np.ndarray | int, total_steps: int, start: float, end: float
) -> np.ndarray:
    """Hand-made linear schedule: ``gamma(t) = start + (end - start) * min(1, t / total_steps)``."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    fraction = np.clip(np.asarray(step, dtype=np.float64) / total_steps, 0.0, 1.0)
    return start + (end - start) * fraction
