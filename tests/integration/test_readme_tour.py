"""The README's tour runs as written, and the documentation's links and imports resolve.

Every code block of the README's tour is marked with ``<!-- tour:NAME -->``. The tour runs in README
order, in one empty temporary directory outside the repository:

- a block named like a file (``my_scenarios.py``, ``sweep.toml``) is written to that file;
- a ``bash`` block runs line by line through bash, with the installed ``seqrl`` first on PATH (the
  sibling of ``sys.executable``, or a shim that runs ``python -m seqrl`` where there is none);
- a ``python`` block runs in a fresh interpreter, followed by the assertions of its check;
- a ``text`` block named ``NAME:output`` holds lines that the output of block NAME must contain.

Each shell and Python block has a check below that asserts what the README says the block does.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").rglob("*.md"))
MARKER = re.compile(
    r"^<!-- tour:(?P<name>[\w.:-]+) -->\n```(?P<language>\w+)\n(?P<code>.*?)^```$", re.S | re.M
)
FENCE = re.compile(r"^```\w+$", re.M)


@dataclass(frozen=True)
class Block:
    """One marked code block of the tour."""

    name: str
    language: str
    code: str


@dataclass(frozen=True)
class Command:
    """One shell line of the tour and what it did."""

    line: str
    started: float
    returncode: int
    stdout: str
    stderr: str


def tour_section(text: str) -> str:
    """The README's tour: from its heading to the next second-level heading."""
    start = text.index("## A five-minute tour")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def tour_blocks() -> list[Block]:
    section = tour_section(README.read_text())
    blocks = [Block(m["name"], m["language"], m["code"]) for m in MARKER.finditer(section)]
    assert blocks, "README lost its tour"
    names = [block.name for block in blocks]
    assert len(names) == len(set(names)), f"tour block names repeat: {names}"
    unmarked = len(FENCE.findall(section)) - len(blocks)
    assert unmarked == 0, f"{unmarked} code blocks of the tour have no <!-- tour:NAME --> marker"
    return blocks


def shell_lines(code: str) -> list[str]:
    """The commands of a bash block: backslash continuations joined, comment lines dropped."""
    commands, current = [], ""
    for line in code.splitlines():
        current += line
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        if current.strip() and not current.lstrip().startswith("#"):
            commands.append(current.strip())
        current = ""
    return commands


def seqrl_bin_dir(tmp_path: Path) -> Path:
    """A directory whose ``seqrl`` is this interpreter's installed command."""
    sibling = Path(sys.executable).with_name("seqrl")
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return sibling.parent
    shim_dir = tmp_path / "bin"
    shim_dir.mkdir()
    shim = shim_dir / "seqrl"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m seqrl "$@"\n')
    shim.chmod(0o755)
    return shim_dir


