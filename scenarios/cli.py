"""The ``seqrl`` command line: ``list``, ``run`` and ``report`` (contract in docs/design.md).

It only parses arguments, prints, and maps exceptions to exit codes; every action is a call of the
Python API (:mod:`seqrl.scenarios.api`).

Exit status: 0 success; 1 internal failure (a task raised, a worker died, a bug: one line, the
traceback in DIR/errors/ or a temporary file, on the terminal only with --debug); 2 bad input, a
missing extra, or an unusable output directory or cluster (one line on stderr naming the parameter
or path, the value and what is allowed; nothing written), also a directory that fills up or fails
mid-run (finished tasks are kept); 130 interrupted by SIGINT, 143 by SIGTERM (finished tasks are
kept; the same command resumes).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from seqrl.scenarios.core import BadInput, ParamValue, Scenario

logger = logging.getLogger("seqrl")


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad input as one line (BadInput) instead of usage + message."""

    def error(self, message: str) -> NoReturn:
        raise BadInput(message)


def build_parser() -> argparse.ArgumentParser:
    from seqrl.scenarios.runner import EXECUTORS

    parser = _Parser(prog="seqrl", description="Run seqrl scenarios.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress, and only errors in the log"
    )
    parser.add_argument(
        "--debug", action="store_true", help="print the traceback of an internal error"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    listing = commands.add_parser(
        "list", help="list scenarios, or one scenario's parameters and grid"
    )
    listing.add_argument("scenario", nargs="?", help="NAME or FILE.py:NAME to describe")
    listing.set_defaults(handler=cmd_list)

    run = commands.add_parser("run", help="run a scenario over a grid of parameters and seeds")
    run.add_argument("scenario", help="built-in NAME, FILE.py:NAME, or a sweep file SWEEP.toml")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=V1[,V2...]",
        help="set a parameter; comma-separated values and ranges (a:b:step, linspace(a, b, n)) "
        "make a grid axis",
    )
    run.add_argument("--seeds", type=int, help="seeds per parameter combination")
    run.add_argument("--seed", type=int, help="root seed (default 0)")
    run.add_argument("--out", help="output directory (default results/NAME[-quick])")
    run.add_argument("--workers", type=int, help="parallel workers (default 1)")
    run.add_argument(
        "--executor",
        choices=EXECUTORS,
        help="serial, process or ray (default: process when --workers > 1)",
    )
    run.add_argument("--ray-address", help="address of a running Ray cluster")
    run.add_argument("--quick", action="store_true", help="a smoke-sized run")
    run.add_argument("--dry-run", action="store_true", help="print the tasks and grid; run nothing")
    run.add_argument(
        "--progress-every",
        type=float,
        default=30.0,
        metavar="S",
        help="off a terminal: seconds between progress lines of a running task (default 30)",
    )
    run.add_argument("--fresh", action="store_true", help="delete a previous run in --out first")
    run.add_argument(
        "--repair",
        action="store_true",
        help="rebuild a damaged manifest.json of --out from this command, keeping the task "
        "files that verify",
    )
    run.set_defaults(handler=cmd_run)

    report = commands.add_parser("report", help="rewrite summary.md and plots of a run")
    report.add_argument("directory", help="a run's output directory")
    report.set_defaults(handler=cmd_report)

    view = commands.add_parser("view", help="watch and steer a Mesa model in the browser")
    view.add_argument("model", choices=("sequential-learning", "vad-contagion"))
    view.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765)")
    view.set_defaults(handler=cmd_view)

    evaluate = commands.add_parser(
        "evaluate", help="reload a run's saved policies and score them with evaluate_policy"
    )
    evaluate.add_argument("directory", help="a run's output directory")
    evaluate.add_argument("--task", help="one task id (default: every task with a saved policy)")
    evaluate.add_argument("--episodes", type=int, help="episodes (default: as in training)")
    evaluate.add_argument("--video", action="store_true", help="record videos (RecordVideo)")
    evaluate.set_defaults(handler=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        logging.basicConfig(
            level=logging.INFO
            if args.verbose
            else logging.ERROR
            if args.quiet
            else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
        if "MPLBACKEND" not in os.environ:  # files only: the CLI never opens a window
            import matplotlib

            matplotlib.use("Agg")
        return int(args.handler(args))
    except BadInput as error:
        print(f"seqrl: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("seqrl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `seqrl list | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as error:
        if debug:
            traceback.print_exc()
        where = _keep_traceback(_error_directory(argv))
        print(
            f"seqrl: internal error: {type(error).__name__}: {error}; traceback in {where} "
            "(--debug prints it)",
            file=sys.stderr,
        )
        return 1


def _error_directory(argv: list[str] | None) -> Path | None:
    """The errors/ folder of the run directory named on the command line, if it holds a run."""
    words = sys.argv[1:] if argv is None else argv
    for flag, value in zip(words, words[1:], strict=False):
        if flag == "--out" and (Path(value) / "manifest.json").is_file():
            return Path(value) / "errors"
    return None


def _keep_traceback(directory: Path | None) -> Path:
    """Write the current exception's traceback to a file (in ``directory`` when it can)."""
    text = traceback.format_exc()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    try:
        if directory is None:
            raise OSError
        directory.mkdir(exist_ok=True)
        path = directory / f"seqrl-{stamp}.txt"
        path.write_text(text)
    except OSError:
        handle, name = tempfile.mkstemp(prefix=f"seqrl-error-{stamp}-", suffix=".txt")
        with os.fdopen(handle, "w") as file:
            file.write(text)
        path = Path(name)
    return path


def cmd_list(args: argparse.Namespace) -> int:
    from seqrl.scenarios.api import describe_plan, get_scenario, list_scenarios, plan_run

    if args.scenario is None:
        scenarios = list_scenarios()
        width = max(map(len, scenarios), default=0)
        for name, scenario in scenarios.items():
            extras = f"  [{', '.join(scenario.requires)}]" if scenario.requires else ""
            print(f"{name:<{width}}  {scenario.description}{extras}")
        return 0
    scenario = get_scenario(args.scenario)
    print(f"{scenario.name}: {scenario.description}")
    if scenario.requires:
        print(f"  needs: {', '.join(f'seqrl[{e}]' for e in scenario.requires)}")
    for p in scenario.params:
        print(f"  {p.name} ({p.type.__name__}, default {p.default}; {p.allowed()})  {p.help}")
    print("default run:")
    for line in describe_plan(plan_run(scenario)):
        print(f"  {line}")
    print("with --quick:")
    for line in describe_plan(plan_run(scenario, quick=True)):
        print(f"  {line}")
    return 0


def parse_assignments(scenario: Scenario, assignments: list[str]) -> dict[str, list[ParamValue]]:
    """Parse ``--set key=v1,v2`` (values and ranges) into grid axes, by each parameter's type."""
    from seqrl.scenarios.sweeps import parse_values

    axes: dict[str, list[ParamValue]] = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"--set {assignment!r}: expected KEY=VALUE[,VALUE...]")
        param = scenario.param(key.strip())
        axes[param.name] = parse_values(param, text)
    return axes


def _run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`seqrl.run` from the command line and a sweep file."""
    from seqrl.scenarios.api import get_scenario
    from seqrl.scenarios.sweeps import is_sweep_file, load_sweep

    options: dict[str, Any] = {"params": {}, "grid": {}}
    reference = args.scenario
    if is_sweep_file(reference):
        sweep = load_sweep(Path(reference))
        reference = sweep.scenario
        options.update(params=dict(sweep.params), grid=dict(sweep.grid), quick=sweep.quick)
        for key in ("seeds", "seed", "executor", "workers", "out"):
            if getattr(sweep, key) is not None:
                options[key] = getattr(sweep, key)
    scenario = get_scenario(reference)
    for name, values in parse_assignments(scenario, args.set).items():
        options["params"].pop(name, None)
        options["grid"][name] = values
    for key in ("seeds", "seed", "executor", "workers", "out", "ray_address"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    options["quick"] = args.quick or options.get("quick", False)
    options["scenario"] = reference
    return options


def cmd_run(args: argparse.Namespace) -> int:
    from seqrl.scenarios.api import RunFailed, describe_plan, get_scenario, plan_run, run

    options = _run_options(args)
    scenario = get_scenario(options["scenario"])
    if args.dry_run:
        plan_keys = ("params", "grid", "seeds", "seed", "quick")
        run_plan = plan_run(
            options["scenario"], **{k: options[k] for k in plan_keys if k in options}
        )
        for line in describe_plan(run_plan):
            print(line)
        return 0
    out_text = options.pop("out", None)
    if out_text is not None and not out_text.strip():
        raise BadInput(f"--out must name a directory, got {out_text!r}")
    out = Path(out_text or f"results/{scenario.name}{'-quick' if options['quick'] else ''}")

    if not args.progress_every > 0:
        raise BadInput(f"--progress-every must be a number > 0, got {args.progress_every!r}")
    from seqrl.scenarios.progress import ProgressDisplay

    display = ProgressDisplay(scenario.name, every_s=args.progress_every, quiet=args.quiet)
    interrupted_by = {"signal": signal.SIGINT}

    def on_sigterm(signum: int, frame: Any) -> NoReturn:
        interrupted_by["signal"] = signal.SIGTERM
        raise KeyboardInterrupt

    previous_handler = signal.signal(signal.SIGTERM, on_sigterm)
    # A command started in the background by a script inherits SIGINT ignored, and Python then
    # installs no handler: an explicit `kill -INT` must still stop the run cleanly.
    previous_interrupt = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = run(
            **options,
            out=out,
            fresh=args.fresh,
            repair=args.repair,
            progress=display.tasks,
            task_progress=display.task,
            command=sys.argv,
        )
    except KeyboardInterrupt:
        from seqrl.scenarios.storage import RunStore

        done = RunStore(out).count_task_files()
        print(f"seqrl: interrupted; {done} tasks saved in {out}; run the same command to resume",
              file=sys.stderr)  # fmt: skip
        return 128 + interrupted_by["signal"]
    except RunFailed as failure:
        print(f"seqrl: {failure}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        signal.signal(signal.SIGINT, previous_interrupt)
        display.close()
    print(f"{len(result.results)} tasks in {out} (summary: {out / 'summary.md'})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from seqrl.scenarios.report import write_report

    print(write_report(Path(args.directory)))
    return 0


def cmd_view(args: argparse.Namespace) -> int:
    from seqrl.scenarios.extras import require_extras

    require_extras(["viz", *(["vad"] if args.model == "vad-contagion" else [])], "seqrl view")
    from seqrl.scenarios.view import serve

    print(f"seqrl view {args.model}: http://127.0.0.1:{args.port}/ (Ctrl-C stops)", flush=True)
    serve(args.model, port=args.port)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from seqrl.scenarios.evaluate import evaluate_run

    for line in evaluate_run(Path(args.directory), args.task, args.episodes, args.video):
        print(line.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
