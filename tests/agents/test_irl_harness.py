"""The robustness harness shows the paper's results on random MDPs."""

import numpy as np
import pytest

from seqrl.agents.irl_harness import (
    assert_robust,
    evaluate_robustness,
    random_mdp_sampler,
    scaling_counterexample,
)
from seqrl.mechanisms.irl_behaviour import BehaviouralModel
from seqrl.mechanisms.irl_mdp import random_transition

SAMPLER = random_mdp_sampler(8, 3)


@pytest.mark.parametrize("kind", ["boltzmann", "mce"])
def test_temperature_misspecification_is_harmless(kind):
    truth = BehaviouralModel(kind, 3.0, 0.9)
    assumed = BehaviouralModel(kind, 0.3, 0.9)
    report = assert_robust(truth, assumed, SAMPLER, 20, 1e-6, np.random.default_rng(0))
    assert report.worst_case < 1e-6
    assert report.per_mdp["regret_representative"].max() < 1e-9


def test_discount_misspecification_fails_with_a_readable_message():
    truth = BehaviouralModel("boltzmann", 1.0, 0.9)
    assumed = BehaviouralModel("boltzmann", 1.0, 0.89)
    with pytest.raises(
        AssertionError, match=r"is NOT 0.05-robust.*worst-case STARC distance 0\.\d+ on MDP #\d+"
    ):
        assert_robust(truth, assumed, SAMPLER, 10, 0.05, np.random.default_rng(1))


def test_small_discount_and_dynamics_errors_have_large_worst_cases():
    truth = BehaviouralModel("mce", 1.0, 0.9)
    report = evaluate_robustness(
        truth, BehaviouralModel("mce", 1.0, 0.899), SAMPLER, 10, 0.05, np.random.default_rng(2)
    )
    assert report.per_mdp["starc_representative"].max() < 1e-6  # the caution: R^ is still exact
    assert report.per_mdp["starc_supremum"].min() > 0.6  # however small the error
    dynamics = evaluate_robustness(
        truth, truth, SAMPLER, 10, 0.05, np.random.default_rng(3), transition_noise=0.01
    )
    assert dynamics.per_mdp["starc_worst"].min() > 0.9
    assert not dynamics.robust


def test_model_misspecification_between_boltzmann_and_mce_is_not_free():
    report = evaluate_robustness(
        BehaviouralModel("mce", 1.0, 0.9),
        BehaviouralModel("boltzmann", 1.0, 0.9),
        SAMPLER,
        10,
        0.0,
        np.random.default_rng(4),
    )
    assert report.per_mdp["starc_representative"].min() > 1e-4
    assert report.per_mdp["policy_distance"].max() < 1e-9  # R^ fits the data perfectly


def test_policy_perturbation_and_report_fields():
    truth = BehaviouralModel("boltzmann", 1.0, 0.9)
    report = evaluate_robustness(
        truth, truth, SAMPLER, 6, 0.01, np.random.default_rng(5), policy_perturbation=0.1
    )
    assert report.per_mdp["starc_representative"].min() > 0.01
    metrics = report.metrics()
    assert metrics["robust"] == 0.0
    assert set(report.per_mdp.columns) >= {
        "starc_min",
        "starc_typical",
        "starc_worst",
        "epic_representative",
    }


def test_batched_and_per_mdp_runs_agree():
    truth, assumed = (
        BehaviouralModel("boltzmann", 1.0, 0.9),
        BehaviouralModel("boltzmann", 2.0, 0.9),
    )
    batched = evaluate_robustness(truth, assumed, SAMPLER, 6, 0.1, np.random.default_rng(6))
    single = evaluate_robustness(
        truth, assumed, SAMPLER, 6, 0.1, np.random.default_rng(6), batch_size=1
    )
    np.testing.assert_allclose(
        batched.per_mdp["regret_representative"], single.per_mdp["regret_representative"], atol=1e-9
    )


@pytest.mark.parametrize("kind", ["boltzmann", "mce"])
def test_scaling_construction_defeats_continuous_models(kind):
    rng = np.random.default_rng(7)
    transition = random_transition(rng, 8, 3)
    reward = rng.normal(size=transition.shape)
    for delta in (0.1, 0.01, 0.001):
        example = scaling_counterexample(
            BehaviouralModel(kind, 1.0, 0.9), transition, reward, delta
        )
        assert example.policy_distance <= delta
        assert example.starc_distance == pytest.approx(1.0)


def test_bad_harness_inputs():
    truth = BehaviouralModel()
    with pytest.raises(ValueError, match="n_mdps must be >= 1"):
        evaluate_robustness(truth, truth, SAMPLER, 0, 0.1)
    with pytest.raises(ValueError, match=r"epsilon must be in \[0, 1\]"):
        evaluate_robustness(truth, truth, SAMPLER, 1, 2.0)
    with pytest.raises(ValueError, match=r"tau_noise must be in \[0, 1\]"):
        evaluate_robustness(truth, truth, SAMPLER, 1, 0.1, transition_noise=-0.1)
    with pytest.raises(ValueError, match="continuous model"):
        scaling_counterexample(
            BehaviouralModel("optimal"), np.full((2, 2, 2), 0.5), np.ones((2, 2, 2)), 0.1
        )
