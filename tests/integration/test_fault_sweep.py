"""The bad-input sweep of tests/fault_sweep.py over every built-in scenario: no case may be
accepted, trace back, print more than one line, fail to name its parameter, or write anything."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fault_sweep import bad_values, sweep  # noqa: E402

from seqrl.scenarios.api import list_scenarios  # noqa: E402
from seqrl.scenarios.core import Param  # noqa: E402


def test_every_bad_value_of_every_scenario_is_refused_in_one_line():
    counts, broken = sweep([])
    assert not broken, "\n".join(f"{c.scenario} {c.param}={c.text!r}: {p}" for c, p in broken)
    kinds = {key.split(":")[0] for key in counts}
    assert {"below range", "nan", "inf", "wrong type", "empty", "unknown choice"} <= kinds
    n_params = sum(len(s.params) for s in list_scenarios().values())
    assert sum(counts.values()) >= 2 * n_params


def test_sweep_values_are_the_ones_a_user_gets_wrong():
    probability = Param("p", float, 0.5, low=0.0, high=1.0, low_inclusive=False)
    assert dict(bad_values(probability)) == {
        "below range": "0.0",
        "above range": "1.002",
        "nan": "nan",
        "inf": "inf",
        "wrong type": "abc",
        "empty": "",
    }
    budget = Param("epsilon", float, 1.0, low=0.0, low_inclusive=False, allow_inf=True)
    assert "inf" not in dict(bad_values(budget)) and dict(bad_values(budget))["-inf"] == "-inf"
