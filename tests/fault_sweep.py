"""Bad-input sweep over every built-in scenario's parameters, through the real CLI entry point.

For each parameter it tries the values a user can get wrong: below and above the range, NaN, inf,
the wrong type, an empty value, and an unknown choice. Every case must exit 2 with exactly one
line that names the parameter, and write nothing. Prints the counts per kind of case and every
case that broke the promise; exits 1 if any did.

Run: ``python tests/fault_sweep.py [SCENARIO ...]`` (tests/integration/test_fault_sweep.py runs it).
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from seqrl.scenarios.api import list_scenarios
from seqrl.scenarios.cli import main
from seqrl.scenarios.core import Param


@dataclass(frozen=True)
class Case:
    scenario: str
    param: str
    kind: str
    text: str


def bad_values(param: Param) -> Iterator[tuple[str, str]]:
    """(kind, text) of the values this parameter must refuse."""
    numeric = param.type in (int, float)
    if param.choices is not None:
        yield "unknown choice", "no-such-choice"
    elif numeric:
        step = 1 if param.type is int else 1e-3 * (1 + abs(param.low or 0))
        if param.low is not None:
            yield "below range", repr(param.low - step if param.low_inclusive else param.low)
        if param.high is not None:
            high_step = 1 if param.type is int else 1e-3 * (1 + abs(param.high))
            yield (
                "above range",
                repr(param.high + high_step if param.high_inclusive else param.high),
            )
        yield "nan", "nan"
        if param.type is float and not param.allow_inf:
            yield "inf", "inf"
        if param.type is float and param.allow_inf and param.low is not None:
            yield "-inf", "-inf"
        yield "wrong type", "abc" if param.type is float else "1.5"
    elif param.type is bool:
        yield "wrong type", "maybe"
    if param.type is not str or param.choices is not None:
        yield "empty", ""


def cases(names: list[str]) -> Iterator[Case]:
    for name, scenario in list_scenarios().items():
        if names and name not in names:
            continue
        for param in scenario.params:
            for kind, text in bad_values(param):
                yield Case(name, param.name, kind, text)


def check(case: Case, out: Path) -> str | None:
    """None if the case was refused as promised, else what went wrong."""
    stderr = io.StringIO()
    argv = [
        "run",
        case.scenario,
        "--quick",
        "--set",
        f"{case.param}={case.text}",
        "--out",
        str(out),
    ]
    # A dry run first, so that a value wrongly accepted is reported without running the scenario.
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        if main([*argv[:-2], "--dry-run"]) != 2:
            return "accepted"
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        status = main(argv)
    lines = stderr.getvalue().splitlines()
    if status != 2:
        return f"exit {status}"
    if len(lines) != 1:
        return f"{len(lines)} lines: {lines[:3]}"
    if case.param not in lines[0]:
        return f"does not name {case.param}: {lines[0]}"
    if out.exists():
        return f"wrote {out}"
    return None


def sweep(names: list[str]) -> tuple[Counter[str], list[tuple[Case, str]]]:
    counts: Counter[str] = Counter()
    broken: list[tuple[Case, str]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for case in cases(names):
            problem = check(case, Path(scratch) / "out")
            counts[f"{case.kind}: {'ok' if problem is None else 'BROKEN'}"] += 1
            if problem is not None:
                broken.append((case, problem))
    return counts, broken


def main_sweep(argv: list[str]) -> int:
    counts, broken = sweep(argv)
    for key in sorted(counts):
        print(f"{key:<28} {counts[key]:>5}")
    print(f"{'total':<28} {sum(counts.values()):>5}")
    for case, problem in broken:
        print(f"BROKEN {case.scenario} {case.param}={case.text!r} ({case.kind}): {problem}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main_sweep(sys.argv[1:]))
