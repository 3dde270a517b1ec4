"""The Python API: the same runs, results and messages as the command line, in memory or on disk."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pytest

import seqrl
from seqrl.scenarios.api import RunFailed
from seqrl.scenarios.cli import main
from seqrl.scenarios.core import build_arguments, dataclass_params
from seqrl.scenarios.library.example import RandomWalkArgs, ruin_probability

TIMING = ["elapsed_s"]

# A user's scenario file: logs every task it runs; x = 2 raises when SEQRL_TEST_FAIL is set.
USER_FILE = """
import os
from dataclasses import dataclass

import seqrl


@dataclass(frozen=True)
class Args:
    x: int = seqrl.param(1, "an integer", low=0)
    scale: float = seqrl.param(1.0, "a multiplier", low=0.0, low_inclusive=False)


@seqrl.scenario(name="draws", description="Sums uniform draws.", params=Args, grid={"x": [0, 1, 2]})
def draws(args, rng):
    if os.environ.get("SEQRL_TEST_FAIL") and args.x == 2:
        raise RuntimeError("x = 2 fails on purpose")
    total = args.scale * float(rng.random(50).sum()) + args.x
    with open(os.environ["SEQRL_TEST_LOG"], "a") as log:
        log.write(f"{args.x}\\n")
    return {"total": total}
