"""Plan a run (grid x seeds) and execute its tasks serially, in processes, or on Ray.

Each task is one parameter combination and one seed index. Its generator comes from
``SeedSequence(root_seed).spawn(n_seeds)[seed_index]``: keyed by the seed index, never by the order
in which tasks are executed, so every executor produces identical results. The same seed index is
shared across parameter combinations (common random numbers), which sharpens comparisons between them.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import math
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqrl.scenarios.core import RESERVED_COLUMNS, BadInput, Scenario, TaskOutput, with_artifact_dir
from seqrl.scenarios.registry import resolve

logger = logging.getLogger(__name__)

EXECUTORS = ("serial", "process", "ray")

ScenarioSource = str | Scenario
"""What workers receive: a reference they resolve themselves (a built-in name or an absolute
``FILE.py:NAME``), or a Scenario object that pickles (its functions importable by reference)."""


@dataclass(frozen=True)
class Task:
    """One unit of work.

    Attributes:
        task_id: Stable identifier derived from the parameters and the seed index.
        params: The parameter combination.
        seed_index: Which spawned child of the root SeedSequence seeds this task.
        seed_entropy: The root seed (the child is re-derived from it and seed_index).
        n_seeds: How many children the root was split into.
    """

    task_id: str
    params: dict[str, Any]
    seed_index: int
    seed_entropy: int
    n_seeds: int

    def seed_sequence(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.seed_entropy).spawn(self.n_seeds)[self.seed_index]


@dataclass(frozen=True)
class TaskResult:
    """What a worker sends back: the row to store, the time series, or the error text."""

    task_id: str
    row: dict[str, Any] | None
    trajectories: pd.DataFrame | None
    error: str | None = None


def task_id(params: Mapping[str, Any], seed_index: int) -> str:
    """A short, stable id: a hash of the parameters (JSON, sorted keys) and the seed index."""
    text = json.dumps({k: repr(v) for k, v in sorted(params.items())}, sort_keys=True)
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    return f"{digest}-s{seed_index:03d}"


def plan(combinations: Iterable[dict[str, Any]], n_seeds: int, root_seed: int) -> list[Task]:
    """All tasks of a run: every combination times every seed index."""
    return [
        Task(task_id(combo, s), combo, s, root_seed, n_seeds)
        for combo in combinations
        for s in range(n_seeds)
    ]


def _scalar(name: str, value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"metric {name!r} must be a scalar, got {type(value).__name__}")


TaskProgress = Callable[[str, int, int, str], None]
"""Receives (task id, done, total, unit) from a running task's :func:`seqrl.report_progress`."""
PROGRESS_MIN_INTERVAL_S = 0.5
"""A task's progress reports are forwarded at most this often (and always its last)."""


def _throttled(task_id: str, progress: TaskProgress) -> Callable[[int, int, str], None]:
    last = -math.inf

    def forward(done: int, total: int, unit: str) -> None:
        nonlocal last
        now = time.monotonic()
        if done >= total or now - last >= PROGRESS_MIN_INTERVAL_S:
            last = now
            progress(task_id, done, total, unit)

    return forward


def execute_task(
    source: ScenarioSource,
    task: Task,
    artifact_root: str | None,
    progress: TaskProgress | None = None,
) -> TaskResult:
    """Run one task in this process. Top-level so that process and Ray workers can call it."""
    scenario = resolve(source) if isinstance(source, str) else source
    artifact_path = Path(artifact_root) / task.task_id if artifact_root else None
    seed_sequence = task.seed_sequence()
    rng = np.random.default_rng(seed_sequence)
    started = time.perf_counter()
    try:
        arguments = scenario.arguments(task.params)
        sink = None if progress is None else _throttled(task.task_id, progress)
        output = with_artifact_dir(artifact_path, lambda: scenario.run(arguments, rng), sink)
        if not isinstance(output, TaskOutput):
            output = TaskOutput(dict(output))
        clash = set(output.metrics) & (set(task.params) | set(RESERVED_COLUMNS))
        if clash:
            raise ValueError(f"metric names clash with parameters or reserved columns: {clash}")
        metrics = {k: _scalar(k, v) for k, v in output.metrics.items()}
    except Exception:
        return TaskResult(task.task_id, None, None, traceback.format_exc())
    row = {
        "scenario": scenario.name,
        "task_id": task.task_id,
        **task.params,
        "seed_index": task.seed_index,
        "seed": int(seed_sequence.generate_state(1)[0]),
        **metrics,
        "elapsed_s": time.perf_counter() - started,
    }
    trajectories = None
    if output.trajectories is not None:
        trajectories = output.trajectories.copy()
        for key, value in reversed(list(task.params.items())):
            if key not in trajectories:
                trajectories.insert(0, key, value)
        trajectories.insert(0, "seed_index", task.seed_index)
        trajectories.insert(0, "task_id", task.task_id)
    return TaskResult(task.task_id, row, trajectories)


