"""Private sequential learning: the five scenarios run, validate input and plot."""

import math

import numpy as np
import pandas as pd
import pytest

from seqrl.mechanisms.dp_privacy import (
    NoPrivacy,
    RandomizedResponse,
    SmoothedRandomizedResponse,
)
from seqrl.mechanisms.dp_signals import GaussianSignal
from seqrl.scenarios import BadInput, TaskOutput
from seqrl.scenarios.library import dp as dp_learning

FAST_SCENARIOS = [
    dp_learning.dp_binary_cascade,
    dp_learning.dp_continuous_learning,
    dp_learning.dp_hitting_time,
    dp_learning.dp_heterogeneous,
]

COLUMNS = {
    "dp-binary-cascade": {
        "cascade_rate",
        "correct_cascade_rate",
        "mean_cascade_start",
        "closed_form_correct",
        "closed_form_start",
    },
    "dp-continuous-learning": {
        "final_public_llr",
        "llr_slope_log_n",
        "llr_slope_sqrt_log_n",
        "first_correct_action",
        "first_correct_report",
        "wrong_actions",
        "wrong_reports",
    },
    "dp-hitting-time": {"tau_mc", "tau_bellman", "first_correct_action_mean"},
    "dp-heterogeneous": {"final_public_llr", "llr_slope_log_n", "llr_slope_sqrt_log_n"},
    "dp-rl-learner": {"ppo_accuracy", "bayesian_accuracy"},
}

PARAMETERS = {
    "dp-binary-cascade": {"p", "epsilon", "n_agents", "n_runs"},
    "dp-continuous-learning": {"epsilon", "sigma", "amplitude", "n_agents", "n_runs"},
    "dp-hitting-time": {"epsilon", "sigma", "bound", "n_runs"},
    "dp-heterogeneous": {"mechanism", "budget_distribution", "budget_low", "budget_high"},
}


def _run_quick(scenario):
    rows, frames = [], []
    for combo in scenario.combinations(scenario.axes(quick=True)):
        output = scenario.run(scenario.arguments(combo), np.random.default_rng(0))
        metrics = output.metrics if isinstance(output, TaskOutput) else output
        rows.append({**combo, "seed_index": 0, **metrics})
        if isinstance(output, TaskOutput) and output.trajectories is not None:
            frames.append(output.trajectories.assign(**combo, seed_index=0))
    return pd.DataFrame(rows), (pd.concat(frames, ignore_index=True) if frames else None)


@pytest.mark.parametrize("scenario", FAST_SCENARIOS, ids=lambda s: s.name)
def test_quick_runs_give_the_contract_columns_and_figures(scenario):
    results, trajectories = _run_quick(scenario)
    assert COLUMNS[scenario.name] <= set(results.columns)
    assert PARAMETERS.get(scenario.name, set()) <= {p.name for p in scenario.params}
    figures = scenario.plot(results, trajectories)
    assert figures and all(name.startswith("dp_") for name in figures)


def test_quick_runs_are_deterministic_given_the_generator():
    scenario = dp_learning.dp_continuous_learning
    args = scenario.arguments(next(scenario.combinations(scenario.axes(quick=True))))
    first = scenario.run(args, np.random.default_rng(4))
    second = scenario.run(args, np.random.default_rng(4))
    assert first.metrics == second.metrics


def test_binary_cascade_reports_its_closed_forms():
    scenario = dp_learning.dp_binary_cascade
    args = scenario.arguments({"p": 0.7, "epsilon": math.inf, "n_agents": 100, "n_runs": 50})
    metrics = scenario.run(args, np.random.default_rng(0))
    assert metrics["closed_form_correct"] == pytest.approx(0.49 / 0.58)
    assert metrics["threshold_count"] == 2


@pytest.mark.parametrize(
    ("scenario", "name", "text", "fragment"),
    [
        (dp_learning.dp_binary_cascade, "epsilon", "-1", "epsilon=-1.0"),
        (dp_learning.dp_binary_cascade, "epsilon", "0", "epsilon=0.0"),
        (dp_learning.dp_binary_cascade, "epsilon", "nan", "epsilon=nan"),
        (dp_learning.dp_binary_cascade, "p", "1.2", "p=1.2"),
        (dp_learning.dp_binary_cascade, "p", "0.5", "p=0.5"),
        (dp_learning.dp_binary_cascade, "n_agents", "0", "n_agents=0"),
        (dp_learning.dp_continuous_learning, "sigma", "0", "sigma=0.0"),
        (dp_learning.dp_continuous_learning, "amplitude", "0.7", "amplitude=0.7"),
        (dp_learning.dp_continuous_learning, "amplitude", "0", "amplitude=0.0"),
    ],
)
def test_bad_values_are_rejected_with_name_value_and_range(scenario, name, text, fragment):
    with pytest.raises(BadInput) as error:
        scenario.param(name).parse(text)
    assert fragment in str(error.value) and "expected" in str(error.value)


def test_epsilon_accepts_inf_and_arguments_reject_bad_combinations():
    assert dp_learning.dp_binary_cascade.param("epsilon").parse("inf") == math.inf
    with pytest.raises(BadInput, match=r"budget_high must be > budget_low \(2\), got 1"):
        dp_learning.dp_heterogeneous.arguments(
            {
                "mechanism": "smoothed",
                "budget_distribution": "uniform",
                "budget_low": 2.0,
                "budget_high": 1.0,
                "weight_high": 0.5,
                "budgets_observed": False,
                "sigma": 1.0,
                "amplitude": 0.5,
                "n_agents": 10,
                "n_runs": 2,
            }
        )


def test_arguments_build_the_learner_and_mechanism_from_typed_parameters():
    hitting = dp_learning.dp_hitting_time
    args = hitting.arguments({**hitting.defaults(), "epsilon": math.inf, "sigma": 2.0})
    learner = args.learning.learner()
    assert learner.signal_model == GaussianSignal(2.0)
    assert isinstance(learner.mechanism, NoPrivacy)
    heterogeneous = dp_learning.dp_heterogeneous
    for mechanism, base in [
        ("smoothed", SmoothedRandomizedResponse(3.0, 0.3)),
        ("randomized_response", RandomizedResponse(3.0)),
    ]:
        values = {"mechanism": mechanism, "amplitude": 0.3, "budget_high": 3.0}
        budget = heterogeneous.arguments({**heterogeneous.defaults(), **values}).budget()
        assert budget.base == base and (budget.low, budget.high) == (0.0, 3.0)


def test_group_checks_reject_what_the_bounds_let_through():
    # sigma = inf passes the parameter's bound (> 0) but not the signal model's check.
    scenario = dp_learning.dp_continuous_learning
    with pytest.raises(BadInput, match="sigma must be > 0 and finite"):
        scenario.arguments({**scenario.defaults(), "sigma": math.inf})


def test_only_the_rl_learner_needs_the_rl_extra():
    assert dp_learning.dp_rl_learner.requires == ("rl",)
    assert all(scenario.requires == () for scenario in FAST_SCENARIOS)


@pytest.mark.slow
def test_rl_learner_quick_run():
    results, trajectories = _run_quick(dp_learning.dp_rl_learner)
    assert COLUMNS["dp-rl-learner"] <= set(results.columns)
    assert 0.5 < results["bayesian_accuracy"].iloc[0] <= 1.0
    assert set(trajectories["policy"]) == {"ppo", "bayesian"}
    assert "dp_rl_learner" in dp_learning.dp_rl_learner.plot(results, trajectories)
