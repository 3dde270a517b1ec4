"""The IRL scenarios: contract (names, columns, bad input) and the paper's claims in their output."""

import dataclasses

import matplotlib
import numpy as np
import pandas as pd
import pytest

from seqrl.mechanisms.irl_behaviour import BehaviouralModel
from seqrl.scenarios.core import BadInput
from seqrl.scenarios.library.irl import (
    MisspecificationArgs,
    irl_mce_wrong_discount,
    irl_misspecification,
    irl_perturbation,
)

matplotlib.use("Agg")

SMALL = {"n_states": 8, "n_actions": 3, "n_mdps": 6}


def _arguments(scenario, **overrides):
    """The typed arguments of one task, built by the engine from flat values."""
    return scenario.arguments(overrides)


def test_misspecification_contract_and_claims():
    names = {param.name for param in irl_misspecification.params}
    assert names == {
        "true_model", "assumed_model", "gamma_true", "gamma_assumed", "temperature_true",
        "temperature_assumed", "tau_noise", "n_states", "n_actions", "n_mdps",
    }  # fmt: skip
    rows = []
    for overrides in (
        {"temperature_assumed": 0.2},  # temperature only: harmless
        {"gamma_assumed": 0.899},  # a tiny discount error
        {"tau_noise": 0.01},  # a tiny dynamics error
    ):
        args = _arguments(irl_misspecification, **SMALL, **overrides)
        metrics = irl_misspecification.run(args, np.random.default_rng(0))
        assert {"starc_representative", "starc_min", "starc_worst", "epic_representative",
                "regret_representative"} <= set(metrics)  # fmt: skip
        rows.append({**dataclasses.asdict(args), **metrics, "seed_index": 0})
    harmless, discount, dynamics = rows
    assert harmless["starc_worst"] < 1e-6
    assert discount["starc_representative"] < 1e-6 < 0.3 < discount["starc_worst"]
    assert discount["starc_supremum"] > 0.7
    assert dynamics["starc_worst"] > 0.9
    figures = irl_misspecification.plot(pd.DataFrame(rows), None)
    assert {"irl_discount", "irl_dynamics", "irl_temperature"} <= set(figures)


def test_misspecification_is_deterministic_given_rng():
    args = _arguments(irl_misspecification, **SMALL, gamma_assumed=0.8)
    first = irl_misspecification.run(args, np.random.default_rng(3))
    second = irl_misspecification.run(args, np.random.default_rng(3))
    assert first == second


def test_arguments_build_the_models_and_the_sampler():
    args = _arguments(
        irl_misspecification, true_model="mce", temperature_true=2.0, gamma_assumed=0.8, n_states=5
    )
    assert isinstance(args, MisspecificationArgs)
    assert args.models() == (
        BehaviouralModel("mce", 2.0, 0.9),
        BehaviouralModel("boltzmann", 1.0, 0.8),
    )
    mdp = args.mdp_sampler()(np.random.default_rng(0))
    assert (mdp.n_states, mdp.n_actions, mdp.discount) == (5, 4, 0.9)  # the TRUE discount
    # irl-perturbation: the reward scale multiplies the same N(0, 1) draws.
    unit, scaled = (
        _arguments(irl_perturbation, scale=scale).mdp_sampler()(np.random.default_rng(4))
        for scale in (1.0, 0.01)
    )
    np.testing.assert_array_equal(scaled.transition, unit.transition)
    np.testing.assert_allclose(scaled.reward, 0.01 * unit.reward, rtol=1e-15)
    # irl-mce-wrong-discount: one state-only goal reward in the true-discount gridworld.
    wrong = _arguments(irl_mce_wrong_discount, grid_size=3, gamma_true=0.8, gamma_assumed=0.6)
    assert [model.discount for model in wrong.models()] == [0.8, 0.6]
    mdp, reward = wrong.sample_task(np.random.default_rng(5))
    assert (mdp.n_states, mdp.discount) == (9, 0.8)
    assert reward.shape == mdp.transition.shape
    np.testing.assert_array_equal(reward, np.broadcast_to(reward[:, :1, :1], reward.shape))  # r(s)
    assert sorted(reward[:, 0, 0]) == [0.0] * 8 + [1.0]  # +1 in one state


def test_perturbation_shows_the_scaling_construction():
    rows = []
    for scale in (0.01, 1.0):
        args = _arguments(irl_perturbation, **SMALL, delta=0.01, scale=scale)
        metrics = irl_perturbation.run(args, np.random.default_rng(1))
        assert metrics["starc_scaling"] == pytest.approx(1.0)
        assert metrics["scaling_policy_distance"] <= 0.01
        rows.append({**dataclasses.asdict(args), **metrics, "seed_index": 0})
    # The same delta costs far more when the reward is small (policies near uniform).
    assert rows[0]["starc_worst"] > rows[1]["starc_worst"] + 0.3
    assert "irl_perturbation" in irl_perturbation.plot(pd.DataFrame(rows), None)


def test_mce_wrong_discount_scenario():
    rows = []
    for gamma_assumed in (0.9, 0.5):
        args = _arguments(
            irl_mce_wrong_discount, n_states=6, n_actions=3, n_mdps=2, gamma_assumed=gamma_assumed
        )
        output = irl_mce_wrong_discount.run(args, np.random.default_rng(2))
        rows.append({**dataclasses.asdict(args), **output.metrics, "seed_index": 0})
    assert rows[0]["starc"] < 1e-4
    assert rows[1]["starc"] > 10 * rows[0]["starc"] + 1e-3
    assert "irl_mce_wrong_discount" in irl_mce_wrong_discount.plot(pd.DataFrame(rows), None)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("gamma_true", 1.0, "gamma_true=1.0"),
        ("gamma_assumed", -0.1, "gamma_assumed"),
        ("temperature_true", 0.0, "temperature_true"),
        ("tau_noise", 1.5, "tau_noise"),
        ("true_model", "human", "true_model"),
    ],
)
def test_bad_values_name_the_parameter(name, value, message):
    with pytest.raises(BadInput, match=message):
        irl_misspecification.param(name).validate(value)


@pytest.mark.parametrize(
    ("scenario", "name", "choices"),
    [
        (irl_misspecification, "true_model", ("optimal", "boltzmann", "mce")),
        (irl_misspecification, "assumed_model", ("optimal", "boltzmann", "mce")),
        (irl_perturbation, "model", ("boltzmann", "mce")),
        (irl_mce_wrong_discount, "environment", ("gridworld", "random")),
        (irl_mce_wrong_discount, "state_reward", ("goal", "gaussian")),
    ],
)
def test_literal_fields_give_the_choices(scenario, name, choices):
    assert scenario.param(name).choices == choices
    with pytest.raises(BadInput, match=name):
        scenario.param(name).parse("human")


@pytest.mark.parametrize(
    ("scenario", "name"),
    [
        (irl_misspecification, "temperature_true"),
        (irl_perturbation, "temperature"),
        (irl_mce_wrong_discount, "temperature"),
    ],
)
def test_an_infinite_temperature_is_bad_input(scenario, name):
    # inf passes the bound "> 0"; the behavioural model's own check refuses it in __post_init__.
    with pytest.raises(BadInput, match="temperature must be > 0"):
        scenario.arguments({name: float("inf")})