def run_serial(
    source: ScenarioSource,
    tasks: Sequence[Task],
    artifact_root: str | None,
    progress: TaskProgress | None = None,
) -> Generator[TaskResult, None, None]:
    for task in tasks:
        yield execute_task(source, task, artifact_root, progress)


# -- process pool -------------------------------------------------------------------------------

_events: Any = None
"""In a pool worker: the queue on which it sends ("start", pid, task id) when it starts a task
and ("progress", task id, done, total, unit) as the task reports progress."""


def _init_pool_worker(events: Any, parent_pid: int) -> None:
    """Pool workers leave Ctrl-C to the parent, die with it, and announce what they run."""
    global _events
    _events = events
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent_pid)


def die_with_parent(parent_pid: int) -> None:
    """End this process when ``parent_pid`` dies: the kernel's parent-death signal on Linux, a
    watchdog thread elsewhere. A worker never outlives the run that started it."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    else:

        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, daemon=True, name="seqrl-parent-watch").start()
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _pool_task(source: ScenarioSource, task: Task, artifact_root: str | None) -> TaskResult:
    _events.put(("start", os.getpid(), task.task_id))
    return execute_task(source, task, artifact_root, _send_progress)


def _send_progress(task_id: str, done: int, total: int, unit: str) -> None:
    _events.put(("progress", task_id, done, total, unit))


def run_process(
    source: ScenarioSource,
    tasks: Sequence[Task],
    artifact_root: str | None,
    workers: int,
    progress: TaskProgress | None = None,
) -> Generator[TaskResult, None, None]:
    """Run tasks in a pool of fresh (spawned) processes, yielding results as they finish.

    A worker that dies (a crash, the OOM killer) fails only the task it was running: each worker
    announces the task it starts, the pool is rebuilt, and the other unfinished tasks run again.
    """
    queue = list(tasks)
    while queue:
        queue = yield from _run_pool(source, queue, artifact_root, workers, progress)


def _run_pool(
    source: ScenarioSource,
    tasks: list[Task],
    artifact_root: str | None,
    workers: int,
    progress: TaskProgress | None,
) -> Generator[TaskResult, None, list[Task]]:
    """One pool over ``tasks``; returns the tasks to run again if a worker died."""
    context = get_context("spawn")
    events = context.SimpleQueue()
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)),
        mp_context=context,
        initializer=_init_pool_worker,
        initargs=(events, os.getpid()),
    )
    running: dict[int, str] = {}  # worker pid -> the task it announced last

    def drain() -> None:
        while not events.empty():
            kind, *event = events.get()
            if kind == "start":
                running[event[0]] = event[1]
            elif progress is not None:
                progress(*event)

    try:
        pending = {pool.submit(_pool_task, source, t, artifact_root): t for t in tasks}
        processes = dict(pool._processes or {})
        while pending:
            done, _ = wait(pending, timeout=PROGRESS_MIN_INTERVAL_S, return_when=FIRST_COMPLETED)
            drain()
            broken = False
            for future in done:
                task = pending.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    pending[future] = task
                    broken = True
                except Exception as error:  # the task or its result failed to pickle
                    yield TaskResult(task.task_id, None, None, f"worker failed: {error!r}")
            if broken:
                rerun = {t.task_id: t for t in pending.values()}
                for pid, process in processes.items():
                    exitcode = _exit_status(process)
                    task_of_worker = running.get(pid, "")
                    if task_of_worker in rerun and exitcode not in _NOT_A_CRASH:
                        culprit = rerun.pop(task_of_worker)
                        yield TaskResult(culprit.task_id, None, None, _death(exitcode))
                if len(rerun) == len(pending):  # no culprit known: fail them rather than loop
                    for task in pending.values():
                        yield TaskResult(task.task_id, None, None, _death(None))
                    return []
                return list(rerun.values())
        return []
    finally:
        # On Ctrl-C, stop at once: cancel queued tasks and end the workers still running
        # (concurrent.futures has no public way to terminate them).
        workers_alive = list((pool._processes or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers_alive:
            process.terminate()


_NOT_A_CRASH = (None, 0, -signal.SIGTERM)
"""Exit codes of a pool worker that did not die of its own task (alive, clean, or terminated by
the pool after another worker died)."""


def _exit_status(process: BaseProcess, timeout_s: float = 5.0) -> int | None:
    """The exit code of a pool worker once it has ended, or None if it still runs after
    ``timeout_s``.

    The pool fails the futures first and then terminates the other workers: waiting for them
    keeps a worker it terminated (SIGTERM) from being blamed. The pool's own thread reaps the
    workers at the same time, and when its ``waitpid`` wins, ``join`` here returns with the exit
    code not yet recorded, so the code is polled until that thread has set it.
    """
    deadline = time.monotonic() + timeout_s
    process.join(timeout_s)
    while process.exitcode is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return process.exitcode


def _death(exitcode: int | None) -> str:
    if exitcode is None:
        return "worker died (the pool broke and the task it ran is unknown)"
    how = f"killed by signal {-exitcode}" if exitcode < 0 else f"exited with status {exitcode}"
    return f"worker died while running this task ({how})"


# -- Ray ----------------------------------------------------------------------------------------


def _start_ray(workers: int, address: str | None) -> bool:
    """Connect to a Ray cluster (or start a local one); True when this call started Ray.

    Ray's own processes start with SIGINT ignored, so a Ctrl-C to the terminal's process group
    reaches only this driver, which cancels its tasks and shuts Ray down in order; the driver's
    SIGINT and SIGTERM handlers are restored after ``ray.init`` (which may replace them).

    Raises:
        BadInput: the cluster cannot be reached or refuses the connection (one line, within
            seconds; nothing has been written).
    """
    if address is not None:
        _check_reachable(address)
        _use_token_if_available()
    import ray  # after the environment is set: Ray reads it once, at import

    if ray.is_initialized():
        return False
    options: dict[str, Any] = {
        "address": address or "local",  # without an address, a new Ray, even beside a cluster
        "log_to_driver": False,
        "logging_level": logging.WARNING,
    }
    if address is None:
        options |= {"num_cpus": workers, "include_dashboard": False}
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with _stderr_to_log():  # Ray's C++ retry messages: in the log (-v), not on the terminal
            ray.init(**options)
    except Exception as error:
        raise BadInput(_ray_refusal(address, error)) from None
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    return True


@contextlib.contextmanager
def _stderr_to_log() -> Iterator[None]:
    """Send what is written to file descriptor 2 (C extensions included) to the log instead."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                logger.info("ray: %s", line)