"""


@pytest.fixture
def user_file(tmp_path, monkeypatch):
    path = tmp_path / "user_scenarios.py"
    path.write_text(USER_FILE)
    monkeypatch.setenv("SEQRL_TEST_LOG", str(tmp_path / "runs.log"))
    return path


def _runs(tmp_path: Path) -> list[str]:
    log = tmp_path / "runs.log"
    return log.read_text().split() if log.exists() else []


def test_api_results_equal_the_cli_for_the_same_command(tmp_path):
    out = tmp_path / "cli"
    assert main(["run", "example-random-walk", "--quick", "--set", "p=0.3,0.7", "--seeds", "3",
                 "--seed", "7", "--out", str(out)]) == 0  # fmt: skip
    from_cli = pd.read_parquet(out / "results.parquet").drop(columns=TIMING)
    result = seqrl.run("example-random-walk", grid={"p": [0.3, 0.7]}, seeds=3, seed=7, quick=True)
    assert result.out is None and result.status == "complete"
    pd.testing.assert_frame_equal(result.results.drop(columns=TIMING), from_cli)
    assert len(result.results) == 2 * 3
    # The run is real: the simulated ruin rates match the closed form within 4 standard errors.
    for p, group in result.results.groupby("p"):
        expected = ruin_probability(p, 5, 10)
        standard_error = math.sqrt(expected * (1 - expected) / (3 * 500))
        assert abs(group["ruin_rate"].mean() - expected) < 4 * standard_error


def test_in_memory_run_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = seqrl.run("example-random-walk", params={"n_walks": 50}, seeds=2)
    assert list(tmp_path.iterdir()) == []
    assert len(result.results) == 5 * 2 and set(result.results["n_walks"]) == {50}
    assert {"task_id", "step", "absorbed"} <= set(result.trajectories.columns)
    summary = result.summary()
    assert {"p", "metric", "n", "mean", "mean_low", "mean_high", "iqm"} <= set(summary.columns)
    ruin = summary[summary["metric"] == "ruin_rate"].set_index("p")
    means = result.results.groupby("p")["ruin_rate"].mean()
    np.testing.assert_allclose(ruin["mean"], means)
    # Two seeds: the estimates, but no interval (none is formed from fewer than 3 seeds).
    assert (ruin["n"] == 2).all() and ruin[["mean_low", "mean_high", "iqm_low"]].isna().all().all()
    assert "ruin_probability" in result.figures()


@pytest.mark.parametrize(
    ("kwargs", "argv", "fragment"),
    [
        ({"params": {"bogus": 1}}, ["--set", "bogus=1"], "unknown parameter 'bogus'"),
        ({"params": {"p": 1.5}}, ["--set", "p=1.5"], "p=1.5: expected a finite number > 0 and < 1"),
        ({"params": {"start": 20}}, ["--set", "start=20"], "start must be in [1, target)"),
        ({"params": {"n_walks": "many"}}, ["--set", "n_walks=many"], "n_walks='many'"),
        ({"grid": {"p": "0.2:0.1:0.1"}}, ["--set", "p=0.2:0.1:0.1"], "needs step > 0"),
        ({"grid": {"n_walks": "linspace(1, 2, 3)"}}, ["--set", "n_walks=linspace(1, 2, 3)"],
         "an integer parameter needs integer range values"),
        ({"seeds": 0}, ["--seeds", "0"], "seeds must be an integer >= 1, got 0"),
        ({"workers": 0}, ["--workers", "0"], "workers must be an integer >= 1, got 0"),
        ({"seed": -5}, ["--seed", "-5"], "seed must be an integer >= 0, got -5"),
    ],
)  # fmt: skip
def test_bad_input_raises_the_message_the_cli_prints(tmp_path, capsys, kwargs, argv, fragment):
    with pytest.raises(seqrl.BadInput) as raised:
        seqrl.run("example-random-walk", out=tmp_path / "api", **kwargs)
    assert fragment in str(raised.value)
    assert main(["run", "example-random-walk", *argv, "--out", str(tmp_path / "cli")]) == 2
    assert capsys.readouterr().err == f"seqrl: error: {raised.value}\n"
    assert not (tmp_path / "api").exists() and not (tmp_path / "cli").exists()


def test_resume_from_python_runs_only_the_missing_tasks(tmp_path, user_file):
    out = tmp_path / "run"
    first = seqrl.run(f"{user_file}:draws", seeds=2, out=out)
    assert sorted(_runs(tmp_path)) == ["0", "0", "1", "1", "2", "2"]
    (out / "tasks" / f"{first.results['task_id'].iloc[0]}.parquet").unlink()
    again = seqrl.run(f"{user_file}:draws", seeds=2, out=out)
    assert len(_runs(tmp_path)) == 7, "only the deleted task runs again"
    pd.testing.assert_frame_equal(
        again.results.drop(columns=TIMING), first.results.drop(columns=TIMING)
    )
    loaded = seqrl.load_results(out)
    pd.testing.assert_frame_equal(loaded.results, again.results)
    assert loaded.status == "complete" and loaded.scenario.name == "draws"


def test_failed_tasks_raise_with_the_finished_ones_kept(tmp_path, user_file, monkeypatch):
    monkeypatch.setenv("SEQRL_TEST_FAIL", "1")
    with pytest.raises(RunFailed, match="2 of 6 tasks failed") as raised:
        seqrl.run(f"{user_file}:draws", seeds=2, out=tmp_path / "f")
    result = raised.value.result
    assert sorted(result.results["x"]) == [0, 0, 1, 1] and len(result.failures) == 2
    assert all("x = 2 fails on purpose" in text for text in result.failures.values())
    kept = seqrl.run(f"{user_file}:draws", seeds=2, errors="keep")
    assert kept.status == "failed" and len(kept.results) == 4


def test_scenario_objects_run_serially_and_in_processes(tmp_path, user_file):
    scenario = seqrl.get_scenario(f"{user_file}:draws")
    serial = seqrl.run(scenario, params={"scale": 2.0}, seeds=2)
    process = seqrl.run(scenario, params={"scale": 2.0}, seeds=2, workers=2)
    pd.testing.assert_frame_equal(
        serial.results.drop(columns=TIMING), process.results.drop(columns=TIMING)
    )


def test_a_scenario_defined_outside_a_file_runs_serially_only():
    namespace: dict = {}
    exec(  # a notebook cell: the functions have no source file
        textwrap.dedent("""
            import seqrl

            @seqrl.scenario(name="cell", description="d", params=[seqrl.Param("n", int, 3, low=1)])
            def cell(params, rng):
                return {"mean": float(rng.random(params["n"]).mean())}
        """),
        namespace,
    )
    result = seqrl.run(namespace["cell"], seeds=3)
    assert len(result.results) == 3
    with pytest.raises(seqrl.BadInput, match="use executor 'serial'"):
        seqrl.run(namespace["cell"], seeds=3, workers=2)


def test_plan_run_counts_tasks_without_running_them(user_file, tmp_path):
    plan = seqrl.plan_run(f"{user_file}:draws", grid={"scale": "0.5:1.5:0.5"}, seeds=4)
    assert len(plan.combinations) == 3 * 3 and len(plan.tasks) == 36
    assert plan.varying() == {"x": [0, 1, 2], "scale": [0.5, 1.0, 1.5]}
    assert _runs(tmp_path) == []


def test_dataclass_parameters_are_derived_and_validated():
    params = {p.name: p for p in dataclass_params(RandomWalkArgs)}
    assert list(params) == ["p", "start", "target", "n_walks"]
    assert (
        params["p"].allowed() == "a finite number > 0 and < 1" and params["n_walks"].default == 2000
    )
    assert build_arguments(RandomWalkArgs, {"start": 3}) == RandomWalkArgs(start=3)
    with pytest.raises(seqrl.BadInput, match=r"start must be in \[1, target\)"):
        build_arguments(RandomWalkArgs, {"start": 12})


@dataclass(frozen=True)
class _Inner:
    """A mechanism's parameter class used as a group.

    Attributes:
        rate: How fast it goes,
            in events per step.
        mode: Which way.
    """

    rate: float = 1.0
    mode: str = "fast"

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError(f"rate must be > 0, got {self.rate}")


@dataclass(frozen=True)
class _Outer:
    inner: _Inner = _Inner()
    count: int = seqrl.param(2, "how many", low=1)
    shape: Literal["round", "square"] = seqrl.param("round", "the shape")


def test_a_dataclass_field_is_a_group_of_flat_parameters_with_docstring_help():
    params = {p.name: p for p in dataclass_params(_Outer)}
    assert list(params) == ["rate", "mode", "count", "shape"]
    assert params["rate"].help == "How fast it goes, in events per step."
    assert params["shape"].choices == ("round", "square") and params["shape"].type is str
    built = build_arguments(_Outer, {"rate": 3.0, "count": 5})
    assert built == _Outer(inner=_Inner(rate=3.0), count=5)
    with pytest.raises(seqrl.BadInput, match="rate must be > 0, got -1"):
        build_arguments(_Outer, {"rate": -1.0})


def test_import_seqrl_is_lazy():
    code = "import sys, seqrl; print('pandas' in sys.modules, 'seqrl.scenarios.api' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=os.sep, check=True
    )
    assert completed.stdout.split() == ["False", "False"]
