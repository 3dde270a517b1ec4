"""The ``seqrl`` command line: ``list``, ``run`` and ``report`` (contract in docs/design.md).

It only parses arguments, prints, and maps exceptions to exit codes; every action is a call of the
Python API (:mod:`seqrl.scenarios.api`).

Exit status: 0 success; 1 internal failure (a task raised, a worker died); 2 bad input or a missing
extra (one line on stderr naming the parameter, the value and what is allowed, and nothing
written); 130 interrupted (finished tasks are kept; the same command resumes).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
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
    run.add_argument("--fresh", action="store_true", help="delete a previous run in --out first")
    run.set_defaults(handler=cmd_run)

    report = commands.add_parser("report", help="rewrite summary.md and plots of a run")
    report.add_argument("directory", help="a run's output directory")
    report.set_defaults(handler=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
        if "MPLBACKEND" not in os.environ:  # files only: the CLI never opens a window
            import matplotlib

            matplotlib.use("Agg")
        return int(args.handler(args))
    except BadInput as error:
        print(f"seqrl: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `seqrl list | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


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
    if out_text == "":
        raise BadInput("--out must name a directory, got ''")
    out = Path(out_text or f"results/{scenario.name}{'-quick' if options['quick'] else ''}")

    from tqdm import tqdm

    bar: tqdm[Any] | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, initial=done - 1, unit="task", desc=scenario.name,
                       disable=None, file=sys.stderr)  # fmt: skip
        bar.update()

    previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        result = run(**options, out=out, fresh=args.fresh, progress=progress, command=sys.argv)
    except KeyboardInterrupt:
        from seqrl.scenarios.storage import RunStore

        done = len(RunStore(out).finished_ids())
        print(f"seqrl: interrupted; {done} tasks saved in {out}; run the same command to resume",
              file=sys.stderr)  # fmt: skip
        return 130
    except RunFailed as failure:
        print(f"seqrl: {failure}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        if bar is not None:
            bar.close()
    print(f"{len(result.results)} tasks in {out} (summary: {out / 'summary.md'})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from seqrl.scenarios.report import write_report

    print(write_report(Path(args.directory)))
    return 0


def _raise_interrupt(signum: int, frame: Any) -> NoReturn:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
