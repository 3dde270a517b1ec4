"""Vectorized engine: many independent sequences of Bayesian learners, numpy over runs.

Agents act one after another inside a sequence, so time is a Python loop; every step processes all
runs at once through :meth:`BayesianLearner.turn` (the same kernel the Mesa model and the Gymnasium
environment call). Summaries stream: per-run counters and first-passage times are updated in place and
the public LLR is kept only at log-spaced checkpoints, so memory is O(runs x checkpoints), never
O(agents x runs), and sequences of 10^6 agents are fine. Runs are processed in chunks of bounded
memory, each chunk with its own generator spawned from the caller's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from seqrl.agents.dp_bayesian_learner import BayesianLearner, Turn
from seqrl.mechanisms.dp_sequential import learning_speed_slopes
from seqrl.mechanisms.dp_signals import BinarySignal

#: Runs simulated together: long enough that numpy's per-call overhead is amortised (~30 arrays of
#: this length, 16 MiB), short enough to bound memory for millions of runs.
DEFAULT_CHUNK_RUNS = 65_536


@dataclass(frozen=True)
class SequenceSummary:
    """Streaming summaries of ``n_runs`` independent sequences of ``n_agents`` agents.

    Attributes:
        n_agents: Agents per sequence.
        theta: The state of each run (+1 or -1), shape (runs,).
        checkpoints: Agent indices n at which l_n was recorded (l_1 = 0, l_{N+1} final), shape (k,).
        public_llr: l_n at the checkpoints, shape (k, runs).
        wrong_actions_before: Wrong actions among agents 1 .. n - 1 at each checkpoint n, (k, runs).
        first_correct_action: First n with a_n = theta, or N + 1 if none (censored).
        first_correct_report: First n with x_n = theta, or N + 1 if none (censored).
        wrong_actions: Number of n <= N with a_n != theta.
        wrong_reports: Number of n <= N with x_n != theta.
        cascade_start: Reports before the first agent whose action ignores its signal, or -1 if no
            cascade started (binary signals only; always -1 for Gaussian signals).
        cascade_correct: Whether the cascade's action equals theta (False where none started).
        hitting_time: tau_B, the reports until |l| >= B first holds, or -1 (not reached or no bound).
        trajectory: Full l_1 .. l_{N+1} of the first recorded runs, shape (N + 1, recorded), or None.
    """

    n_agents: int
    theta: np.ndarray
    checkpoints: np.ndarray
    public_llr: np.ndarray
    wrong_actions_before: np.ndarray
    first_correct_action: np.ndarray
    first_correct_report: np.ndarray
    wrong_actions: np.ndarray
    wrong_reports: np.ndarray
    cascade_start: np.ndarray
    cascade_correct: np.ndarray
    hitting_time: np.ndarray
    trajectory: np.ndarray | None

    @property
    def n_runs(self) -> int:
        """Number of sequences."""
        return int(self.theta.size)

    @property
    def oriented_llr(self) -> np.ndarray:
        """theta l_n at the checkpoints: positive when the public belief favours the truth."""
        return self.public_llr * self.theta

    def learning_speed(self, start: int = 10) -> tuple[float, float]:
        """Slopes of the mean oriented l_n against log n and sqrt(log n), over checkpoints n >= start."""
        keep = self.checkpoints >= max(start, 2)
        return learning_speed_slopes(self.checkpoints[keep], self.oriented_llr[keep].mean(axis=1))


def log_checkpoints(n_agents: int, count: int = 60) -> np.ndarray:
    """Roughly log-spaced agent indices from 1 to n_agents + 1 (both included)."""
    return np.unique(np.geomspace(1, n_agents + 1, count).round().astype(np.int64))


def simulate_sequences(
    learner: BayesianLearner,
    n_agents: int,
    n_runs: int,
    rng: np.random.Generator,
    *,
    bound: float | None = None,
    checkpoints: np.ndarray | None = None,
    record_runs: int = 0,
    chunk_runs: int = DEFAULT_CHUNK_RUNS,
) -> SequenceSummary:
    """Simulate ``n_runs`` independent sequences, each with theta drawn uniformly from {-1, +1}.

    Args:
        learner: The agents' type (signal model and privacy mechanism).
        n_agents: Agents per sequence, >= 1.
        n_runs: Independent sequences, >= 1.
        rng: Random generator (chunks use generators spawned from it).
        bound: B for tau_B, or None.
        checkpoints: Agent indices at which to record l_n (default :func:`log_checkpoints`).
        record_runs: Keep the full trajectory of this many runs (memory N x record_runs).
        chunk_runs: Runs per chunk.
    """
    if n_agents < 1:
        raise ValueError(f"n_agents must be >= 1, got {n_agents!r}")
    if n_runs < 1:
        raise ValueError(f"n_runs must be >= 1, got {n_runs!r}")
    if bound is not None and not bound > 0:
        raise ValueError(f"bound must be > 0, got {bound!r}")
    checkpoints = log_checkpoints(n_agents) if checkpoints is None else np.asarray(checkpoints)
    if checkpoints.min() < 1 or checkpoints.max() > n_agents + 1:
        raise ValueError(f"checkpoints must lie in [1, {n_agents + 1}]")
    sizes = [min(chunk_runs, n_runs - start) for start in range(0, n_runs, chunk_runs)]
    parts = []
    recorded_left = record_runs
    for size, chunk_rng in zip(sizes, rng.spawn(len(sizes)), strict=True):
        record = min(recorded_left, size)
        recorded_left -= record
        parts.append(
            _simulate_chunk(learner, n_agents, size, chunk_rng, bound, checkpoints, record)
        )
    trajectories = [part.trajectory for part in parts if part.trajectory is not None]
    return SequenceSummary(
        n_agents=n_agents,
        theta=np.concatenate([part.theta for part in parts]),
        checkpoints=checkpoints,
        public_llr=np.concatenate([part.public_llr for part in parts], axis=1),
        wrong_actions_before=np.concatenate([part.wrong_actions_before for part in parts], axis=1),
        first_correct_action=np.concatenate([part.first_correct_action for part in parts]),
        first_correct_report=np.concatenate([part.first_correct_report for part in parts]),
        wrong_actions=np.concatenate([part.wrong_actions for part in parts]),
        wrong_reports=np.concatenate([part.wrong_reports for part in parts]),
        cascade_start=np.concatenate([part.cascade_start for part in parts]),
        cascade_correct=np.concatenate([part.cascade_correct for part in parts]),
        hitting_time=np.concatenate([part.hitting_time for part in parts]),
        trajectory=np.concatenate(trajectories, axis=1) if trajectories else None,
    )


def _simulate_chunk(
    learner: BayesianLearner,
    n_agents: int,
    n_runs: int,
    rng: np.random.Generator,
    bound: float | None,
    checkpoints: np.ndarray,
    record_runs: int,
) -> SequenceSummary:
    theta = np.where(rng.random(n_runs) < 0.5, 1, -1).astype(np.int8)
    public_llr = np.zeros(n_runs)
    never = n_agents + 1
    first_correct_action = np.full(n_runs, never, dtype=np.int64)
    first_correct_report = np.full(n_runs, never, dtype=np.int64)
    wrong_actions = np.zeros(n_runs, dtype=np.int64)
    wrong_reports = np.zeros(n_runs, dtype=np.int64)
    cascade_start = np.full(n_runs, -1, dtype=np.int64)
    hitting_time = np.full(n_runs, -1, dtype=np.int64)
    recorded = np.empty((checkpoints.size, n_runs))
    recorded_wrong = np.empty((checkpoints.size, n_runs), dtype=np.int64)
    trajectory = np.empty((n_agents + 1, record_runs)) if record_runs else None
    track_cascade = isinstance(learner.signal_model, BinarySignal)
    checkpoint_slot = {int(n): slot for slot, n in enumerate(checkpoints)}

    for agent in range(1, n_agents + 1):
        if agent in checkpoint_slot:
            recorded[checkpoint_slot[agent]] = public_llr
            recorded_wrong[checkpoint_slot[agent]] = wrong_actions
        if trajectory is not None:
            trajectory[agent - 1] = public_llr[:record_runs]
        if track_cascade:
            starts = (cascade_start < 0) & learner.signal_model.in_cascade(public_llr)
            cascade_start[starts] = agent - 1
        turn = learner.turn(public_llr, theta, rng)
        action_right = turn.action == theta
        report_right = turn.report == theta
        wrong_actions += ~action_right
        wrong_reports += ~report_right
        first_correct_action[action_right & (first_correct_action == never)] = agent
        first_correct_report[report_right & (first_correct_report == never)] = agent
        public_llr = turn.public_llr
        if bound is not None:
            hitting_time[(hitting_time < 0) & (np.abs(public_llr) >= bound)] = agent

    if never in checkpoint_slot:
        recorded[checkpoint_slot[never]] = public_llr
        recorded_wrong[checkpoint_slot[never]] = wrong_actions
    if trajectory is not None:
        trajectory[n_agents] = public_llr[:record_runs]
    started = cascade_start >= 0
    cascade_correct = started & (np.sign(public_llr) == theta)  # l is frozen inside a cascade
    return SequenceSummary(
        n_agents=n_agents,
        theta=theta,
        checkpoints=checkpoints,
        public_llr=recorded,
        wrong_actions_before=recorded_wrong,
        first_correct_action=first_correct_action,
        first_correct_report=first_correct_report,
        wrong_actions=wrong_actions,
        wrong_reports=wrong_reports,
        cascade_start=cascade_start,
        cascade_correct=cascade_correct,
        hitting_time=hitting_time,
        trajectory=trajectory,
    )


def simulate_hitting_times(
    learner: BayesianLearner,
    bound: float,
    max_agents: int,
    n_runs: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """tau_B, the reports until |l| >= B, for ``n_runs`` sequences under theta = +1.

    Only runs that have not stopped are simulated (by symmetry theta = -1 gives the same law).

    Args:
        learner: The agents' type.
        bound: B > 0.
        max_agents: Censoring horizon; runs that never reach |l| >= B get -1.
        n_runs: Independent sequences.
        rng: Random generator.

    Returns:
        Hitting times, shape (n_runs,), -1 where censored.
    """
    if not bound > 0:
        raise ValueError(f"bound must be > 0, got {bound!r}")
    return _first_passage(
        learner, max_agents, n_runs, rng, lambda turn: np.abs(turn.public_llr) >= bound
    )


def simulate_first_correct(
    learner: BayesianLearner,
    max_agents: int,
    n_runs: int,
    rng: np.random.Generator,
    of: str = "action",
) -> np.ndarray:
    """The index of the first agent whose action (or report) is correct, under theta = +1.

    Only runs that have not stopped are simulated, so heavy tails (the non-private expectation is
    infinite) cost little: the work is n_runs x E[min(T, max_agents)].

    Args:
        learner: The agents' type.
        max_agents: Censoring horizon; runs with no correct one get -1.
        n_runs: Independent sequences.
        rng: Random generator.
        of: ``action`` or ``report``.

    Returns:
        First-correct indices, shape (n_runs,), -1 where censored.
    """
    if of not in ("action", "report"):
        raise ValueError(f"of must be action or report, got {of!r}")
    return _first_passage(learner, max_agents, n_runs, rng, lambda turn: getattr(turn, of) > 0)


def _first_passage(
    learner: BayesianLearner,
    max_agents: int,
    n_runs: int,
    rng: np.random.Generator,
    stops: Callable[[Turn], np.ndarray],
) -> np.ndarray:
    if max_agents < 1:
        raise ValueError(f"max_agents must be >= 1, got {max_agents!r}")
    if n_runs < 1:
        raise ValueError(f"n_runs must be >= 1, got {n_runs!r}")
    stopped_at = np.full(n_runs, -1, dtype=np.int64)
    active = np.arange(n_runs)
    public_llr = np.zeros(n_runs)
    for agent in range(1, max_agents + 1):
        turn = learner.turn(public_llr, 1, rng)
        stop = stops(turn)
        public_llr = turn.public_llr
        if stop.any():
            stopped_at[active[stop]] = agent
            active, public_llr = active[~stop], public_llr[~stop]
            if active.size == 0:
                break
    return stopped_at
