"""The output directory of a run: one verified file per finished task, consolidated tables, the manifest.

Layout of ``DIR``::

    .lock                    held (flock) by the run writing here; names its pid and command
    manifest.json            what was run (schema, scenario, grid, seeds, versions, commit, command)
    tasks/<id>.parquet       one row per finished task, written atomically the moment it finishes
    tasks/<id>.traj.parquet  that task's time series, if any (written before its row)
    artifacts/<id>/          the task's own files (see seqrl.artifact_dir)
    errors/<id>.txt          the traceback of a task that failed (removed once it succeeds)
    quarantine/              task files that failed verification, moved aside (never deleted)
    results.parquet          all finished rows; trajectories.parquet likewise
    summary.md, summary.csv  the report; *.png and *.svg: the figures

A task counts as finished exactly when ``tasks/<id>.parquet`` reads back and carries the identity
of its task in this run (task id, run fingerprint, seed index) in its Parquet metadata. A file that
does not is moved to ``quarantine/`` and its task recomputed, so a damaged, truncated or foreign file
can never pass for a result. An interrupted run resumes by skipping the verified ids.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from seqrl.scenarios.core import BadInput

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = 2
"""Version of manifest.json's layout; a manifest of another version is refused, never guessed at."""
RESULTS = "results.parquet"
TRAJECTORIES = "trajectories.parquet"
SUMMARY = "summary.md"
LOCK = ".lock"
QUARANTINE = "quarantine"
_TASKS = "tasks"
_ERRORS = "errors"
_TRAJECTORY_SUFFIX = ".traj.parquet"
_TASK_METADATA = b"seqrl.task"
_MANIFEST_KEYS = {"identity": dict, "n_tasks": int, "status": str}
_IDENTITY_KEYS = {"scenario": str, "grid": list, "n_seeds": int, "root_seed": int}


class OutputError(BadInput):
    """The run directory cannot be written (full disk, read-only, no permission, I/O error)."""

    @classmethod
    def from_os_error(cls, path: Path, error: OSError) -> OutputError:
        code = error.errno
        name = errno.errorcode.get(code, "") if code is not None else ""
        reason = error.strerror or str(error)
        return cls(f"cannot write {path}: {reason}" + (f" ({name})" if name else ""))


class DamagedRun(BadInput):
    """A run directory's manifest.json cannot be read or has the wrong layout."""


class RunLocked(BadInput):
    """Another live process is writing into the run directory."""


