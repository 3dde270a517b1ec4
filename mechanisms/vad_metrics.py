"""Trajectory metrics of an affective state under a perturbation-then-reconciliation protocol.

Subaharan (2026), arXiv 2601.16087, section on evaluation. Turns are numbered 1..T; ``states`` (s_t)
and ``estimates`` (x_t) have shape (..., T) for one affect dimension (usually valence) and every
function is batched over the leading axes. ``perturbation_start`` and ``reconciliation_start`` are
1-based turn numbers (6 and 16 in the 25-turn protocol).

The perturbation's direction ``d`` (+1 or -1) is the sign of the mean estimate during the
perturbation phase minus the baseline (-1 for a hostile phase); the deviation of the state is then
``d (s_t - b)``, positive when the state has moved the way the perturbation pushes.
"""

from __future__ import annotations

import numpy as np


def _turn_mask(length: int, first: int, last: int | None = None) -> np.ndarray:
    """Boolean mask over turns 1..length selecting first..last (1-based, inclusive)."""
    turns = np.arange(1, length + 1)
    return (turns >= first) & (turns <= (length if last is None else last))


def phase_baseline(states: np.ndarray, perturbation_start: int) -> np.ndarray:
    """Baseline b: the mean state over the turns before the perturbation (the neutral phase)."""
    states = np.asarray(states, dtype=float)
    return states[..., : perturbation_start - 1].mean(axis=-1)


def perturbation_direction(
    estimates: np.ndarray, perturbation_start: int, reconciliation_start: int
) -> np.ndarray:
    """d = sign(mean x over the perturbation phase - mean x over the neutral phase); -1 when 0."""
    estimates = np.asarray(estimates, dtype=float)
    mask = _turn_mask(estimates.shape[-1], perturbation_start, reconciliation_start - 1)
    shift = estimates[..., mask].mean(axis=-1) - phase_baseline(estimates, perturbation_start)
    return np.where(shift > 0, 1.0, -1.0)


def response_latency(
    states: np.ndarray,
    baseline: np.ndarray,
    direction: np.ndarray,
    perturbation_start: int,
    threshold: float,
) -> np.ndarray:
    """Turns from the perturbation's onset until the state first deviates by ``threshold``.

    latency = min{t >= perturbation_start : d (s_t - b) >= threshold} - perturbation_start, so a state
    that reacts at the onset turn itself has latency 0 (the stateless case). NaN when the state never
    crosses the threshold (right-censored).
    """
    states = np.asarray(states, dtype=float)
    deviation = np.asarray(direction)[..., None] * (states - np.asarray(baseline)[..., None])
    crossed = (deviation >= threshold) & _turn_mask(states.shape[-1], perturbation_start)
    first = np.argmax(crossed, axis=-1).astype(float) + 1.0
    return np.where(crossed.any(axis=-1), first - perturbation_start, np.nan)


def recovery(
    states: np.ndarray,
    baseline: np.ndarray,
    direction: np.ndarray,
    reconciliation_start: int,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Whether and when the state is back near its baseline and stays there.

    The recovery turn is the first t >= reconciliation_start such that d (s_tau - b) <= tolerance
    for every tau in t..T: the state has come back to within ``tolerance`` of the baseline (or
    beyond it, away from the perturbation) and never leaves again. If even s_T is still out, the
    run has not recovered; the recovery turn is then censored at the last turn T.

    Returns:
        (recovered: bool array, recovery_turn: int array of 1-based turn numbers).
    """
    states = np.asarray(states, dtype=float)
    length = states.shape[-1]
    deviation = np.asarray(direction)[..., None] * (states - np.asarray(baseline)[..., None])
    out = (deviation > tolerance) & _turn_mask(length, reconciliation_start)
    # Last turn that is still out (0 when none): recovery starts the turn after it.
    last_out = np.where(out.any(axis=-1), length - np.argmax(out[..., ::-1], axis=-1), 0)
    recovered = last_out < length
    turn = np.where(recovered, np.maximum(last_out + 1, reconciliation_start), length)
    return recovered, turn.astype(int)


def hysteresis(states: np.ndarray, estimates: np.ndarray, perturbation_start: int) -> np.ndarray:
    """Mean lag |s_t - x_t| over the turns from the perturbation's onset to the end.

    The area between the state and the instantaneous signal per turn: the state's memory of turns
    that the signal has already left. Exactly 0 for the stateless condition (s = x).
    """
    states = np.asarray(states, dtype=float)
    mask = _turn_mask(states.shape[-1], perturbation_start)
    return np.abs(states - np.asarray(estimates, dtype=float))[..., mask].mean(axis=-1)


def smoothness(states: np.ndarray) -> np.ndarray:
    """Mean absolute turn-to-turn change mean_t |s_t - s_{t-1}| over t = 2..T (lower is smoother)."""
    return np.abs(np.diff(np.asarray(states, dtype=float), axis=-1)).mean(axis=-1)


def overshoot(states: np.ndarray, estimates: np.ndarray, initial_state: np.ndarray) -> np.ndarray:
    """Largest excursion of the state outside the range of what has driven it so far.

    overshoot = max_t max(0, s_t - max(s_0, x_1..x_t), min(s_0, x_1..x_t) - s_t). A first-order (or
    stateless) state is a convex combination of s_0 and past estimates, so its overshoot is 0; a
    second-order state can swing past its inputs.
    """
    states = np.asarray(states, dtype=float)
    estimates = np.asarray(estimates, dtype=float)
    initial = np.asarray(initial_state, dtype=float)[..., None]
    upper = np.maximum(np.maximum.accumulate(estimates, axis=-1), initial)
    lower = np.minimum(np.minimum.accumulate(estimates, axis=-1), initial)
    excess = np.maximum(states - upper, lower - states)
    return np.maximum(excess.max(axis=-1), 0.0)


def trajectory_metrics(
    states: np.ndarray,
    estimates: np.ndarray,
    initial_state: float,
    perturbation_start: int,
    reconciliation_start: int,
    threshold: float = 0.2,
    tolerance: float = 0.1,
) -> dict[str, float | int | bool]:
    """All metrics of one trajectory (one dimension), as the scenario's result columns."""
    states = np.asarray(states, dtype=float)
    estimates = np.asarray(estimates, dtype=float)
    baseline = phase_baseline(states, perturbation_start)
    direction = perturbation_direction(estimates, perturbation_start, reconciliation_start)
    recovered, recovery_turn = recovery(
        states, baseline, direction, reconciliation_start, tolerance
    )
    return {
        "recovered": bool(recovered),
        "recovery_turn": int(recovery_turn),
        "response_latency": float(
            response_latency(states, baseline, direction, perturbation_start, threshold)
        ),
        "hysteresis": float(hysteresis(states, estimates, perturbation_start)),
        "smoothness": float(smoothness(states)),
        "overshoot": float(overshoot(states, estimates, np.asarray(initial_state))),
    }
