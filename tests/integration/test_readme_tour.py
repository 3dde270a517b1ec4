"""The README's tour runs as written: its scenario file is extracted from README.md and run."""

import re
from pathlib import Path

import pandas as pd
from conftest import run_cli

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_tour_scenario_runs_as_written(tmp_path):
    text = README.read_text()
    match = re.search(r"<!-- tour:my_scenarios.py -->\n```python\n(.*?)```", text, re.S)
    assert match, "README lost its tour example"
    (tmp_path / "my_scenarios.py").write_text(match.group(1))
    command = re.search(r"seqrl (run my_scenarios\.py:coin-bias[^\n]*)", text).group(1).split()
    completed = run_cli(*command, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    results = pd.read_parquet(tmp_path / "results" / "coins" / "results.parquet")
    assert len(results) == 3 * 2 * 20
    # Error of a sample mean shrinks like sqrt(p(1-p)/n): far smaller with 1000 flips than with 10.
    error = results.groupby("n_flips")["abs_error"].mean()
    assert error[1000] < error[10] / 4
