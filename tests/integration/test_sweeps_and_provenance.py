"""Sweep files, range axes, dry runs, stale-result refusal, file modes and missing extras."""

from __future__ import annotations

import importlib.util
import json
import os
import stat

import pandas as pd
import pytest
from conftest import run_cli

import seqrl
from seqrl.scenarios.cli import main
from seqrl.scenarios.core import Param
from seqrl.scenarios.sweeps import load_sweep, parse_values

USER_FILE = """
import seqrl


@seqrl.scenario(name="offset", description="A draw plus an offset.",
                params=[seqrl.Param("x", int, 0, "an integer", low=0)], grid={"x": [0, 1]})
def offset(params, rng):
    return {"value": float(rng.random()) + params["x"] + OFFSET}


OFFSET = 0.0
"""


@pytest.mark.parametrize(
    ("param", "text", "expected"),
    [
        (Param("a", float, 0.0), "0.1:0.5:0.1", [0.1, 0.2, 0.3, 0.4, 0.5]),
        (Param("a", float, 0.0), "linspace(0, 1, 5)", [0.0, 0.25, 0.5, 0.75, 1.0]),
        (
            Param("a", float, 0.0, allow_inf=True),
            "1,linspace(2, 3, 2),inf",
            [1.0, 2.0, 3.0, float("inf")],
        ),
        (Param("n", int, 1), "2:10:4", [2, 6, 10]),
        (Param("n", int, 1), "2:9:4", [2, 6]),
        (Param("s", str, "a"), "x:y:z", ["x:y:z"]),
    ],
)
def test_range_items_expand_with_the_stop_included(param, text, expected):
    assert parse_values(param, text) == expected


@pytest.mark.parametrize(
    ("param", "text", "fragment"),
    [
        (Param("a", float, 0.5, high=1.0), "0.5:1.5:0.5", "a=1.5: expected a finite number <= 1"),
        (Param("a", float, 0.0), "0:1:0", "needs step > 0"),
        (Param("a", float, 0.0), "linspace(0, 1, x)", "linspace needs an integer count"),
        (Param("a", float, 0.0), "0:inf:1", "range bounds must be finite"),
        (Param("b", bool, True), "linspace(0, 1, 2)", "expected true or false"),
    ],
)
def test_bad_ranges_name_the_parameter(param, text, fragment):
    with pytest.raises(seqrl.BadInput, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse_values(param, text)


def test_range_axis_on_the_command_line(tmp_path):
    out = tmp_path / "r"
    completed = run_cli("run", "example-random-walk", "--set", "p=linspace(0.3, 0.7, 3)",
                        "--set", "n_walks=50", "--seeds", "2", "--out", out)  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert sorted(pd.read_parquet(out / "results.parquet")["p"].unique()) == [0.3, 0.5, 0.7]


def test_sweep_file_runs_with_paths_relative_to_it(tmp_path, monkeypatch):
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "user.py").write_text(USER_FILE)
    sweep = tmp_path / "sweeps" / "offsets.toml"
    sweep.write_text(
        'scenario = "user.py:offset"\nseeds = 3\nseed = 4\nout = "runs/offsets"\n'
        '[grid]\nx = "0:4:2"\n'
    )
    monkeypatch.chdir(tmp_path)
    completed = run_cli("run", sweep, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    results = pd.read_parquet(tmp_path / "sweeps" / "runs" / "offsets" / "results.parquet")
    assert sorted(results["x"].unique()) == [0, 2, 4] and results["seed_index"].nunique() == 3
    manifest = json.loads((tmp_path / "sweeps/runs/offsets/manifest.json").read_text())
    assert manifest["identity"]["root_seed"] == 4
    # The same sweep from Python gives the same rows.
    spec = load_sweep(sweep)
    again = seqrl.run(spec.scenario, grid=spec.grid, seeds=spec.seeds, seed=spec.seed)
    pd.testing.assert_frame_equal(
        again.results.drop(columns="elapsed_s"), results.drop(columns="elapsed_s")
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('scenario = "example-random-walk"\nworkers = "two"\n', "workers must be an integer"),
        ('scenario = "example-random-walk"\nseeds = true\n', "seeds must be an integer"),
        ('scenario = "example-random-walk"\nsed = 3\n', "unknown keys sed"),
        ("seeds = 3\n", "'scenario' (a name or FILE.py:NAME) is required"),
        (
            'scenario = "example-random-walk"\n[grid]\np = "linspace(0.1, 2, 3)"\n',
            "p=1.05: expected a finite number > 0 and < 1",
        ),
        ("scenario = [", "is not valid TOML"),
    ],
)
def test_bad_sweep_files_exit_2_with_one_line(tmp_path, capsys, text, fragment):
    sweep = tmp_path / "bad.toml"
    sweep.write_text(text)
    assert main(["run", str(sweep), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err
    assert not (tmp_path / "o").exists()


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    out = tmp_path / "d"
    completed = run_cli("run", "example-random-walk", "--quick", "--set", "p=0.3,0.7",
                        "--dry-run", "--out", out)  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[0].startswith(
        "example-random-walk: 4 tasks = 2 combinations x 2 seeds"
    )
    assert "  p: 0.3, 0.7" in completed.stdout and "n_walks=500" in completed.stdout
    assert not out.exists()


def test_list_shows_the_default_grid_as_a_run_expands_it():
    listing = run_cli("list", "example-random-walk").stdout
    default = seqrl.plan_run("example-random-walk")
    quick = seqrl.plan_run("example-random-walk", quick=True)
    assert f"example-random-walk: {len(default.tasks)} tasks = 5 combinations x 5 seeds" in listing
    assert f"example-random-walk: {len(quick.tasks)} tasks = 5 combinations x 2 seeds" in listing
    assert "p: 0.4, 0.45, 0.5, 0.55, 0.6" in listing


def test_changed_user_code_is_refused_until_fresh(tmp_path):
    scenario_file = tmp_path / "user.py"
    scenario_file.write_text(USER_FILE)
    out = tmp_path / "run"
    args = ["run", f"{scenario_file}:offset", "--seeds", "2", "--out", out]
    assert run_cli(*args).returncode == 0
    before = pd.read_parquet(out / "results.parquet")
    scenario_file.write_text(USER_FILE.replace("OFFSET = 0.0", "OFFSET = 10.0"))
    refused = run_cli(*args)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert f"the code changed since this run began (changed: {scenario_file})" in refused.stderr
    assert "--fresh" in refused.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), before)
    fresh = run_cli(*args, "--fresh")
    assert fresh.returncode == 0, fresh.stderr
    after = pd.read_parquet(out / "results.parquet")
    assert (after["value"] - before["value"]).round(9).eq(10).all()


