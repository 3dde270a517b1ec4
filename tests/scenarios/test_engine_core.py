"""The scenario API: typed parameters, grids, validation."""

import math

import numpy as np
import pytest

from seqrl.scenarios.core import BadInput, Param, Scenario, TaskOutput, scenario
from seqrl.scenarios.runner import execute_task, plan, task_id


def _noop(params, rng):
    return {"value": 1.0}


def test_float_param_parses_inf_where_allowed_and_scientific_notation():
    epsilon = Param("epsilon", float, 1.0, low=0.0, low_inclusive=False, allow_inf=True)
    assert epsilon.parse("inf") == math.inf
    assert epsilon.parse("1e-3") == pytest.approx(1e-3)
    temperature = Param("temperature", float, 1.0, low=0.0, low_inclusive=False)
    with pytest.raises(BadInput, match=r"temperature=inf: expected a finite number > 0"):
        temperature.parse("inf")


@pytest.mark.parametrize(
    ("param", "text", "fragment"),
    [
        (Param("epsilon", float, 1.0, low=0.0, low_inclusive=False), "-1", "> 0"),
        (Param("epsilon", float, 1.0, low=0.0, low_inclusive=False), "nan", "a finite number"),
        (Param("epsilon", float, 1.0), "abc", "a finite number"),
        (Param("n", int, 3, low=1), "2.5", "an integer"),
        (Param("n", int, 3, low=1), "0", ">= 1"),
        (Param("mode", str, "a", choices=("a", "b")), "c", "one of a, b"),
        (Param("flag", bool, False), "maybe", "true or false"),
    ],
)
def test_bad_values_name_parameter_value_and_allowed_range(param, text, fragment):
    with pytest.raises(BadInput) as error:
        param.parse(text)
    message = str(error.value)
    assert message.startswith(f"{param.name}=")
    assert text in message
    assert fragment in message


def test_bool_param_parses_words():
    flag = Param("flag", bool, False)
    assert flag.parse("true") is True
    assert flag.parse("Off") is False


def test_invalid_default_is_refused_at_definition():
    with pytest.raises(BadInput):
        Param("p", float, 2.0, high=1.0)


def test_axes_layer_defaults_grid_quick_and_overrides():
    s = Scenario(
        name="s",
        description="d",
        params=(Param("a", int, 1), Param("b", int, 2), Param("c", int, 3)),
        run=_noop,
        grid={"a": [1, 2]},
        quick={"b": 20, "a": [5]},
    )
    assert s.axes() == [{"a": [1, 2], "b": [2], "c": [3]}]
    assert s.axes(quick=True) == [{"a": [5], "b": [20], "c": [3]}]
    assert s.axes({"c": [7, 8]}, quick=True) == [{"a": [5], "b": [20], "c": [7, 8]}]
    with pytest.raises(BadInput, match="unknown parameter 'zzz'.*known: a, b, c"):
        s.axes({"zzz": [1]})


def test_combinations_are_the_cartesian_product_and_run_the_check():
    def check(params):
        if params["a"] == params["b"]:
            raise ValueError(f"a must differ from b, got {params['a']}")

    s = Scenario("s", "d", (Param("a", int, 1), Param("b", int, 2)), _noop, check=check)
    assert list(s.combinations([{"a": [1, 2], "b": [3]}])) == [{"a": 1, "b": 3}, {"a": 2, "b": 3}]
    with pytest.raises(BadInput, match="a must differ from b"):
        list(s.combinations([{"a": [1, 2], "b": [2]}]))


def test_a_list_of_subgrids_runs_their_union_without_repeats():
    s = Scenario(
        name="s",
        description="d",
        params=(Param("model", str, "a"), Param("mu", float, 0.5), Param("n", int, 1)),
        run=_noop,
        grid=[{"model": ["a", "b"]}, {"model": ["b"], "mu": [0.5, 0.9]}],
    )
    assert [(c["model"], c["mu"]) for c in s.combinations(s.axes())] == [
        ("a", 0.5),
        ("b", 0.5),
        ("b", 0.9),
    ]
    # --set applies to every sub-grid; sub-grids that become equal collapse.
    assert s.axes({"mu": [0.1]}) == [
        {"model": ["a", "b"], "mu": [0.1], "n": [1]},
        {"model": ["b"], "mu": [0.1], "n": [1]},
    ]
    assert len(list(s.combinations(s.axes({"mu": [0.1]})))) == 2


def test_reserved_and_duplicate_parameter_names_are_refused():
    with pytest.raises(ValueError, match="reserved"):
        Scenario("s", "d", (Param("seed", int, 1),), _noop)
    with pytest.raises(ValueError, match="duplicate"):
        Scenario("s", "d", (Param("a", int, 1), Param("a", int, 2)), _noop)


def test_task_seeds_depend_on_seed_index_not_on_queue_position():
    tasks = plan([{"a": 1}, {"a": 2}], n_seeds=3, root_seed=7)
    assert len({t.task_id for t in tasks}) == 6
    reordered = plan([{"a": 2}, {"a": 1}], n_seeds=3, root_seed=7)
    by_id = {t.task_id: t for t in reordered}
    for task in tasks:
        twin = by_id[task.task_id]
        assert twin.seed_sequence().generate_state(4).tolist() == (
            task.seed_sequence().generate_state(4).tolist()
        )
    expected = np.random.SeedSequence(7).spawn(3)[2].generate_state(2)
    assert tasks[2].seed_sequence().generate_state(2).tolist() == expected.tolist()
    assert task_id({"a": 1}, 0) != task_id({"a": 1.0000001}, 0)


def test_execute_task_tags_rows_and_trajectories_and_reports_errors(monkeypatch):
    import pandas as pd

    @scenario(name="t", description="d", params=[Param("x", float, 0.5)])
    def good(params, rng):
        return TaskOutput({"y": np.float64(params["x"] * 2)}, pd.DataFrame({"step": [1, 2]}))

    @scenario(name="t-bad", description="d", params=[Param("x", float, 0.5)])
    def bad(params, rng):
        raise RuntimeError("boom")

    monkeypatch.setattr("seqrl.scenarios.runner.resolve", {"t": good, "t-bad": bad}.__getitem__)
    [task] = plan([{"x": 0.5}], 1, 0)
    result = execute_task("t", task, None)
    assert result.row["y"] == 1.0 and isinstance(result.row["y"], float)
    assert result.row["x"] == 0.5 and result.row["seed_index"] == 0
    assert list(result.trajectories.columns[:3]) == ["task_id", "seed_index", "x"]
    failed = execute_task("t-bad", task, None)
    assert failed.row is None and "RuntimeError: boom" in failed.error
