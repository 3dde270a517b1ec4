"""Scenarios: the engine (API, registry, runner, executors, storage, report, CLI) and built-ins."""

from scenarios.core import BadInput, Param, Scenario, TaskOutput, artifact_dir, scenario

__all__ = ["BadInput", "Param", "Scenario", "TaskOutput", "artifact_dir", "scenario"]
