"""Plan a run (grid x seeds) and execute its tasks serially, in processes, or on Ray.

Each task is one parameter combination and one seed index. Its generator comes from
``SeedSequence(root_seed).spawn(n_seeds)[seed_index]``: keyed by the seed index, never by the order
in which tasks are executed, so every executor produces identical results. The same seed index is
shared across parameter combinations (common random numbers), which sharpens comparisons between them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import signal
import time
import traceback
from collections.abc import Generator, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqrl.scenarios.core import RESERVED_COLUMNS, Scenario, TaskOutput, with_artifact_dir
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


def execute_task(source: ScenarioSource, task: Task, artifact_root: str | None) -> TaskResult:
    """Run one task in this process. Top-level so that process and Ray workers can call it."""
    scenario = resolve(source) if isinstance(source, str) else source
    artifact_path = Path(artifact_root) / task.task_id if artifact_root else None
    seed_sequence = task.seed_sequence()
    rng = np.random.default_rng(seed_sequence)
    started = time.perf_counter()
    try:
        arguments = scenario.arguments(task.params)
        output = with_artifact_dir(artifact_path, lambda: scenario.run(arguments, rng))
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
    source: ScenarioSource, tasks: Sequence[Task], artifact_root: str | None
) -> Generator[TaskResult, None, None]:
    for task in tasks:
        yield execute_task(source, task, artifact_root)


def _ignore_interrupts() -> None:
    """Pool workers leave Ctrl-C to the parent, which shuts the pool down cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_process(
    source: ScenarioSource, tasks: Sequence[Task], artifact_root: str | None, workers: int
) -> Generator[TaskResult, None, None]:
    """Run tasks in a pool of fresh (spawned) processes, yielding results as they finish."""
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context("spawn"), initializer=_ignore_interrupts
    )
    try:
        pending = {pool.submit(execute_task, source, t, artifact_root): t for t in tasks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                task = pending.pop(future)
                try:
                    yield future.result()
                except Exception as error:  # a worker died (BrokenProcessPool) or failed to pickle
                    yield TaskResult(task.task_id, None, None, f"worker failed: {error!r}")
    finally:
        # On Ctrl-C, stop at once: cancel queued tasks and end the workers still running
        # (concurrent.futures has no public way to terminate them).
        workers_alive = list((pool._processes or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers_alive:
            process.terminate()


def run_ray(
    source: ScenarioSource,
    tasks: Sequence[Task],
    artifact_root: str | None,
    workers: int,
    address: str | None,
) -> Generator[TaskResult, None, None]:
    """Run tasks as Ray tasks: an embedded local Ray without an address, a cluster with one."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        options: dict[str, Any] = {"address": address, "log_to_driver": False}
        if address is None:
            options |= {"num_cpus": workers, "include_dashboard": False}
        ray.init(**options)
    remote = ray.remote(num_cpus=1, max_retries=0)(execute_task)
    try:
        pending = {remote.remote(source, t, artifact_root): t for t in tasks}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                task = pending.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as error:  # the worker process died
                    yield TaskResult(task.task_id, None, None, f"ray worker failed: {error!r}")
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()


def execute(
    source: ScenarioSource,
    tasks: Sequence[Task],
    *,
    executor: str,
    workers: int,
    artifact_root: str | None,
    ray_address: str | None = None,
) -> Generator[TaskResult, None, None]:
    """Dispatch to an executor; results arrive in completion order."""
    if executor == "serial":
        return run_serial(source, tasks, artifact_root)
    if executor == "process":
        return run_process(source, tasks, artifact_root, workers)
    if executor == "ray":
        return run_ray(source, tasks, artifact_root, workers, ray_address)
    raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
