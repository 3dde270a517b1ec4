"""seqrl: agent simulation for sequential learning and RL.

The public API, importable from the top level::

    import seqrl

    result = seqrl.run("dp-binary-cascade", quick=True)   # in memory; out="DIR" to keep files
    result.results            # one row per task (pandas DataFrame)
    result.summary()          # n, mean/median/IQM with 95% bootstrap bounds, per combination

The four systems live in ``seqrl.mechanisms`` (equations), ``seqrl.agents`` (decision makers),
``seqrl.envs`` (Gymnasium environments and Mesa models) and ``seqrl.scenarios`` (the engine and the
built-in scenarios). Names load on first use, so ``import seqrl`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_EXPORTS = {
    "BadInput": "seqrl.scenarios.core",
    "MissingExtra": "seqrl.scenarios.extras",
    "Param": "seqrl.scenarios.core",
    "Scenario": "seqrl.scenarios.core",
    "TaskOutput": "seqrl.scenarios.core",
    "artifact_dir": "seqrl.scenarios.core",
    "param": "seqrl.scenarios.core",
    "replicate_rngs": "seqrl.scenarios.core",
    "report_progress": "seqrl.scenarios.core",
    "scenario": "seqrl.scenarios.core",
    "RunResult": "seqrl.scenarios.api",
    "get_scenario": "seqrl.scenarios.api",
    "list_scenarios": "seqrl.scenarios.api",
    "load_results": "seqrl.scenarios.api",
    "plan_run": "seqrl.scenarios.api",
    "run": "seqrl.scenarios.api",
}

__all__ = [
    "BadInput",
    "MissingExtra",
    "Param",
    "RunResult",
    "Scenario",
    "TaskOutput",
    "artifact_dir",
    "get_scenario",
    "list_scenarios",
    "load_results",
    "param",
    "plan_run",
    "replicate_rngs",
    "report_progress",
    "run",
    "scenario",
]

if TYPE_CHECKING:
    from seqrl.scenarios.api import (
        RunResult,
        get_scenario,
        list_scenarios,
        load_results,
        plan_run,
        run,
    )
    from seqrl.scenarios.core import (
        BadInput,
        Param,
        Scenario,
        TaskOutput,
        artifact_dir,
        param,
        replicate_rngs,
        report_progress,
        scenario,
    )
    from seqrl.scenarios.extras import MissingExtra


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'seqrl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
