"""The IRL scenarios: contract (names, columns, bad input) and the paper's claims in their output."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

from seqrl.scenarios.core import BadInput
from seqrl.scenarios.library.irl import (
    irl_mce_wrong_discount,
    irl_misspecification,
    irl_perturbation,
)

matplotlib.use("Agg")

SMALL = {"n_states": 8, "n_actions": 3, "n_mdps": 6}


def _params(scenario, **overrides):
    params = {param.name: param.default for param in scenario.params}
    params.update(overrides)
    return params


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
        params = _params(irl_misspecification, **SMALL, **overrides)
        metrics = irl_misspecification.run(params, np.random.default_rng(0))
        assert {"starc_representative", "starc_min", "starc_worst", "epic_representative",
                "regret_representative"} <= set(metrics)  # fmt: skip
        rows.append({**params, **metrics, "seed_index": 0})
    harmless, discount, dynamics = rows
    assert harmless["starc_worst"] < 1e-6
    assert discount["starc_representative"] < 1e-6 < 0.3 < discount["starc_worst"]
    assert discount["starc_supremum"] > 0.7
    assert dynamics["starc_worst"] > 0.9
    figures = irl_misspecification.plot(pd.DataFrame(rows), None)
    assert {"irl_discount", "irl_dynamics", "irl_temperature"} <= set(figures)


def test_misspecification_is_deterministic_given_rng():
    params = _params(irl_misspecification, **SMALL, gamma_assumed=0.8)
    first = irl_misspecification.run(params, np.random.default_rng(3))
    second = irl_misspecification.run(params, np.random.default_rng(3))
    assert first == second


def test_perturbation_shows_the_scaling_construction():
    rows = []
    for scale in (0.01, 1.0):
        params = _params(irl_perturbation, **SMALL, delta=0.01, scale=scale)
        metrics = irl_perturbation.run(params, np.random.default_rng(1))
        assert metrics["starc_scaling"] == pytest.approx(1.0)
        assert metrics["scaling_policy_distance"] <= 0.01
        rows.append({**params, **metrics, "seed_index": 0})
    # The same delta costs far more when the reward is small (policies near uniform).
    assert rows[0]["starc_worst"] > rows[1]["starc_worst"] + 0.3
    assert "irl_perturbation" in irl_perturbation.plot(pd.DataFrame(rows), None)


def test_mce_wrong_discount_scenario():
    rows = []
    for gamma_assumed in (0.9, 0.5):
        params = _params(
            irl_mce_wrong_discount, n_states=6, n_actions=3, n_mdps=2, gamma_assumed=gamma_assumed
        )
        output = irl_mce_wrong_discount.run(params, np.random.default_rng(2))
        rows.append({**params, **output.metrics, "seed_index": 0})
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