def _new_file_mode() -> int:
    """The mode of an ordinary new file under the process's umask (Python has no umask getter:
    set it and restore it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write through ``write(temporary_path)`` and rename into place, so readers never see half a file.

    The file gets the permissions of an ordinary new file under the user's umask (``mkstemp`` alone
    would leave it readable by its owner only).

    Raises:
        OutputError: the file could not be written (naming the path and the errno).
    """
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        temporary = Path(name)
        os.close(handle)
        os.chmod(temporary, _new_file_mode())
        write(temporary)
        os.replace(temporary, path)
    except OSError as error:
        raise OutputError.from_os_error(path, error) from error
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def jsonable(value: Any) -> Any:
    """Make a value strict JSON (non-finite floats become the strings "inf", "-inf", "nan")."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def run_fingerprint(identity: Mapping[str, Any]) -> str:
    """A short hash of a run's identity (scenario, grid, seeds): stamped into every task file."""
    text = json.dumps(jsonable(identity), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_writable(out_dir: Path) -> None:
    """Refuse an output directory that cannot be created or written, before anything is written.

    Raises:
        BadInput: naming the directory and the reason.
    """
    probe = out_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise BadInput(f"--out {out_dir}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BadInput(f"--out {out_dir}: {probe} is not writable")


class MemoryStore:
    """The finished tasks of a run, in memory (``seqrl.run(..., out=None)``, and RunStore's cache)."""

    def __init__(self) -> None:
        self._rows: dict[str, pd.DataFrame] = {}
        self._series: dict[str, pd.DataFrame] = {}

    def finished_ids(self) -> set[str]:
        return set(self._rows)

    def write_task(
        self, task_id: str, row: Mapping[str, Any], trajectories: pd.DataFrame | None
    ) -> None:
        if trajectories is not None:
            self._series[task_id] = trajectories
        self._rows[task_id] = pd.DataFrame([dict(row)])

    def read_tasks(self) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
        """The rows and time series of every finished task, in task-id order."""
        ids = sorted(self._rows)
        return [self._rows[i] for i in ids], [self._series[i] for i in ids if i in self._series]


class _DamagedTask(Exception):
    """A task file that does not read back as a finished task of this run."""


class RunStore(MemoryStore):
    """Reads and writes one run's output directory.

    A writer first takes the directory's lock (:meth:`acquire`), then loads the finished tasks
    with :meth:`verify`; readers (``seqrl report``) only verify.
    """

    def __init__(self, out_dir: Path) -> None:
        super().__init__()
        self.out_dir = Path(out_dir)
        self.tasks_dir = self.out_dir / _TASKS
        self.errors_dir = self.out_dir / _ERRORS
        self._fingerprint: str | None = None
        self._lock_fd: int | None = None
        self._created = False

    # -- the lock -------------------------------------------------------------------------------

    def acquire(self, command: list[str] | None) -> None:
        """Create the directory if needed and take its lock (``flock`` on ``DIR/.lock``) for this
        run's life. The OS releases the lock when the process dies, so a dead run's lock is free.

        Raises:
            RunLocked: another live process holds it (naming its pid and command).
            OutputError: the directory or the lock file cannot be created.
        """
        lock_path = self.out_dir / LOCK
        try:
            self._created = not self.out_dir.exists()
            self.out_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, _new_file_mode())
        except OSError as error:
            raise OutputError.from_os_error(lock_path, error) from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunLocked(
                f"--out {self.out_dir} is in use by pid {holder.get('pid', '?')} "
                f"({' '.join(holder.get('command') or []) or 'a seqrl run'}, since "
                f"{holder.get('since', '?')}); wait for it to finish or use another --out"
            ) from None
        if not _same_file(fd, lock_path):  # the directory was removed while we waited
            os.close(fd)
            raise RunLocked(f"--out {self.out_dir} changed while this run started; try again")
        holder = {"pid": os.getpid(), "command": command, "since": _now()}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode(), 0)
        except OSError as error:
            os.close(fd)
            raise OutputError.from_os_error(lock_path, error) from error
        self._lock_fd = fd

    def release(self, *, discard_if_new: bool = False) -> None:
        """Release the lock; with ``discard_if_new``, remove a directory this run created and left
        empty (a run that stopped before it wrote anything leaves nothing behind)."""
        if self._lock_fd is None:
            return
        if discard_if_new and self._created and _entries(self.out_dir) == [LOCK]:
            shutil.rmtree(self.out_dir, ignore_errors=True)
        else:
            try:
                os.ftruncate(self._lock_fd, 0)
            except OSError:
                logger.debug("could not clear %s", self.out_dir / LOCK)
        os.close(self._lock_fd)  # closing the descriptor releases the flock
        self._lock_fd = None

    # -- the manifest ---------------------------------------------------------------------------

    def read_manifest(self) -> dict[str, Any] | None:
        """The manifest, validated; None when the directory has none.

        Raises:
            DamagedRun: it is not valid JSON or lacks what a manifest holds, with how to recover.
        """
        path = self.out_dir / MANIFEST
        if not path.is_file():
            return None
        try:
            manifest = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise self._damaged(f"not readable as JSON: {error}") from None
        problem = _manifest_problem(manifest)
        if problem is not None:
            raise self._damaged(problem)
        return dict(manifest)

    def _damaged(self, reason: str) -> DamagedRun:
        return DamagedRun(
            f"{self.out_dir / MANIFEST} is damaged ({reason}); the finished tasks in "
            f"{self.tasks_dir} are kept: rerun the run's command with --repair to rebuild the "
            "manifest from them, or with --fresh to start over"
        )

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        text = json.dumps(jsonable({"schema": MANIFEST_SCHEMA, **manifest}), indent=2)
        atomic_write(self.out_dir / MANIFEST, lambda p: p.write_text(text + "\n"))

    def check_compatible(self, identity: Mapping[str, Any], *, repair: bool = False) -> None:
        """Refuse to mix runs: the directory must be new, empty, or hold the same run. With
        ``repair``, a damaged or missing manifest is not an objection (the tasks verify themselves).

        Raises:
            BadInput: the directory holds another run or unrelated files.
            DamagedRun: its manifest is damaged (and ``repair`` is not set).
        """
        entries = [e for e in _entries(self.out_dir) if e != LOCK]
        if not entries:
            return
        try:
            manifest = self.read_manifest()
        except DamagedRun:
            if repair:
                return
            raise
        if manifest is None:
            if repair and _TASKS in entries:
                return
            raise BadInput(
                f"--out {self.out_dir}: not empty and holds no seqrl run; choose another"
            )
        stored = manifest["identity"]
        wanted = jsonable(identity)
        if stored != wanted:
            differing = sorted(
                k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k)
            )
            raise BadInput(
                f"--out {self.out_dir} holds a different run (differs in {', '.join(differing)}); "
                "use another --out or remove it"
            )

    def check_code(self, fingerprint: Mapping[str, Any], manifest: Mapping[str, Any]) -> None:
        """Refuse to resume a run whose scenario code has changed since it began.

        Raises:
            BadInput: naming what changed and how to start over.
        """
        if "code" not in manifest:
            return
        from seqrl.scenarios.provenance import describe_change

        change = describe_change(manifest["code"], dict(fingerprint))
        if change is not None:
            raise BadInput(
                f"--out {self.out_dir}: the code changed since this run began ({change}); "
                "its finished tasks would be stale: rerun with --fresh to start over, or use "
                "another --out"
            )

    def clear(self) -> None:
        """Delete a previous run's files (``--fresh``); a directory holding no seqrl run is refused.

        Raises:
            BadInput: the directory is not empty and holds no manifest.json.
        """
        entries = [e for e in _entries(self.out_dir) if e != LOCK]
        if not entries:
            return
        if MANIFEST not in entries:
            raise BadInput(
                f"--out {self.out_dir}: not empty and holds no seqrl run; --fresh deletes only runs"
            )
        for name in entries:
            entry = self.out_dir / name
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    # -- the tasks ------------------------------------------------------------------------------

    def verify(
        self, identity: Mapping[str, Any], planned: Mapping[str, int] | None = None
    ) -> set[str]:
        """Load every task file that is a finished task of the run ``identity``; move any other
        (unreadable, truncated, of another run, not planned) to ``quarantine/`` with a warning.

        Args:
            identity: The run's identity (its fingerprint is stamped into each task file).
            planned: The run's task ids with their seed indices, when known (a run; not a report).

        Returns:
            The ids of the finished tasks.
        """
        self._fingerprint = run_fingerprint(identity)
        self._rows.clear()
        self._series.clear()
        if not self.tasks_dir.is_dir():
            return set()
        for path in sorted(self.tasks_dir.glob("*.parquet")):
            if path.name.endswith(_TRAJECTORY_SUFFIX):
                continue
            task_id = path.name.removesuffix(".parquet")
            series_path = self.tasks_dir / f"{task_id}{_TRAJECTORY_SUFFIX}"
            try:
                if planned is not None and task_id not in planned:
                    raise _DamagedTask("not a task of this run")
                row = self._read_task_file(path, task_id, rows=1)
                seed_index = int(row["seed_index"].iloc[0])
                if planned is not None and seed_index != planned[task_id]:
                    raise _DamagedTask(f"seed index {seed_index}, expected {planned[task_id]}")
                series = (
                    self._read_task_file(series_path, task_id) if series_path.is_file() else None
                )
            except _DamagedTask as problem:
                self._quarantine([path, series_path], str(problem))
                continue
            self._rows[task_id] = row
            if series is not None:
                self._series[task_id] = series
        return set(self._rows)

    def _read_task_file(self, path: Path, task_id: str, rows: int | None = None) -> pd.DataFrame:
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as error:
            raise _DamagedTask(f"unreadable: {str(error).splitlines()[0]}") from None
        raw = (table.schema.metadata or {}).get(_TASK_METADATA)
        try:
            stamp = json.loads(raw) if raw else {}
        except ValueError:
            stamp = {}
        if stamp.get("task_id") != task_id or stamp.get("run") != self._fingerprint:
            raise _DamagedTask("its identity stamp does not match this run's task")
        frame = table.to_pandas()
        if rows is not None and len(frame) != rows:
            raise _DamagedTask(f"{len(frame)} rows, expected {rows}")
        if "task_id" in frame and not (frame["task_id"] == task_id).all():
            raise _DamagedTask("its rows belong to another task")
        return frame

    def _quarantine(self, paths: list[Path], problem: str) -> None:
        quarantine = self.out_dir / QUARANTINE
        for path in paths:
            if not path.is_file():
                continue
            quarantine.mkdir(exist_ok=True)
            target = quarantine / path.name
            if target.exists():
                target = quarantine / f"{path.name}.{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
            os.replace(path, target)
        logger.warning(
            "%s: %s; moved to %s/, the task will be recomputed by the next run",
            paths[0].relative_to(self.out_dir),
            problem,
            QUARANTINE,
        )

    def artifact_dir(self, task_id: str) -> Path:
        return self.out_dir / "artifacts" / task_id

    def write_task(
        self, task_id: str, row: Mapping[str, Any], trajectories: pd.DataFrame | None
    ) -> None:
        """Persist one finished task: its time series first, then the row that marks it finished,
        each stamped with the task's identity; a stale error file of the task is removed."""
        if self._fingerprint is None:
            raise RuntimeError("RunStore.verify() must run before write_task()")
        stamp = json.dumps({"task_id": task_id, "run": self._fingerprint}).encode()
        frame = pd.DataFrame([dict(row)])
        if trajectories is not None:
            _write_stamped(self.tasks_dir / f"{task_id}{_TRAJECTORY_SUFFIX}", trajectories, stamp)
        _write_stamped(self.tasks_dir / f"{task_id}.parquet", frame, stamp)
        super().write_task(task_id, row, trajectories)
        (self.errors_dir / f"{task_id}.txt").unlink(missing_ok=True)

    def write_error(self, task_id: str, text: str) -> None:
        """Keep a failed task's traceback in ``errors/<id>.txt``."""
        atomic_write(self.errors_dir / f"{task_id}.txt", lambda p: p.write_text(text))

    def read_errors(self, task_ids: set[str]) -> dict[str, str]:
        """The stored tracebacks of the given tasks."""
        if not self.errors_dir.is_dir():
            return {}
        return {
            path.stem: path.read_text()
            for path in sorted(self.errors_dir.glob("*.txt"))
            if path.stem in task_ids
        }

    def count_task_files(self) -> int:
        """How many task rows are on disk (unverified; for messages only)."""
        if not self.tasks_dir.is_dir():
            return 0
        return sum(
            1 for p in self.tasks_dir.glob("*.parquet") if not p.name.endswith(_TRAJECTORY_SUFFIX)
        )

    def consolidate(self, order: list[str]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """Verify the finished tasks against the manifest and gather them into results.parquet
        (rows sorted by ``order``, then task id) and trajectories.parquet.

        Raises:
            BadInput: the directory holds no seqrl run; DamagedRun: its manifest is damaged.
        """
        manifest = self.read_manifest()
        if manifest is None:
            raise BadInput(f"{self.out_dir}: no manifest.json here; not a seqrl run directory")
        self.verify(manifest["identity"])
        results, trajectories = assemble(*self.read_tasks(), order)
        atomic_write(self.out_dir / RESULTS, lambda p: results.to_parquet(p, index=False))
        if trajectories is not None:
            atomic_write(
                self.out_dir / TRAJECTORIES, lambda p: trajectories.to_parquet(p, index=False)
            )
        return results, trajectories


def assemble(
    rows: list[pd.DataFrame], series: list[pd.DataFrame], order: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The results table (rows sorted by ``order``, then task id) and the trajectories table."""
    results = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    if not results.empty:
        keys = [c for c in order if c in results.columns] + ["task_id"]
        results = results.sort_values(keys, kind="stable").reset_index(drop=True)
    trajectories = pd.concat(series, ignore_index=True) if series else None
    return results, trajectories


def _write_stamped(path: Path, frame: pd.DataFrame, stamp: bytes) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _TASK_METADATA: stamp})
    atomic_write(path, lambda p: pq.write_table(table, p))


def _manifest_problem(manifest: Any) -> str | None:
    """Why a parsed manifest.json is not a manifest this seqrl can use, or None."""
    if not isinstance(manifest, dict):
        return f"a JSON {type(manifest).__name__}, not an object"
    if manifest.get("schema") != MANIFEST_SCHEMA:
        return f"schema {manifest.get('schema')!r}, this seqrl reads schema {MANIFEST_SCHEMA}"
    for key, kind in _MANIFEST_KEYS.items():
        if not isinstance(manifest.get(key), kind):
            return f"'{key}' missing or not a {kind.__name__}"
    for key, kind in _IDENTITY_KEYS.items():
        if not isinstance(manifest["identity"].get(key), kind):
            return f"'identity.{key}' missing or not a {kind.__name__}"
    grid = manifest["identity"]["grid"]
    if not grid or not all(isinstance(g, dict) for g in grid):
        return "'identity.grid' is not a list of parameter axes"
    return None


def _read_holder(fd: int) -> dict[str, Any]:
    """What the holder of a lock wrote into the lock file (pid, command, since)."""
    try:
        holder = json.loads(os.pread(fd, 65536, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except OSError:
        return False


def _entries(directory: Path) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except FileNotFoundError:
        return []


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
