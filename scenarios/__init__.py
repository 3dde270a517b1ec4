"""Scenarios: the engine (API, registry, runner, executors, storage, report, CLI) and built-ins."""

from seqrl._guard import require_namespace

require_namespace(__name__, "seqrl.scenarios")

from seqrl.scenarios.core import (  # noqa: E402
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

__all__ = [
    "BadInput",
    "Param",
    "Scenario",
    "TaskOutput",
    "artifact_dir",
    "param",
    "replicate_rngs",
    "report_progress",
    "scenario",
]