def test_fresh_refuses_a_directory_that_holds_no_run(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    completed = run_cli("run", "example-random-walk", "--quick", "--fresh", "--out", out)
    assert completed.returncode == 2 and "holds no seqrl run" in completed.stderr
    assert (out / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_result_files_follow_the_umask(tmp_path, umask, mode):
    out = tmp_path / "m"
    completed = run_cli(
        "run", "example-random-walk", "--quick", "--seeds", "1", "--out", out,
        preexec=lambda: os.umask(umask),
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    for name in ("results.parquet", "manifest.json", "summary.md"):
        assert stat.S_IMODE((out / name).stat().st_mode) == mode, name
    task = next((out / "tasks").glob("*.parquet"))
    assert stat.S_IMODE(task.stat().st_mode) == mode


def test_a_missing_extra_is_one_line_before_anything_is_written(tmp_path, capsys, monkeypatch):
    scenario_file = tmp_path / "needs_rl.py"
    scenario_file.write_text(
        "import seqrl\n\n"
        '@seqrl.scenario(name="rl", description="d", params=[], requires=("rl",))\n'
        "def rl(params, rng):\n    return {}\n"
    )
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "stable_baselines3" else real_find_spec(name, *a),
    )
    with pytest.raises(seqrl.MissingExtra) as raised:
        seqrl.run(f"{scenario_file}:rl", out=tmp_path / "o")
    assert str(raised.value) == (
        "scenario rl needs the 'rl' extra (stable_baselines3 not installed): "
        "pip install 'seqrl[rl]'"
    )
    assert main(["run", f"{scenario_file}:rl", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == f"seqrl: error: {raised.value}\n"
    assert not (tmp_path / "o").exists()