RAY_CONNECT_TIMEOUT_S = 5.0


def _check_reachable(address: str) -> None:
    """Fail in seconds, not after Ray's retries, when nothing listens at ``host:port``."""
    if address in ("auto", "local") or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise BadInput(f"--ray-address {address!r}: expected HOST:PORT, auto, or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=RAY_CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise BadInput(
            f"--ray-address {address}: cannot reach a Ray cluster there ({error.strerror or error});"
            " start one with `ray start --head` or check the address"
        ) from None


def _use_token_if_available() -> None:
    """Send the cluster's token when one is at hand.

    Since Ray 2.59 a cluster started by ``ray start`` requires a token (written to
    ``~/.ray/auth_token``), but a driver that connects to it by address sends one only under
    ``RAY_AUTH_MODE=token``. Unless the user set ``RAY_AUTH_MODE`` themselves, turn token mode on
    when ``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or the default token file provides one.
    """
    if "RAY_AUTH_MODE" in os.environ:
        return
    default_file = Path.home() / ".ray" / "auth_token"
    if (
        os.environ.get("RAY_AUTH_TOKEN")
        or os.environ.get("RAY_AUTH_TOKEN_PATH")
        or (default_file.is_file())
    ):
        os.environ["RAY_AUTH_MODE"] = "token"