def run_shell(line: str, cwd: Path, env: dict[str, str]) -> Command:
    started = time.time()
    done = subprocess.run(
        ["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    return Command(line, started, done.returncode, done.stdout, done.stderr)


def expect_status(commands: list[Command], statuses: list[int]) -> None:
    assert len(commands) == len(statuses), [c.line for c in commands]
    for command, status in zip(commands, statuses, strict=True):
        assert command.returncode == status, (
            f"{command.line!r} exited {command.returncode}, expected {status}:\n{command.stderr}"
        )


def one_error_line(command: Command) -> str:
    """The single line a refused command prints (and it prints nothing else)."""
    lines = command.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqrl: error: "), command.stderr
    assert command.stdout == ""
    return lines[0].removeprefix("seqrl: error: ")


def results_of(directory: Path) -> pd.DataFrame:
    return pd.read_parquet(directory / "results.parquet")


# --- checks of the shell blocks -------------------------------------------------------------------


def check_cli_list(workdir: Path, commands: list[Command]) -> None:
    import seqrl

    expect_status(commands, [0, 0])
    listed = {line.split()[0] for line in commands[0].stdout.splitlines()}
    assert listed == set(seqrl.list_scenarios())
    assert "84 tasks = 42 combinations x 2 seeds" in commands[1].stdout


def check_cli_run(workdir: Path, commands: list[Command]) -> None:
    expect_status(commands, [0] * 5)
    quick = results_of(workdir / "results" / "dp-binary-cascade-quick")
    assert len(quick) == 6 and set(quick["epsilon"]) == {0.5, 1.0, float("inf")}
    eps_dir = workdir / "results" / "eps"
    results = results_of(eps_dir)
    assert len(results) == 8 and sorted(set(results["epsilon"])) == [0.5, 1.0, 1.5, 2.0]
    assert (results["n_agents"] == 200).all(), "--quick sizes apply beside --set"
    assert {"summary.md", "manifest.json", "dp_binary_cascade.png"} <= set(os.listdir(eps_dir))
    assert json.loads((eps_dir / "manifest.json").read_text())["code"]["files"]
    dry_run = commands[2].stdout
    assert "8 tasks = 4 combinations x 2 seeds" in dry_run and "epsilon: 0.5, 1, 1.5, 2" in dry_run
    assert commands[3].stdout.strip().endswith("summary.md")
    task_files = sorted((eps_dir / "tasks").glob("*.parquet"))
    assert len(task_files) == 8
    resumed = commands[4]
    assert all(path.stat().st_mtime < resumed.started for path in task_files), (
        "the resumed run rewrote finished tasks"
    )


def check_cli_fresh(workdir: Path, commands: list[Command]) -> None:
    expect_status(commands, [2, 0, 2])
    assert one_error_line(commands[0]).startswith("--out results/eps holds a different run")
    results = results_of(workdir / "results" / "eps")
    assert len(results) == 4 and sorted(set(results["epsilon"])) == [0.5, 1.0]
    assert len(list((workdir / "results" / "eps" / "tasks").glob("*.parquet"))) == 4
    assert one_error_line(commands[2]) == "p=1.2: expected a finite number > 0.5 and < 1"
    assert not (workdir / "results" / "dp-binary-cascade").exists(), "bad input wrote files"


def check_cli_sweep(workdir: Path, commands: list[Command]) -> None:
    expect_status(commands, [0, 0])
    assert "16 tasks = 8 combinations x 2 seeds" in commands[0].stdout
    results = results_of(workdir / "results" / "eps-sweep")
    assert len(results) == 16
    assert set(results["p"]) == {0.6, 0.7}
    assert sorted(set(results["epsilon"])) == [0.5, 1.0, 1.5, 2.0]
    assert (results["n_agents"] == 200).all() and (results["n_runs"] == 400).all()


def check_cli_user(workdir: Path, commands: list[Command]) -> None:
    expect_status(commands, [0, 0])
    assert "coin-bias: 15 tasks = 3 combinations x 5 seeds" in commands[0].stdout
    coins = workdir / "results" / "coins"
    results = results_of(coins)
    assert len(results) == 3 * 2 * 20
    assert {"bias", "n_flips", "seed_index", "seed", "estimate", "abs_error"} <= set(results)
    # The error of a sample mean shrinks like sqrt(p(1-p)/n): far smaller with 1000 flips than 10.
    error = results.groupby("n_flips")["abs_error"].mean()
    assert error[1000] < error[10] / 4
    files = json.loads((coins / "manifest.json").read_text())["code"]["files"]
    assert any(name.endswith("my_scenarios.py") for name in files), "user file not fingerprinted"


def check_cli_policy(workdir: Path, commands: list[Command]) -> None:
    expect_status(commands, [0, 0])
    (task,) = (workdir / "results" / "rl" / "artifacts").iterdir()
    assert {"policy.zip", "policy.json"} <= {p.name for p in task.iterdir()}
    assert (task / "logs" / "progress.csv").is_file()
    stored = json.loads((task / "policy.json").read_text())["mean_reward"]
    assert f"mean reward {stored:g} " in commands[1].stdout and "(stored: " in commands[1].stdout


SHELL_CHECKS: dict[str, Callable[[Path, list[Command]], None]] = {
    "cli-list": check_cli_list,
    "cli-run": check_cli_run,
    "cli-fresh": check_cli_fresh,
    "cli-sweep": check_cli_sweep,
    "cli-user": check_cli_user,
    "cli-policy": check_cli_policy,
}

# --- checks of the Python blocks: run after the block, in the same interpreter --------------------

PYTHON_CHECKS: dict[str, str] = {
    "python-run": """
import os
assert result.out is None and result.status == "complete" and not result.failures
frame = result.results
assert len(frame) == 6 and set(frame["epsilon"]) == {0.5, 1.0, float("inf")}
assert {"seed_index", "seed", "correct_cascade_rate", "closed_form_correct"} <= set(frame)
assert {"metric", "n", "mean", "mean_low", "mean_high", "iqm"} <= set(summary)
rows = summary[summary.metric == "correct_cascade_rate"]
assert len(rows) == 3 and (rows["n"] == 2).all()
assert rows[["mean_low", "mean_high"]].isna().all().all(), "no interval from 2 seeds"
# 800 sequences per epsilon: the simulation sits on the gambler's-ruin closed form.
by_epsilon = frame.groupby("epsilon")[["correct_cascade_rate", "closed_form_correct"]].mean()
gap = (by_epsilon["correct_cascade_rate"] - by_epsilon["closed_form_correct"]).abs()
assert (gap < 0.1).all(), by_epsilon
assert os.path.getsize("cascade.png") > 0
assert len(seqrl.plan_run("dp-binary-cascade").tasks) == 84
""",
    "python-out": """
assert first.out is not None and len(first.results) == 8
assert sorted(set(first.results["epsilon"])) == [0.5, 1.0, 1.5, 2.0]
assert again.results.equals(first.results)
assert stored.status == "complete" and stored.results.equals(first.results)
assert stored.manifest["code"]["files"]
ran = []
seqrl.run("dp-binary-cascade", grid=grid, seeds=2, quick=True, out="results/py-eps",
          progress=lambda done, total: ran.append(done))
assert ran == [], "resuming a finished run ran tasks again"
""",
    "python-user": """
assert len(result.results) == 3 * 2 * 20
error = result.results.groupby("n_flips")["abs_error"].mean()
assert error[1000] < error[10] / 4
# The same grid and seeds as the command line's run: the same numbers.
cli = seqrl.load_results("results/coins").results
columns = [c for c in result.results.columns if c != "elapsed_s"]
assert result.results[columns].equals(cli[columns])
""",
    "gym-sb3": """
assert env.spec.id == "seqrl/SequentialLearning-v0" and env.unwrapped.n_agents == 20
assert 0 <= mean_reward <= 20
# theta is +-1 at random: a constant guess scores 10 on average, following the own signal about 17.
score, _ = evaluate_policy(model, env, n_eval_episodes=50)
assert score > 15, score
""",
    "mesa": """
assert len(data) == 200
assert set(data.columns) == {"public_llr", "action", "report", "theta"}
assert data["theta"].nunique() == 1
assert set(data["action"]) <= {-1, 1} and set(data["report"]) <= {-1, 1}
final = model.summary()
assert final["final_public_llr"] == data["public_llr"].iloc[-1]
assert final["theta"] * final["final_public_llr"] > 0, "200 learners did not find the state"
""",
}


def run_block(block: Block, workdir: Path, env: dict[str, str]) -> str:
    """Run one shell or Python block and its check; return what it printed."""
    if block.language == "bash":
        commands = [run_shell(line, workdir, env) for line in shell_lines(block.code)]
        SHELL_CHECKS[block.name](workdir, commands)
        return "".join(command.stdout for command in commands)
    program = block.code + "\n# --- the tour test's check ---\n" + PYTHON_CHECKS[block.name]
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"tour block {block.name} failed:\n{done.stderr}"
    return done.stdout


def run_tour(blocks: list[Block], workdir: Path, env: dict[str, str]) -> None:
    outputs = {b.name.removesuffix(":output"): b.code for b in blocks if b.name.endswith(":output")}
    for block in blocks:
        if block.name.endswith(":output"):
            continue
        if "." in block.name:
            (workdir / block.name).write_text(block.code)
            continue
        printed = run_block(block, workdir, env)
        if block.name in outputs:
            shown = [line.strip() for line in outputs[block.name].splitlines() if line.strip()]
            actual = {line.strip() for line in printed.splitlines()}
            missing = [line for line in shown if line not in actual]
            assert not missing, f"{block.name} no longer prints {missing}"


def test_readme_tour_runs_as_written(tmp_path: Path) -> None:
    blocks = tour_blocks()
    runnable = [b for b in blocks if not b.name.endswith(":output") and "." not in b.name]
    assert {b.name for b in runnable if b.language == "bash"} == set(SHELL_CHECKS)
    assert {b.name for b in runnable if b.language == "python"} == set(PYTHON_CHECKS)
    assert {b.language for b in runnable} <= {"bash", "python"}
    shown = {b.name.removesuffix(":output") for b in blocks if b.name.endswith(":output")}
    assert shown <= {b.name for b in runnable}

    bin_dir = seqrl_bin_dir(tmp_path)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "MPLBACKEND": "Agg"}
    workdir = tmp_path / "tour"
    workdir.mkdir()
    assert ROOT not in workdir.resolve().parents
    run_tour(blocks, workdir, env)


# --- the documentation's links and imports --------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {
        github_anchor(line.lstrip("#"))
        for line in path.read_text().splitlines()
        if line.startswith("#")
    }


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_documentation_links_resolve_inside_the_repository(page: Path) -> None:
    text = page.read_text()
    # No page may send a reader outside the repository (spelled in parts so this file does not).
    outside = ("/".join(["..", "shared"]), "DESIGN" + ".md")
    assert not any(reference in text for reference in outside)
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://")):
            continue
        path_text, _, anchor = target.partition("#")
        path = (page.parent / path_text).resolve() if path_text else page
        assert path.exists(), f"{page.name} links to missing {target}"
        assert path == ROOT or ROOT in path.parents, f"{page.name} links outside the repo: {target}"
        if anchor:
            assert anchor in anchors(path), f"{page.name}: no heading for #{anchor} in {path.name}"


def documented_imports() -> list[tuple[str, str]]:
    """Every ``from seqrl... import name`` in the Python blocks of the README and docs/."""
    found = []
    for page in [README, *DOCS]:
        for code in re.findall(r"^```python\n(.*?)^```$", page.read_text(), re.S | re.M):
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("seqrl"):
                    found += [(node.module, alias.name) for alias in node.names]
    return sorted(set(found))


@pytest.mark.parametrize(("module", "name"), documented_imports(), ids=lambda x: x)
def test_documented_imports_exist(module: str, name: str) -> None:
    imported = importlib.import_module(module)  # make test installs every extra
    assert hasattr(imported, name), f"{module} has no {name}"
