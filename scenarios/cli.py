"""The ``seqrl`` command line: ``list``, ``run`` and ``report`` (contract in DESIGN.md).

Exit status: 0 success; 1 internal failure (a task raised, a worker died); 2 bad input (one line on
stderr naming the parameter, the value and what is allowed, and nothing written); 130 interrupted
(finished tasks are kept; the same command resumes).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import logging
import os
import platform
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from tqdm import tqdm

from scenarios.core import BadInput, ParamValue, Scenario
from scenarios.registry import builtin_scenarios, canonical_reference, resolve
from scenarios.runner import EXECUTORS, execute, plan
from scenarios.storage import RunStore, check_writable

logger = logging.getLogger("seqrl")

_RECORDED_PACKAGES = (
    "seqrl", "numpy", "scipy", "pandas", "pyarrow", "gymnasium", "mesa", "torch",
    "stable-baselines3", "pot", "metaworld", "ray", "llama-cpp-python", "openai",
)  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad input as one line (BadInput) instead of usage + message."""

    def error(self, message: str) -> NoReturn:
        raise BadInput(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="seqrl", description="Run seqrl scenarios.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    listing = commands.add_parser("list", help="list scenarios, or one scenario's parameters")
    listing.add_argument("scenario", nargs="?", help="NAME or FILE.py:NAME to describe")
    listing.set_defaults(handler=cmd_list)

    run = commands.add_parser("run", help="run a scenario over a grid of parameters and seeds")
    run.add_argument("scenario", help="built-in NAME or FILE.py:NAME")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=V1[,V2...]",
        help="set a parameter; several comma-separated values make a grid axis",
    )
    run.add_argument("--seeds", type=int, help="seeds per parameter combination")
    run.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    run.add_argument("--out", help="output directory (default results/NAME[-quick])")
    run.add_argument("--workers", type=int, default=1, help="parallel workers (default 1)")
    run.add_argument(
        "--executor",
        choices=EXECUTORS,
        help="serial, process or ray (default: process when --workers > 1)",
    )
    run.add_argument("--ray-address", help="address of a running Ray cluster")
    run.add_argument("--quick", action="store_true", help="a smoke-sized run")
    run.set_defaults(handler=cmd_run)

    report = commands.add_parser("report", help="rewrite summary.md and plots of a run")
    report.add_argument("directory", help="a run's output directory")
    report.set_defaults(handler=cmd_report)
    return parser  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
        return args.handler(args)
    except BadInput as error:
        print(f"seqrl: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `seqrl list | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def cmd_list(args: argparse.Namespace) -> int:
    if args.scenario is None:
        scenarios = builtin_scenarios()
        width = max(map(len, scenarios), default=0)
        for name, scenario in scenarios.items():
            print(f"{name:<{width}}  {scenario.description}")
        return 0
    scenario = resolve(canonical_reference(args.scenario))
    print(f"{scenario.name}: {scenario.description}")
    for p in scenario.params:
        values = [v for g in scenario.subgrids() for v in g.get(p.name, [])]
        grid = f"  grid {list(dict.fromkeys(values))}" if values else ""
        print(f"  {p.name} ({p.type.__name__}, default {p.default}; {p.allowed()}){grid}  {p.help}")
    print(f"  seeds: {scenario.seeds} (quick: {scenario.quick_seeds}); quick overrides: "
          f"{dict(scenario.quick) or 'none'}")  # fmt: skip
    return 0


def parse_assignments(scenario: Scenario, assignments: list[str]) -> dict[str, list[ParamValue]]:
    """Parse ``--set key=v1,v2`` into grid axes, each value by the parameter's declared type."""
    axes: dict[str, list[ParamValue]] = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"--set {assignment!r}: expected KEY=VALUE[,VALUE...]")
        param = scenario.param(key.strip())
        axes[param.name] = [param.parse(item) for item in text.split(",")]
    return axes


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise BadInput(f"{name} must be >= 1, got {value}")


