"""The output directory of a run: one file per finished task, consolidated tables, the manifest.

Layout of ``DIR``::

    manifest.json            what was run (scenario, grid, seeds, versions, commit, command, times)
    tasks/<id>.parquet       one row per finished task, written atomically the moment it finishes
    tasks/<id>.traj.parquet  that task's time series, if any (written before its row)
    artifacts/<id>/          the task's own files (see seqrl.artifact_dir)
    results.parquet          all finished rows; trajectories.parquet likewise
    summary.md, *.png        the report

A task counts as finished exactly when ``tasks/<id>.parquet`` exists, so an interrupted run resumes
by skipping those ids.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from seqrl.scenarios.core import BadInput

MANIFEST = "manifest.json"
RESULTS = "results.parquet"
TRAJECTORIES = "trajectories.parquet"
SUMMARY = "summary.md"
_TASKS = "tasks"
_TRAJECTORY_SUFFIX = ".traj.parquet"


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
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        os.chmod(temporary, _new_file_mode())
        write(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def jsonable(value: Any) -> Any:
    """Make a value strict JSON (non-finite floats become the strings "inf", "-inf", "nan")."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def check_writable(out_dir: Path) -> None:
    """Refuse an output directory that cannot be created or written, before anything is written.

    Raises:
        BadInput: naming the directory and the reason.
    """
    probe = out_dir
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise BadInput(f"--out {out_dir}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BadInput(f"--out {out_dir}: {probe} is not writable")


class RunStore:
    """Reads and writes one run's output directory."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.tasks_dir = self.out_dir / _TASKS

    def read_manifest(self) -> dict[str, Any] | None:
        path = self.out_dir / MANIFEST
        return json.loads(path.read_text()) if path.is_file() else None

    def check_compatible(self, identity: Mapping[str, Any]) -> None:
        """Refuse to mix runs: the directory must be new, empty, or hold the same run.

        Raises:
            BadInput: the directory holds another run or unrelated files.
        """
        if not self.out_dir.exists() or not any(self.out_dir.iterdir()):
            return
        manifest = self.read_manifest()
        if manifest is None:
            raise BadInput(
                f"--out {self.out_dir}: not empty and holds no seqrl run; choose another"
            )
        stored = manifest.get("identity")
        if stored != jsonable(identity):
            differing = sorted(
                k
                for k in set(stored or {}) | set(identity)
                if (stored or {}).get(k) != jsonable(identity).get(k)
            )
            raise BadInput(
                f"--out {self.out_dir} holds a different run (differs in {', '.join(differing)}); "
                "use another --out or remove it"
            )

    def check_code(self, fingerprint: Mapping[str, Any]) -> None:
        """Refuse to resume a run whose scenario code has changed since it began.

        Raises:
            BadInput: naming what changed and how to start over.
        """
        manifest = self.read_manifest()
        if manifest is None or "code" not in manifest:
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
        if not self.out_dir.exists() or not any(self.out_dir.iterdir()):
            return
        if self.read_manifest() is None:
            raise BadInput(
                f"--out {self.out_dir}: not empty and holds no seqrl run; --fresh deletes only runs"
            )
        for entry in self.out_dir.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        text = json.dumps(jsonable(manifest), indent=2, sort_keys=False)
        atomic_write(self.out_dir / MANIFEST, lambda p: p.write_text(text + "\n"))

    def finished_ids(self) -> set[str]:
        if not self.tasks_dir.is_dir():
            return set()
        return {
            p.name.removesuffix(".parquet")
            for p in self.tasks_dir.glob("*.parquet")
            if not p.name.endswith(_TRAJECTORY_SUFFIX)
        }

    def artifact_dir(self, task_id: str) -> Path:
        return self.out_dir / "artifacts" / task_id

    def write_task(
        self, task_id: str, row: Mapping[str, Any], trajectories: pd.DataFrame | None
    ) -> None:
        """Persist one finished task: its time series first, then the row that marks it finished."""
        if trajectories is not None:
            atomic_write(
                self.tasks_dir / f"{task_id}{_TRAJECTORY_SUFFIX}",
                lambda p: trajectories.to_parquet(p, index=False),
            )
        frame = pd.DataFrame([dict(row)])
        atomic_write(
            self.tasks_dir / f"{task_id}.parquet", lambda p: frame.to_parquet(p, index=False)
        )

    def read_tasks(self) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
        """The rows and time series of every finished task, in task-id order."""
        ids = sorted(self.finished_ids())
        rows = [pd.read_parquet(self.tasks_dir / f"{i}.parquet") for i in ids]
        series = [
            pd.read_parquet(path)
            for i in ids
            if (path := self.tasks_dir / f"{i}{_TRAJECTORY_SUFFIX}").is_file()
        ]
        return rows, series

    def consolidate(self, order: list[str]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """Gather the finished tasks into results.parquet (rows sorted by ``order``, then task id)
        and trajectories.parquet."""
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


class MemoryStore:
    """The in-memory counterpart of :class:`RunStore` for ``seqrl.run(..., out=None)``."""

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
        ids = sorted(self._rows)
        return [self._rows[i] for i in ids], [self._series[i] for i in ids if i in self._series]
