"""Vectorized engine: many independent sequences of Bayesian learners, streaming their summaries.

Two backends run the same decision (:mod:`seqrl.mechanisms.dp_kernels`, which the Mesa model, the
Gymnasium environment and any other host reach through :class:`BayesianLearner`):

- ``numba`` (the default where the agent type has a compiled kernel: binary or Gaussian signals under
  no privacy, randomized response or smoothed RR): one compiled loop per block of runs, agents inside,
  with the summaries kept in registers; blocks run on ``threads`` threads (all cores by default), each
  block seeded by its own generator spawned from the caller's, so results never depend on the number
  of threads;
- ``numpy`` (every agent type, heterogeneous budgets included): time is a Python loop, every step
  processes all runs at once through :meth:`BayesianLearner.turn`;
- ``torch`` (:func:`simulate_sequences` only): the numpy loop's structure on torch tensors, on
  ``device`` (``cuda`` when present, else CPU), with the compiled kernel's tables.

Summaries stream: per-run counters and first-passage times are updated in place and the public LLR is
kept only at log-spaced checkpoints, so memory is O(runs x checkpoints), never O(agents x runs), and
sequences of 10^6 agents are fine. Runs are processed in chunks (numpy) or blocks (numba) of bounded
memory, each with its own generator spawned from the caller's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np

from seqrl.agents.dp_bayesian_learner import BayesianLearner, Turn
from seqrl.mechanisms.dp_kernels import (
    SIGNAL_BINARY,
    STOP_ACTION,
    STOP_BOUND,
    STOP_REPORT,
    DecisionKernel,
    decision_kernel,
    first_passage_block,
    seed_state,
    sequence_block,
)
from seqrl.mechanisms.dp_sequential import learning_speed_slopes
from seqrl.mechanisms.dp_signals import BinarySignal

#: Runs simulated together: long enough that numpy's per-call overhead is amortised (~30 arrays of
#: this length, 16 MiB), short enough to bound memory for millions of runs.
DEFAULT_CHUNK_RUNS = 65_536
#: Runs per block of the compiled backend (each block has its own generator): enough blocks for
#: threads to share the work evenly, few enough that seeding them costs nothing.
BLOCK_RUNS = 2048

Backend = Literal["auto", "numba", "numpy", "torch"]


@dataclass(frozen=True)
class SequenceSummary:
    """Streaming summaries of ``n_runs`` independent sequences of ``n_agents`` agents.

    Attributes:
        n_agents: Agents per sequence.
        theta: The state of each run (+1 or -1), shape (runs,).
        checkpoints: Agent indices n at which l_n was recorded (l_1 = 0, l_{N+1} final), shape (k,).
        public_llr: l_n at the checkpoints, shape (k, runs).
        wrong_actions_before: Wrong actions among agents 1 .. n - 1 at each checkpoint n, (k, runs),
            int32.
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
    backend: Backend = "auto",
    threads: int | None = None,
    device: str | None = None,
) -> SequenceSummary:
    """Simulate ``n_runs`` independent sequences, each with theta drawn uniformly from {-1, +1}.

    Args:
        learner: The agents' type (signal model and privacy mechanism).
        n_agents: Agents per sequence, >= 1.
        n_runs: Independent sequences, >= 1.
        rng: Random generator (chunks and blocks use generators spawned from it).
        bound: B for tau_B, or None.
        checkpoints: Agent indices at which to record l_n (default :func:`log_checkpoints`).
        record_runs: Keep the full trajectory of this many runs (memory N x record_runs).
        chunk_runs: Runs per chunk (numpy, torch); blocks of the numba backend hold at most
            ``min(chunk_runs, BLOCK_RUNS)`` runs.
        backend: ``auto`` (numba where the agent type has a compiled kernel, else numpy),
            ``numba``, ``numpy`` or ``torch``.
        threads: Threads over blocks (numba backend); default: every core this process may use.
        device: Torch device (torch backend); default ``cuda`` when available, else ``cpu``.
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
    kernel = _select_kernel(learner, backend)
    if backend == "torch":
        return _simulate_torch(
            learner, kernel, n_agents, n_runs, rng, bound, checkpoints, record_runs, chunk_runs,
            device,
        )  # fmt: skip
    if kernel is not None:
        return _simulate_compiled(
            kernel, n_agents, n_runs, rng, bound, checkpoints, record_runs,
            min(chunk_runs, BLOCK_RUNS), threads,
        )  # fmt: skip
    sizes = [min(chunk_runs, n_runs - start) for start in range(0, n_runs, chunk_runs)]
    parts = []
    recorded_left = record_runs
    for size, chunk_rng in zip(sizes, rng.spawn(len(sizes)), strict=True):
        record = min(recorded_left, size)
        recorded_left -= record
        parts.append(
            _simulate_chunk(learner, n_agents, size, chunk_rng, bound, checkpoints, record)
        )
    return _concatenate(parts, n_agents, checkpoints)


def _select_kernel(learner: BayesianLearner, backend: Backend) -> DecisionKernel | None:
    """The compiled kernel the backend runs (None: the numpy loop)."""
    if backend not in ("auto", "numba", "numpy", "torch"):
        raise ValueError(f"backend must be auto, numba, numpy or torch, got {backend!r}")
    if backend == "numpy":
        return None
    kernel = decision_kernel(learner.signal_model, learner.mechanism)
    if kernel is None and backend != "auto":
        raise ValueError(
            f"the {backend} backend has no kernel for {type(learner.mechanism).__name__}; "
            "use backend='numpy'"
        )
    return kernel


def _concatenate(
    parts: list[SequenceSummary], n_agents: int, checkpoints: np.ndarray
) -> SequenceSummary:
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


def available_threads() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _run_blocks(work: Callable[[int], None], n_blocks: int, threads: int | None) -> None:
    """Call ``work(block)`` once for every block on ``threads`` threads (the kernels drop the GIL).

    Each thread owns one contiguous range of blocks and works through it from the front; a thread
    whose range is done takes blocks from the back of the range with the most left. Contiguous
    ranges make the threads first-touch disjoint memory of the run-major outputs of
    :func:`_simulate_compiled` (interleaved blocks made both threads fault on the same 2 MiB pages,
    which the kernel serialises); taking from the back keeps every core busy while one thread is
    held up by other work on its core, which fixed ranges left to wait.
    """
    threads = available_threads() if threads is None else threads
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads!r}")
    if threads == 1 or n_blocks == 1:
        for block in range(n_blocks):
            work(block)
        return
    threads = min(threads, n_blocks)
    ranges = [
        [part * n_blocks // threads, (part + 1) * n_blocks // threads] for part in range(threads)
    ]
    lock = threading.Lock()

    def next_block(part: int) -> int | None:
        with lock:
            own = ranges[part]
            if own[0] < own[1]:
                own[0] += 1
                return own[0] - 1
            fullest = max(ranges, key=lambda blocks: blocks[1] - blocks[0])
            if fullest[0] < fullest[1]:
                fullest[1] -= 1
                return fullest[1]
            return None

    def work_through(part: int) -> None:
        while (block := next_block(part)) is not None:
            work(block)

    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(work_through, range(threads)):
            pass


def _simulate_compiled(
    kernel: DecisionKernel,
    n_agents: int,
    n_runs: int,
    rng: np.random.Generator,
    bound: float | None,
    checkpoints: np.ndarray,
    record_runs: int,
    block_runs: int,
    threads: int | None,
) -> SequenceSummary:
    starts = list(range(0, n_runs, block_runs))
    block_rngs = rng.spawn(len(starts))
    theta = np.empty(n_runs, dtype=np.int8)
    order = np.argsort(checkpoints, kind="stable")
    sorted_checkpoints = checkpoints[order].astype(np.int64)
    # Run-major storage (each block's outputs are one contiguous range), seen checkpoint-major.
    recorded = np.empty((n_runs, checkpoints.size)).T
    # int32 counts (<= n_agents): half the pages to first-touch, which both threads pay for.
    recorded_wrong = np.empty((n_runs, checkpoints.size), dtype=np.int32).T
    # First correct action and report, wrong actions and reports, cascade start, hitting time.
    counters = np.empty((n_runs, 6), dtype=np.int64).T
    final = np.empty(n_runs)
    record_runs = min(record_runs, n_runs)
    trajectory = np.empty((n_agents + 1, record_runs))
    limit = np.inf if bound is None else float(bound)

    def work(block: int) -> None:
        start = starts[block]
        stop = min(start + block_runs, n_runs)
        block_rng = block_rngs[block]
        theta[start:stop] = np.where(block_rng.random(stop - start) < 0.5, 1, -1)
        sequence_block(kernel.kind, kernel.flip_kind)(
            seed_state(block_rng), n_agents, theta[start:stop], order, sorted_checkpoints, limit,
            kernel.params, kernel.table, recorded[:, start:stop],
            recorded_wrong[:, start:stop], counters[:, start:stop], final[start:stop],
            trajectory[:, min(start, record_runs) : min(stop, record_runs)],
        )  # fmt: skip

    _run_blocks(work, len(starts), threads)
    cascade_start = counters[4]
    return SequenceSummary(
        n_agents=n_agents,
        theta=theta,
        checkpoints=checkpoints,
        public_llr=recorded,
        wrong_actions_before=recorded_wrong,
        first_correct_action=counters[0],
        first_correct_report=counters[1],
        wrong_actions=counters[2],
        wrong_reports=counters[3],
        cascade_start=cascade_start,
        cascade_correct=(cascade_start >= 0) & (np.sign(final) == theta),
        hitting_time=counters[5],
        trajectory=trajectory if record_runs else None,
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

    def step(public_llr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        turn = learner.turn(public_llr, theta, rng)
        return turn.action, turn.report, turn.public_llr

    in_cascade = (
        learner.signal_model.in_cascade if isinstance(learner.signal_model, BinarySignal) else None
    )
    return _stream(
        theta, n_agents, bound, checkpoints, record_runs, step, in_cascade, _numpy_full, np.asarray
    )


def _numpy_full(shape: tuple[int, ...], value: float, integer: bool) -> np.ndarray:
    return np.full(shape, value, dtype=np.int64 if integer else np.float64)


def _stream(theta, n_agents, bound, checkpoints, record_runs, step, in_cascade, full, to_numpy):
    """The streamed summaries of one chunk of runs, stepping all of them at once.

    Array-library agnostic (numpy arrays or torch tensors): ``step(l)`` returns (action, report,
    l_next) for every run, ``in_cascade(l)`` flags runs in a binary cascade (None: never),
    ``full(shape, value, integer)`` makes arrays and ``to_numpy`` brings them back.
    """
    n_runs = theta.shape[0]
    public_llr = full((n_runs,), 0.0, False)
    never = n_agents + 1
    first_correct_action = full((n_runs,), never, True)
    first_correct_report = full((n_runs,), never, True)
    wrong_actions = full((n_runs,), 0, True)
    wrong_reports = full((n_runs,), 0, True)
    cascade_start = full((n_runs,), -1, True)
    hitting_time = full((n_runs,), -1, True)
    recorded = full((checkpoints.size, n_runs), 0.0, False)
    recorded_wrong = full((checkpoints.size, n_runs), 0, True)
    trajectory = full((n_agents + 1, record_runs), 0.0, False) if record_runs else None
    checkpoint_slot = {int(n): slot for slot, n in enumerate(checkpoints)}

    for agent in range(1, n_agents + 1):
        if agent in checkpoint_slot:
            recorded[checkpoint_slot[agent]] = public_llr
            recorded_wrong[checkpoint_slot[agent]] = wrong_actions
        if trajectory is not None:
            trajectory[agent - 1] = public_llr[:record_runs]
        # x += (value - x) * mask sets x to value where mask holds: no boolean indexing, which
        # on a GPU waits for the device to count the mask.
        if in_cascade is not None:
            starts = (cascade_start < 0) & in_cascade(public_llr)
            cascade_start += (agent - 1 - cascade_start) * starts
        action, report, public_llr = step(public_llr)
        action_right = action == theta
        report_right = report == theta
        wrong_actions += ~action_right
        wrong_reports += ~report_right
        first_correct_action += (agent - first_correct_action) * (
            action_right & (first_correct_action == never)
        )
        first_correct_report += (agent - first_correct_report) * (
            report_right & (first_correct_report == never)
        )
        if bound is not None:
            hitting_time += (agent - hitting_time) * (
                (hitting_time < 0) & (abs(public_llr) >= bound)
            )

    if never in checkpoint_slot:
        recorded[checkpoint_slot[never]] = public_llr
        recorded_wrong[checkpoint_slot[never]] = wrong_actions
    if trajectory is not None:
        trajectory[n_agents] = public_llr[:record_runs]
    theta, final, cascade_start = to_numpy(theta), to_numpy(public_llr), to_numpy(cascade_start)
    started = cascade_start >= 0
    return SequenceSummary(
        n_agents=n_agents,
        theta=theta,
        checkpoints=checkpoints,
        public_llr=to_numpy(recorded),
        wrong_actions_before=to_numpy(recorded_wrong).astype(np.int32),
        first_correct_action=to_numpy(first_correct_action),
        first_correct_report=to_numpy(first_correct_report),
        wrong_actions=to_numpy(wrong_actions),
        wrong_reports=to_numpy(wrong_reports),
        cascade_start=cascade_start,
        cascade_correct=started & (np.sign(final) == theta),  # l is frozen inside a cascade
        hitting_time=to_numpy(hitting_time),
        trajectory=None if trajectory is None else to_numpy(trajectory),
    )


def _simulate_torch(
    learner: BayesianLearner,
    kernel: DecisionKernel | None,
    n_agents: int,
    n_runs: int,
    rng: np.random.Generator,
    bound: float | None,
    checkpoints: np.ndarray,
    record_runs: int,
    chunk_runs: int,
    device: str | None,
) -> SequenceSummary:
    """The torch backend: :func:`_stream` over torch tensors, the decision of ``dp_kernels_torch``."""
    import torch

    from seqrl.mechanisms import dp_kernels_torch

    assert kernel is not None  # _select_kernel raised otherwise
    device = dp_kernels_torch.default_device() if device is None else device
    torch_kernel = dp_kernels_torch.TorchKernel.build(kernel, device)
    binary = kernel.kind == SIGNAL_BINARY
    flips = kernel.random_inputs == 2

    def full(shape: tuple[int, ...], value: float, integer: bool) -> torch.Tensor:
        dtype = torch.int64 if integer else torch.float64
        return torch.full(shape, value, dtype=dtype, device=torch_kernel.device)

    def to_numpy(tensor: torch.Tensor) -> np.ndarray:
        return tensor.cpu().numpy()

    def in_cascade(public_llr: torch.Tensor) -> torch.Tensor:
        return dp_kernels_torch.regime(public_llr, torch_kernel) != 1

    sizes = [min(chunk_runs, n_runs - start) for start in range(0, n_runs, chunk_runs)]
    parts = []
    recorded_left = record_runs
    for size, chunk_rng in zip(sizes, rng.spawn(len(sizes)), strict=True):
        record = min(recorded_left, size)
        recorded_left -= record
        generator = torch.Generator(device=torch_kernel.device)
        generator.manual_seed(int(chunk_rng.integers(2**63)))

        def uniform(size: int = size, generator: torch.Generator = generator) -> torch.Tensor:
            return torch.rand(
                size, generator=generator, dtype=torch.float64, device=torch_kernel.device
            )

        theta = torch.where(uniform() < 0.5, 1, -1).to(torch.int8)

        def step(
            public_llr: torch.Tensor,
            size: int = size,
            theta: torch.Tensor = theta,
            uniform: Callable[[], torch.Tensor] = uniform,
            generator: torch.Generator = generator,
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            if binary:
                draw = uniform()
            else:
                draw = torch.randn(
                    size, generator=generator, dtype=torch.float64, device=torch_kernel.device
                )
            if not flips:
                flip = draw
            elif binary:
                flip = uniform()
            else:  # the exponential of dp_kernels.flips
                flip = torch.empty(size, dtype=torch.float64, device=torch_kernel.device)
                flip.exponential_(generator=generator)
            _, action, report, after = dp_kernels_torch.decide(
                public_llr, theta, draw, flip, torch_kernel
            )
            return action, report, after

        parts.append(
            _stream(
                theta,
                n_agents,
                bound,
                checkpoints,
                record,
                step,
                in_cascade if binary else None,
                full,
                to_numpy,
            )  # fmt: skip
        )
    return _concatenate(parts, n_agents, checkpoints)


def simulate_hitting_times(
    learner: BayesianLearner,
    bound: float,
    max_agents: int,
    n_runs: int,
    rng: np.random.Generator,
    *,
    backend: Backend = "auto",
) -> np.ndarray:
    """tau_B, the reports until |l| >= B, for ``n_runs`` sequences under theta = +1.

    Only runs that have not stopped are simulated (by symmetry theta = -1 gives the same law).

    Args:
        learner: The agents' type.
        bound: B > 0.
        max_agents: Censoring horizon; runs that never reach |l| >= B get -1.
        n_runs: Independent sequences.
        rng: Random generator.
        backend: ``auto``, ``numba`` or ``numpy`` (see :func:`simulate_sequences`).

    Returns:
        Hitting times, shape (n_runs,), -1 where censored.
    """
    if not bound > 0:
        raise ValueError(f"bound must be > 0, got {bound!r}")
    return _first_passage(
        learner,
        max_agents,
        n_runs,
        rng,
        lambda turn: np.abs(turn.public_llr) >= bound,
        backend,
        STOP_BOUND,
        float(bound),
    )


def simulate_first_correct(
    learner: BayesianLearner,
    max_agents: int,
    n_runs: int,
    rng: np.random.Generator,
    of: str = "action",
    *,
    backend: Backend = "auto",
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
        backend: ``auto``, ``numba`` or ``numpy`` (see :func:`simulate_sequences`).

    Returns:
        First-correct indices, shape (n_runs,), -1 where censored.
    """
    if of not in ("action", "report"):
        raise ValueError(f"of must be action or report, got {of!r}")
    mode = STOP_ACTION if of == "action" else STOP_REPORT
    return _first_passage(
        learner, max_agents, n_runs, rng, lambda turn: getattr(turn, of) > 0, backend, mode
    )