def _ray_refusal(address: str | None, error: Exception) -> str:
    where = f"--ray-address {address}" if address else "executor ray"
    text = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error) else ''}"
    if address is not None:
        return (
            f"{where}: the cluster is reachable but did not accept this driver ({text}); if it "
            "uses token authentication, set RAY_AUTH_TOKEN to its token (`ray get-auth-token` "
            "on the head node prints it)"
        )
    return f"{where}: Ray did not start ({text})"


def _ray_task(
    source: ScenarioSource, task: Task, artifact_root: str | None, events: Any
) -> TaskResult:
    """A task on a Ray worker; its progress goes to the driver through a Ray queue (an actor)."""

    def send(task_id: str, done: int, total: int, unit: str) -> None:
        events.put_nowait((task_id, done, total, unit))

    return execute_task(source, task, artifact_root, None if events is None else send)


def run_ray(
    source: ScenarioSource,
    tasks: Sequence[Task],
    artifact_root: str | None,
    progress: TaskProgress | None = None,
    cancel_on_stop: bool = True,
) -> Generator[TaskResult, None, None]:
    """Run tasks as Ray tasks on the Ray this process is connected to (see :func:`open_executor`).

    ``ray.wait`` is called with a timeout so that Ctrl-C and SIGTERM are handled within a second.
    On either, the outstanding tasks are cancelled only when ``cancel_on_stop``: Ray 2.60's
    ``ray.cancel`` (forced or not) can abort the driver when a task's reply arrives during the
    cancel ("Tried to complete task that was not pending", ray-project/ray#54798's race; here
    within 300 rounds of cancelling 55 short tasks, in each of 5 tries). When this run opened the
    Ray connection, the executor's ``ray.shutdown`` ends the job instead, and Ray kills the job's
    workers, locally and on a cluster, without that race.
    """
    import ray
    from ray.util.queue import Queue

    events = Queue(actor_options={"num_cpus": 0}) if progress is not None else None
    remote = ray.remote(num_cpus=1, max_retries=0)(_ray_task)
    pending = {remote.remote(source, t, artifact_root, events): t for t in tasks}

    def drain() -> None:
        if events is not None and (size := events.qsize()):
            for event in events.get_nowait_batch(size):
                progress(*event)  # type: ignore[misc]

    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=PROGRESS_MIN_INTERVAL_S)
            drain()
            for ref in done:
                task = pending.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as error:  # the worker process died
                    yield TaskResult(task.task_id, None, None, f"ray worker failed: {error!r}")
    finally:
        if cancel_on_stop:
            for ref in pending:
                ray.cancel(ref, force=True)
        if events is not None:
            events.shutdown()


# -- dispatch -----------------------------------------------------------------------------------


@dataclass
class Executor:
    """Where a run's tasks execute; :meth:`close` stops what :func:`open_executor` started.

    Attributes:
        kind: ``serial``, ``process`` or ``ray``.
        workers: Parallel workers (process pool size; CPUs of a local Ray).
        ray_address: The Ray cluster, or None for a local Ray.
        started_ray: Whether opening it started (or connected) Ray, to be shut down on close.
    """

    kind: str
    workers: int = 1
    ray_address: str | None = None
    started_ray: bool = False

    def close(self) -> None:
        if self.started_ray:
            import ray

            ray.shutdown()
            self.started_ray = False


def open_executor(kind: str, workers: int, ray_address: str | None = None) -> Executor:
    """Prepare an executor; for Ray, connect now (fail fast, before a run writes anything).

    Raises:
        ValueError: unknown kind; BadInput: Ray cannot be reached.
    """
    if kind not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    started = _start_ray(workers, ray_address) if kind == "ray" else False
    return Executor(kind, workers, ray_address, started)


def execute(
    source: ScenarioSource,
    tasks: Sequence[Task],
    executor: Executor,
    artifact_root: str | None,
    progress: TaskProgress | None = None,
) -> Generator[TaskResult, None, None]:
    """Run tasks on an open executor; results arrive in completion order, and the running
    tasks' progress reports reach ``progress`` in this process."""
    if executor.kind == "process":
        return run_process(source, tasks, artifact_root, executor.workers, progress)
    if executor.kind == "ray":
        # Ray opened by this run ends with its job (see Executor.close); a caller's Ray, which
        # outlives the run, needs its tasks cancelled.
        return run_ray(source, tasks, artifact_root, progress, not executor.started_ray)
    return run_serial(source, tasks, artifact_root, progress)