def cmd_run(args: argparse.Namespace) -> int:
    reference = canonical_reference(args.scenario)
    scenario = resolve(reference)
    grids = scenario.axes(parse_assignments(scenario, args.set), quick=args.quick)
    combinations = list(scenario.combinations(grids))
    _positive("--seeds", args.seeds)
    _positive("--workers", args.workers)
    n_seeds = args.seeds or (scenario.quick_seeds if args.quick else scenario.seeds)
    executor = args.executor or ("process" if args.workers > 1 else "serial")
    if args.ray_address and executor != "ray":
        raise BadInput(f"--ray-address needs --executor ray, got --executor {executor}")
    if executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise BadInput("--executor ray needs Ray: pip install 'seqrl[ray]'") from None
    out_dir = Path(args.out or f"results/{scenario.name}{'-quick' if args.quick else ''}")
    check_writable(out_dir)
    identity = {
        "scenario": scenario.name,
        "grid": grids,
        "n_seeds": n_seeds,
        "root_seed": args.seed,
    }
    store = RunStore(out_dir)
    store.check_compatible(identity)

    tasks = plan(combinations, n_seeds, args.seed)
    finished = store.finished_ids()
    todo = [t for t in tasks if t.task_id not in finished]
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = _manifest(scenario, reference, identity, len(tasks), args, executor)
    previous = store.read_manifest()
    if previous is not None:
        manifest["first_started"] = previous.get("first_started", previous["started"])
    store.write_manifest(manifest)

    failures: list[str] = []
    status = "interrupted"
    previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
    results = execute(
        reference,
        todo,
        executor=executor,
        workers=args.workers,
        artifact_root=str(store.out_dir / "artifacts"),
        ray_address=args.ray_address,
    )
    try:
        with (
            contextlib.closing(results),
            tqdm(total=len(tasks), initial=len(tasks) - len(todo), unit="task",
                 desc=scenario.name, disable=None, file=sys.stderr) as progress,
        ):  # fmt: skip
            for result in results:
                if result.error is None:
                    store.write_task(result.task_id, result.row, result.trajectories)
                else:
                    failures.append(result.task_id)
                    _write_error(out_dir, result.task_id, result.error)
                progress.update()
        status = "failed" if failures else "complete"
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        manifest |= {"finished": _now(), "status": status, "failed_tasks": failures}
        store.write_manifest(manifest)
        from scenarios.report import write_report  # scipy and matplotlib: only when needed

        write_report(out_dir)
    done = len(store.finished_ids())
    if status == "interrupted":
        print(f"seqrl: interrupted; {done} of {len(tasks)} tasks saved in {out_dir}; "
              "run the same command to resume", file=sys.stderr)  # fmt: skip
        return 130
    if failures:
        print(f"seqrl: {len(failures)} of {len(tasks)} tasks failed; tracebacks in "
              f"{out_dir / 'errors'}; the same command retries them", file=sys.stderr)  # fmt: skip
        return 1
    print(f"{done} tasks in {out_dir} (summary: {out_dir / 'summary.md'})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from scenarios.report import write_report

    print(write_report(Path(args.directory)))
    return 0


def _raise_interrupt(signum: int, frame: Any) -> NoReturn:
    raise KeyboardInterrupt


def _write_error(out_dir: Path, task_id: str, text: str) -> None:
    errors = out_dir / "errors"
    errors.mkdir(exist_ok=True)
    (errors / f"{task_id}.txt").write_text(text)
    logger.error("task %s failed: %s", task_id, text.strip().splitlines()[-1])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _git_commit() -> str | None:
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() or None if completed.returncode == 0 else None


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _RECORDED_PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return versions


def _manifest(
    scenario: Scenario,
    reference: str,
    identity: dict[str, Any],
    n_tasks: int,
    args: argparse.Namespace,
    executor: str,
) -> dict[str, Any]:
    return {
        "identity": identity,
        "description": scenario.description,
        "reference": reference,
        "quick": args.quick,
        "n_tasks": n_tasks,
        "command": sys.argv,
        "executor": executor,
        "workers": args.workers,
        "ray_address": args.ray_address,
        "versions": _versions(),
        "git_commit": _git_commit(),
        "started": _now(),
        "finished": None,
        "status": "running",
    }


if __name__ == "__main__":
    sys.exit(main())
