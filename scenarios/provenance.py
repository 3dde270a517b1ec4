"""What produced a run: package versions, the git commit, and a fingerprint of the scenario's code.

The fingerprint makes stale results impossible to resume into: a run directory records the digest
of every source file of seqrl (and of a user's scenario file), and a later run into the same
directory with different code is refused, naming the files that changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

import seqrl

_RECORDED_PACKAGES = (
    "seqrl", "numpy", "scipy", "pandas", "pyarrow", "gymnasium", "mesa", "torch",
    "stable-baselines3", "pot", "metaworld", "vaderSentiment", "ray", "llama-cpp-python", "openai",
)  # fmt: skip

_PACKAGE_ROOT = Path(seqrl.__file__).resolve().parent


def package_versions() -> dict[str, str]:
    """Python's version and those of the installed packages a run may depend on."""
    versions = {"python": platform.python_version()}
    for name in _RECORDED_PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return versions


def git_commit() -> str | None:
    """The commit of the checkout seqrl runs from, or None outside a git checkout."""
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=_PACKAGE_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (completed.stdout.strip() or None) if completed.returncode == 0 else None


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _seqrl_sources() -> dict[str, Path]:
    """Every .py file of the installed seqrl packages, by its name inside the ``seqrl`` namespace."""
    import seqrl.agents
    import seqrl.envs
    import seqrl.mechanisms
    import seqrl.scenarios

    sources: dict[str, Path] = {}
    for package in (seqrl, seqrl.agents, seqrl.envs, seqrl.mechanisms, seqrl.scenarios):
        root = Path(package.__file__).resolve().parent  # type: ignore[arg-type]
        prefix = package.__name__.replace(".", "/")
        for path in sorted(root.rglob("*.py")):
            # An installed wheel nests the subpackages under seqrl/: the same names either way.
            sources[f"{prefix}/{path.relative_to(root).as_posix()}"] = path
    return sources


def code_fingerprint(user_file: Path | None = None) -> dict[str, Any]:
    """Digests of the code a run executes: seqrl's sources, and the user's scenario file if any."""
    files = {name: _digest(path) for name, path in _seqrl_sources().items()}
    if user_file is not None:
        files[str(user_file)] = _digest(user_file)
    return {"seqrl": seqrl.__version__, "commit": git_commit(), "files": files}


def describe_change(old: dict[str, Any], new: dict[str, Any], limit: int = 3) -> str | None:
    """Words for what differs between two fingerprints, or None when the code is the same."""
    old_files, new_files = old.get("files", {}), new.get("files", {})
    changed = sorted(
        name
        for name in set(old_files) | set(new_files)
        if old_files.get(name) != new_files.get(name)
    )
    if not changed and old.get("seqrl") == new.get("seqrl"):
        return None
    parts = []
    if old.get("seqrl") != new.get("seqrl"):
        parts.append(f"seqrl {old.get('seqrl')} -> {new.get('seqrl')}")
    if changed:
        shown = ", ".join(changed[:limit]) + (
            f" and {len(changed) - limit} more" if len(changed) > limit else ""
        )
        parts.append(f"changed: {shown}")
    return "; ".join(parts)
