"""The Python API: plan and run a sweep, read a run back. The ``seqrl`` command is a thin layer over it.

    import seqrl

    result = seqrl.run("dp-binary-cascade", grid={"epsilon": [0.5, 1.0]}, seeds=3, quick=True)
    result.results           # one row per task
    result.summary()         # per combination and metric: n, mean/median/IQM with 95% bootstrap bounds
    result.figures()         # the scenario's matplotlib figures

With ``out=None`` (the default) the run lives in memory; with ``out="DIR"`` every finished task is
written at once, and running the same call again resumes (see :mod:`seqrl.scenarios.storage`).
"""

from __future__ import annotations

import inspect
import logging
import os
import pickle
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from seqrl.scenarios.core import BadInput, Scenario
from seqrl.scenarios.extras import require_extras
from seqrl.scenarios.registry import builtin_scenarios, canonical_reference, resolve
from seqrl.scenarios.runner import EXECUTORS, ScenarioSource, Task, execute, open_executor, plan
from seqrl.scenarios.storage import (
    DamagedRun,
    MemoryStore,
    OutputError,
    RunStore,
    assemble,
    check_writable,
    run_fingerprint,
)
from seqrl.scenarios.sweeps import grid_overrides

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called after each finished task with (tasks done, tasks in the run)."""
TaskProgress = Callable[[str, int, int, str], None]
"""Called as running tasks report progress, with (task id, done, total, unit)."""


class RunFailed(RuntimeError):
    """Some tasks of a run raised; ``result`` holds the finished ones and ``result.failures``."""

    def __init__(self, result: RunResult) -> None:
        where = f"; tracebacks in {result.out / 'errors'}" if result.out else ""
        super().__init__(
            f"{result.scenario_name}: {len(result.failures)} of {result.n_tasks} tasks failed"
            f"{where}; running the same run again retries them"
        )
        self.result = result


def list_scenarios() -> dict[str, Scenario]:
    """The built-in scenarios by name."""
    return builtin_scenarios()


def get_scenario(scenario: str | Scenario) -> Scenario:
    """A scenario from a built-in name, a ``FILE.py:NAME`` reference, or the object itself.

    Raises:
        BadInput: unknown name, unreadable file, or no scenario of that name in the file.
    """
    if isinstance(scenario, Scenario):
        return scenario
    return resolve(canonical_reference(scenario))


@dataclass(frozen=True)
class RunPlan:
    """Everything a run will do, worked out before anything runs or is written.

    Attributes:
        scenario: The scenario.
        reference: Its built-in name or absolute ``FILE.py:NAME``; None for an object that has
            neither (runs in this process only).
        grids: The expanded grid axes (one mapping per sub-grid).
        combinations: Every parameter combination, validated.
        n_seeds: Seeds per combination.
        root_seed: Root of the seed tree.
        tasks: Combinations x seeds.
        quick: Whether the scenario's smoke-sized overrides apply.
    """

    scenario: Scenario
    reference: str | None
    grids: list[dict[str, list[Any]]]
    combinations: list[dict[str, Any]]
    n_seeds: int
    root_seed: int
    tasks: list[Task]
    quick: bool

    @property
    def identity(self) -> dict[str, Any]:
        """What makes two runs the same run (a run directory holds exactly one)."""
        return {
            "scenario": self.scenario.name,
            "grid": self.grids,
            "n_seeds": self.n_seeds,
            "root_seed": self.root_seed,
        }

    def varying(self) -> dict[str, list[Any]]:
        """The parameters that take more than one value, with their values in order."""
        values: dict[str, list[Any]] = {}
        for combo in self.combinations:
            for name, value in combo.items():
                if value not in values.setdefault(name, []):
                    values[name].append(value)
        return {name: v for name, v in values.items() if len(v) > 1}


def plan_run(
    scenario: str | Scenario,
    params: Mapping[str, Any] | None = None,
    grid: Mapping[str, Any] | None = None,
    *,
    seeds: int | None = None,
    seed: int = 0,
    quick: bool = False,
) -> RunPlan:
    """Expand and validate a run without running it (what ``--dry-run`` prints).

    Args:
        scenario: A built-in name, ``FILE.py:NAME``, or a Scenario object.
        params: Fixed parameter values ({name: value}).
        grid: Grid axes ({name: [values]}, a numpy array, or a range string such as
            ``"0.1:0.5:0.1"`` or ``"linspace(0, 1, 5)"``); all combinations are run.
        seeds: Seeds per combination (default: the scenario's).
        seed: Root seed; per-task seeds are ``SeedSequence(seed).spawn(seeds)[seed_index]``.
        quick: Apply the scenario's smoke-sized overrides.

    Raises:
        BadInput: any value, name or combination that is not allowed.
    """
    resolved = get_scenario(scenario)
    reference = _reference(scenario, resolved)
    _at_least_one("seeds", seeds)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise BadInput(f"seed must be an integer >= 0, got {seed!r}")
    grids = resolved.axes(grid_overrides(resolved, params, grid), quick=quick)
    combinations = list(resolved.combinations(grids))
    n_seeds = seeds or (resolved.quick_seeds if quick else resolved.seeds)
    tasks = plan(combinations, n_seeds, seed)
    return RunPlan(resolved, reference, grids, combinations, n_seeds, seed, tasks, quick)


@dataclass
class RunResult:
    """The outcome of a run, in memory or read back from its directory.

    Attributes:
        scenario: The scenario (None when a stored run's scenario file can no longer be loaded).
        scenario_name: Its name.
        results: One row per finished task: scenario, task_id, parameters, seed_index, seed,
            metrics, elapsed_s.
        trajectories: The tasks' time series in long format, or None.
        manifest: What was run (as in manifest.json).
        out: The run directory, or None for an in-memory run.
        failures: Tracebacks of the tasks that raised, by task id.
    """

    scenario: Scenario | None
    scenario_name: str
    results: pd.DataFrame
    trajectories: pd.DataFrame | None
    manifest: dict[str, Any]
    out: Path | None = None
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def n_tasks(self) -> int:
        """Tasks in the run (finished or not)."""
        return int(self.manifest.get("n_tasks", len(self.results)))

    @property
    def status(self) -> str:
        """``complete``, ``failed``, ``interrupted`` or ``running``."""
        return str(self.manifest.get("status", "complete"))

    @property
    def parameter_names(self) -> list[str]:
        """The scenario's parameter names, in declaration order."""
        return list(self.manifest["identity"]["grid"][0])

    def summary(self) -> pd.DataFrame:
        """Per parameter combination and numeric metric: n, then mean, median and IQM, each with
        its 95% stratified-bootstrap bounds (NaN with fewer than 3 seeds: no interval from so few)."""
        from seqrl.scenarios.report import summarise

        if self.results.empty:
            return pd.DataFrame()
        names = [p for p in self.parameter_names if p in self.results.columns]
        return summarise(self.results, names)

    def figures(self) -> dict[str, Figure]:
        """The scenario's plots of these results ({file stem: matplotlib Figure})."""
        if self.scenario is None:
            raise BadInput(f"the scenario of this run ({self.scenario_name}) cannot be loaded")
        if self.scenario.plot is None or self.results.empty:
            return {}
        return dict(self.scenario.plot(self.results, self.trajectories))


def run(
    scenario: str | Scenario,
    params: Mapping[str, Any] | None = None,
    grid: Mapping[str, Any] | None = None,
    *,
    seeds: int | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    executor: str | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
    quick: bool = False,
    fresh: bool = False,
    repair: bool = False,
    errors: str = "raise",
    progress: Progress | None = None,
    task_progress: TaskProgress | None = None,
    command: list[str] | None = None,
) -> RunResult:
    """Run a scenario over a grid of parameter values times seeds.

    Args:
        scenario: A built-in name, ``FILE.py:NAME``, or a Scenario object.
        params, grid, seeds, seed, quick: As for :func:`plan_run`.
        out: Run directory (every task persisted as it finishes; the same call resumes), or None
            to keep everything in memory. A directory is locked for the run's life: a second run
            into it is refused while the first is alive.
        executor: ``serial``, ``process`` or ``ray`` (default: process when workers > 1).
        workers: Parallel workers (default 1; for ``ray`` without an address, every local CPU).
        ray_address: A running Ray cluster (with ``executor="ray"``); None starts a local Ray.
        fresh: Delete a previous run in ``out`` first instead of resuming it.
        repair: Rebuild a damaged or missing manifest.json of ``out`` from this call, keeping
            the task files that verify as tasks of this run.
        errors: ``"raise"`` (:class:`RunFailed` when any task raised) or ``"keep"`` (return the
            result with its ``failures``).
        progress: Called after each finished task with (done, total).
        task_progress: Called in this process, under every executor, as running tasks report
            progress (:func:`seqrl.report_progress`), with (task id, done, total, unit).
        command: The command line to record in the manifest (the CLI passes its argv).

    Raises:
        BadInput: bad input, a missing extra, an unusable or locked ``out``, a damaged manifest,
            or an unreachable Ray cluster, before anything is run or written; OutputError (a
            BadInput) when ``out`` cannot be written mid-run (finished tasks are kept).
        RunFailed: some tasks raised (with ``errors="raise"``); finished tasks are kept.
        KeyboardInterrupt: interrupted; finished tasks are kept and the same call resumes.
    """
    run_plan = plan_run(scenario, params, grid, seeds=seeds, seed=seed, quick=quick)
    resolved = run_plan.scenario
    require_extras(resolved.requires, f"scenario {resolved.name}")
    executor = _executor(executor, workers, ray_address)
    workers = _workers(executor, workers, ray_address)
    source = _worker_source(run_plan, executor)
    if errors not in ("raise", "keep"):
        raise BadInput(f"errors must be 'raise' or 'keep', got {errors!r}")
    if out is not None and str(out) == "":
        raise BadInput("out must name a directory, got ''")

    from seqrl.scenarios.provenance import code_fingerprint, package_versions

    fingerprint = code_fingerprint(_user_file(run_plan.reference))
    pool = open_executor(executor, workers, ray_address)  # Ray fails fast, before any write
    try:
        store, previous = _open_store(run_plan, out, fresh, repair, fingerprint, command)
    except BaseException:
        pool.close()
        raise
    manifest = {
        "identity": run_plan.identity,
        "run_fingerprint": run_fingerprint(run_plan.identity),
        "description": resolved.description,
        "reference": run_plan.reference,
        "quick": quick,
        "n_tasks": len(run_plan.tasks),
        "command": command,
        "executor": executor,
        "workers": workers,
        "ray_address": ray_address,
        "versions": package_versions(),
        "code": fingerprint,
        "first_started": (previous or {}).get("first_started") or _now(),
        "started": _now(),
        "finished": None,
        "status": "running",
    }
    finished = store.finished_ids()
    todo = [t for t in run_plan.tasks if t.task_id not in finished]
    failures: dict[str, str] = {}
    status = "interrupted"
    done = len(run_plan.tasks) - len(todo)
    try:
        if isinstance(store, RunStore):
            store.write_manifest(manifest)
        artifact_root = str(store.out_dir / "artifacts") if isinstance(store, RunStore) else None
        results = execute(source, todo, pool, artifact_root, task_progress)
        try:
            for result in results:
                if result.error is None:
                    assert result.row is not None
                    store.write_task(result.task_id, result.row, result.trajectories)
                else:
                    failures[result.task_id] = result.error
                    if isinstance(store, RunStore):
                        store.write_error(result.task_id, result.error)
                    logger.error(
                        "task %s failed: %s", result.task_id, result.error.strip().splitlines()[-1]
                    )
                done += 1
                if progress is not None:
                    progress(done, len(run_plan.tasks))
            status = "failed" if failures else "complete"
        finally:
            results.close()  # stops the executor's workers at once on an interrupt
    finally:
        pool.close()
        manifest |= {"finished": _now(), "status": status, "failed_tasks": sorted(failures)}
        if isinstance(store, RunStore):
            _finish_directory(store, manifest, raise_errors=status != "interrupted")
    order = [*run_plan.grids[0], "seed_index"]
    frame, trajectories = assemble(*store.read_tasks(), order)
    out_dir = store.out_dir if isinstance(store, RunStore) else None
    outcome = RunResult(resolved, resolved.name, frame, trajectories, manifest, out_dir, failures)
    if failures and errors == "raise":
        raise RunFailed(outcome)
    return outcome


def _open_store(
    run_plan: RunPlan,
    out: str | Path | None,
    fresh: bool,
    repair: bool,
    fingerprint: Mapping[str, Any],
    command: list[str] | None,
) -> tuple[RunStore | MemoryStore, dict[str, Any] | None]:
    """The run's store, locked and loaded with its verified finished tasks, and the manifest of
    the run it resumes. Lock, checks and verification are one step: no other run can slip between.

    Raises:
        BadInput: the directory is unusable, locked, damaged, or holds another run.
    """
    if out is None:
        return MemoryStore(), None
    store = RunStore(Path(out))
    check_writable(store.out_dir)
    store.acquire(command)
    try:
        if fresh:
            store.clear()
        store.check_compatible(run_plan.identity, repair=repair)
        try:
            previous = store.read_manifest()
        except DamagedRun:
            if not repair:
                raise
            previous = None
        if previous is not None:
            store.check_code(fingerprint, previous)
        store.verify(run_plan.identity, {t.task_id: t.seed_index for t in run_plan.tasks})
    except BaseException:
        store.release(discard_if_new=True)
        raise
    return store, previous


def _finish_directory(store: RunStore, manifest: Mapping[str, Any], raise_errors: bool) -> None:
    """Record how the run ended and rewrite its report; then release the directory's lock.

    On a full or failing disk the task files already written are the results: a write error here
    is raised after the lock is released (``raise_errors``), or only logged when the run is
    already ending by an exception of its own.
    """
    from seqrl.scenarios.report import list_artifacts, write_report

    failure: BaseException | None = None
    try:
        store.write_manifest({**manifest, "artifacts": list_artifacts(store.out_dir)})
        write_report(store.out_dir)
    except OutputError as error:
        failure = error
    except OSError as error:  # a plot or table writer that bypasses atomic_write
        failure = OutputError.from_os_error(store.out_dir, error)
    finally:
        store.release()
    if failure is not None:
        if raise_errors:
            raise failure
        logger.info("%s", failure)  # the run is already ending by an error of its own


def load_results(directory: str | Path) -> RunResult:
    """Read a run directory back (finished tasks, verified; trajectories; manifest).

    Raises:
        BadInput: the directory holds no seqrl run; DamagedRun (a BadInput): its manifest is
            damaged.
    """
    store = RunStore(Path(directory))
    manifest = store.read_manifest()
    if manifest is None:
        raise BadInput(f"{directory}: no manifest.json here; not a seqrl run directory")
    name = manifest["identity"]["scenario"]
    try:
        scenario: Scenario | None = (
            resolve(manifest["reference"]) if manifest.get("reference") else None
        )
    except BadInput as error:
        logger.warning("results of %s load without their scenario: %s", name, error)
        scenario = None
    store.verify(manifest["identity"])
    order = [*manifest["identity"]["grid"][0], "seed_index"]
    results, trajectories = assemble(*store.read_tasks(), order)
    failures = store.read_errors(set(manifest.get("failed_tasks", [])))
    return RunResult(scenario, name, results, trajectories, manifest, store.out_dir, failures)


def _at_least_one(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise BadInput(f"{name} must be an integer >= 1, got {value!r}")


def _executor(executor: str | None, workers: int | None, ray_address: str | None) -> str:
    _at_least_one("workers", workers)
    chosen = executor or ("process" if (workers or 1) > 1 else "serial")
    if chosen not in EXECUTORS:
        raise BadInput(f"executor must be one of {', '.join(EXECUTORS)}, got {chosen!r}")
    if ray_address and chosen != "ray":
        raise BadInput(f"ray_address needs executor ray, got executor {chosen}")
    if chosen == "ray":
        require_extras(["ray"], "executor ray")
    return chosen


def _workers(executor: str, workers: int | None, ray_address: str | None) -> int:
    """The parallelism: as given; else every local CPU for a local Ray, else 1."""
    if workers is not None:
        return workers
    if executor == "ray" and ray_address is None:
        return os.cpu_count() or 1
    return 1


def _reference(given: str | Scenario, scenario: Scenario) -> str | None:
    """A string that resolves to ``scenario`` in any process, or None if there is none."""
    if isinstance(given, str):
        return canonical_reference(given)
    if builtin_scenarios().get(scenario.name) is scenario:
        return scenario.name
    source = inspect.getsourcefile(scenario.run)
    if source and source.endswith(".py") and Path(source).is_file():
        reference = f"{Path(source).resolve()}:{scenario.name}"
        try:
            if resolve(reference).name == scenario.name:
                return reference
        except BadInput:
            return None
    return None


def _worker_source(run_plan: RunPlan, executor: str) -> ScenarioSource:
    """What the executor's workers get: the reference, or (serial only) the object itself."""
    if run_plan.reference is not None:
        return run_plan.reference
    if executor != "serial":
        try:
            pickle.dumps(run_plan.scenario)
        except Exception:
            raise BadInput(
                f"scenario {run_plan.scenario.name} is defined outside a .py file, so executor "
                f"{executor} cannot send it to workers: use executor 'serial', or put it in a "
                "file and run 'FILE.py:NAME'"
            ) from None
    return run_plan.scenario


def _user_file(reference: str | None) -> Path | None:
    if reference is None:
        return None
    path, sep, _ = reference.rpartition(":")
    return Path(path) if sep and path.endswith(".py") else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def describe_plan(run_plan: RunPlan) -> Iterable[str]:
    """Lines that describe a plan: task count and the grid (``--dry-run``, ``seqrl list NAME``)."""
    n = len(run_plan.combinations)
    yield (
        f"{run_plan.scenario.name}: {len(run_plan.tasks)} tasks = {n} combination"
        f"{'s' if n != 1 else ''} x {run_plan.n_seeds} seed{'s' if run_plan.n_seeds != 1 else ''}"
        f" (root seed {run_plan.root_seed}{', quick' if run_plan.quick else ''})"
    )
    varying = run_plan.varying()
    fixed = {k: v for k, v in run_plan.combinations[0].items() if k not in varying}
    if len(run_plan.grids) > 1:
        yield f"  grid: union of {len(run_plan.grids)} sub-grids"
    for name, values in varying.items():
        yield f"  {name}: {', '.join(map(_text, values))}"
    if fixed:
        yield "  fixed: " + ", ".join(f"{k}={_text(v)}" for k, v in fixed.items())


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