def _first_passage(
    learner: BayesianLearner,
    max_agents: int,
    n_runs: int,
    rng: np.random.Generator,
    stops: Callable[[Turn], np.ndarray],
    backend: Backend,
    mode: int,
    bound: float = np.inf,
) -> np.ndarray:
    """First agent at which ``stops`` holds; the compiled kernel tests the same by ``mode``."""
    if max_agents < 1:
        raise ValueError(f"max_agents must be >= 1, got {max_agents!r}")
    if n_runs < 1:
        raise ValueError(f"n_runs must be >= 1, got {n_runs!r}")
    if backend == "torch":
        raise ValueError("first-passage simulations have no torch backend")
    kernel = _select_kernel(learner, backend)
    if kernel is not None:
        stopped_at = np.empty(n_runs, dtype=np.int64)
        starts = list(range(0, n_runs, BLOCK_RUNS))
        states = [seed_state(block_rng) for block_rng in rng.spawn(len(starts))]

        def work(block: int) -> None:
            start = starts[block]
            first_passage_block(kernel.kind, kernel.flip_kind)(
                states[block], max_agents, mode, bound, kernel.params, kernel.table,
                stopped_at[start : start + BLOCK_RUNS],
            )  # fmt: skip

        _run_blocks(work, len(starts), None)
        return stopped_at
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
